// The fidelity analysis of a language-model pair, accumulated chunk by chunk of validation
// blocks, so that [blocks, context, vocab] logits never exist whole: per position, agreement,
// KL(teacher || student), accuracy and cross-entropy of both, top-5 overlap, summed into
// position, teacher-confidence and token-frequency buckets and into reliability bins; the
// disagreeing positions of largest KL kept with their top-5 tokens. What it produces is
// core/fidelity/lm_fidelity_report.h; analyzeRun() (run_fidelity.h) drives it for a stored run.
//
// A models' vocabulary may be padded beyond the tokenizer's ids (a Hugging Face checkpoint's
// vocab_size above its tokenizer's: Qwen2's 151,936 rows for 151,665 tokens; core/tasks/lm/
// lm_task.h). Agreement, KL, top-5 overlap, accuracy, cross-entropy and calibration are computed
// over the whole model vocabulary, padding rows included: they are the distributions the models
// define, the ones the distillation loss trained and the run's evaluation measured
// (eval/token_agreement and eval/token_kl, core/metrics/streaming.h's AgreementSums), so the
// analysis agrees with the run's numbers on the same blocks. A padding row that is a model's
// arg-max counts as its prediction (and is never the true next token). Padding ids are no
// tokens: the frequency buckets cover the tokenizer's ids only, and a padding id among a
// disagreement's top tokens is shown as "<padding N>", never decoded as text.
//
// Thread contract: one thread at a time; the sums live on the CPU in float64.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/fidelity/lm_fidelity_report.h"
#include "core/tasks/lm/corpus.h"

namespace distill {

// The vocabulary in decades of training frequency: bucket b holds the tokens whose share of
// `counts`' total is in [10^-(b+1), 10^-b) (the first also holds shares up to 1), down to
// 10^-6; then one bucket for shares below that, then "unseen" for a count of 0.
struct FrequencyBuckets {
  std::vector<int> bucket_of_token;  // per token id
  std::vector<LmBucket> buckets;     // label, lower/upper share and token_types filled
  int64_t total = 0;                 // the tokens counted
};
// `counts` per token id (its size is the vocabulary).
FrequencyBuckets frequencyBuckets(const std::vector<int64_t>& counts);
// How often each token id occurs in `documents`, each followed by the separator (as packed).
std::vector<int64_t> tokenCounts(const std::vector<std::string>& documents, const Tokenizer& tokenizer);

// A token as a person can read it in a list: " " as "␣", "\n" as "↵", tab as "⇥", the
// separator as "¶¶" (what decodes as a blank line between documents), a byte that is not a
// character alone (part of a UTF-8 sequence) as "<0xE2>", other control characters escaped; an
// id beyond the tokenizer's (a model's padding row) as "<padding N>".
std::string displayTokenText(const Tokenizer& tokenizer, int64_t token);

class LmFidelitySums {
 public:
  // `context`: the blocks' length; `frequency`: the buckets of the true next token, over the
  // tokenizer's ids (the logits may have more rows: padding); `keep`: how many disagreements of
  // largest KL to keep.
  LmFidelitySums(int64_t context, FrequencyBuckets frequency, int64_t keep);

  // One chunk of blocks: logits float [B, T, V] of both models on `inputs` int64 [B, T] with
  // next-token `targets` [B, T] and `mask` (bool [B, T], undefined: every position counts).
  // `block_ids` number the chunk's blocks as reported with each disagreement (empty: counting
  // on from the blocks added so far). Throws std::invalid_argument naming the tensor whose shape
  // does not fit (logits with fewer rows than the frequencies' tokens included), or the targets
  // when one is no token of the frequencies.
  void add(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits, const torch::Tensor& inputs,
           const torch::Tensor& targets, const torch::Tensor& mask, const std::vector<int64_t>& block_ids = {});

  // The analysis so far, texts decoded by `tokenizer` (blocks, blocks_available, train_tokens
  // and seconds are the caller's to fill).
  LmFidelityAnalysis result(const Tokenizer& tokenizer) const;

 private:
  struct Kept {
    LmDisagreement entry;
    std::vector<int64_t> before, after;  // token ids, decoded in result()
  };

  int64_t context_;
  FrequencyBuckets frequency_;
  int64_t keep_;
  int64_t vocab_ = 0;
  // Sums per position (context), per teacher-confidence tenth, per frequency bucket:
  // [count, agree, kl, teacher correct, student correct] each.
  std::vector<std::array<double, 5>> position_, confidence_, frequency_sums_;
  // Reliability per model: [count, confidence, correct] per bin.
  std::vector<std::array<double, 3>> teacher_bins_, student_bins_;
  double teacher_ce_ = 0.0, student_ce_ = 0.0, overlap_ = 0.0;
  int64_t disagreements_ = 0;
  int64_t blocks_added_ = 0;
  std::vector<Kept> kept_;  // the largest KL first, at most keep_
};

}  // namespace distill
