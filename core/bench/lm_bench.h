// The language-model workloads of `distill bench` (issue 21), on the shapes of the plain
// PyTorch reference ../shared/bench/reference_lm_kd.py so that the two compare as a ratio:
// byte tokens of Debian's fortunes, GPT teacher 4 layers x 256 (4 heads, dropout 0.1), student
// 2 x 128 (2 heads, no dropout), context 128, batch 32, AdamW (lr 1e-3, weight decay 0.01), KD
// at T = 2, alpha = 0.9. One torch thread unless BenchOptions::threads says otherwise (the
// reference is run with --threads 1).
//
//   lm         through the real Trainer: teacher training; KD with the teacher run at every step
//              (kd_uncached), with the in-memory logit cache (kd_cached) and with the top-k file
//              (kd_topk_cache: distill.teacher_cache topk, k = 20; logits access, so the KD
//              loss reads the cached top 20 with the rest of the mass spread evenly); then
//              generation (core/tasks/lm/generate.h) of new_tokens tokens after a prompt of
//              prompt_tokens, greedy, with and without the KV cache, by the teacher's shape
//              with a context of prompt + new tokens. A matrix-multiply peak is measured under
//              the workload's threads: a 1024^3 product and the teacher's own step GEMMs
//              (4,096 rows). FLOPs per token as nanoGPT's estimate_mfu: 6 N + 12 L T d trained
//              (N the parameters without the position embedding, the tied head counted once;
//              L layers, T context, d width), a third of it for a forward pass.
//   lm_memory  one KD step (teacher run at the step, no cache) at a 50,000-token vocabulary,
//              batch 8, context 256, through the Trainer: resident memory when the student
//              phase began and the process's peak after the step. Run it in a process of its
//              own (`distill bench -w lm_memory`), so that the peak is this step's.
//
// Thread contract: as bench.h.
#pragma once

#include "core/bench/bench_support.h"

namespace distill::bench {

// Throw ConfigError for bad options, DataError when the corpus is missing.
BenchWorkload runLmWorkload(const BenchContext& context);
BenchWorkload runLmMemoryWorkload(const BenchContext& context);

}  // namespace distill::bench
