// The language-model task's generated text: training batches written by the models
// (sequence-level and on-policy distillation) and the fixed prompts both models complete at
// each evaluation.
//
// Sequence-level distillation (Kim & Rush 2016, "Sequence-Level Knowledge Distillation"): the
// teacher completes prompts drawn from the training corpus and the student learns those
// completions by cross-entropy (with `text` access that is all it sees; with `logits` or `topk`
// the token-level loss is applied on the same positions too). On-policy distillation (GKD,
// Agarwal et al. 2024, "On-Policy Distillation of Language Models"): with probability lambda
// (generation.on_policy) a batch is the student's own completions, which the token-level loss
// then scores against the teacher's distributions at every generated position; the other batches
// are the teacher's completions (sequence_kd) or corpus blocks.
//
// A generated batch is [prompt | completion]: the prompt is the first prompt_tokens tokens of
// the corpus block the sampler drew, the completion new_tokens sampled tokens (temperature,
// top-p; KV cache). Only targets inside the completion count (Batch::mask); a completion that
// writes the document separator ends there: the separator counts, what follows does not.
//
// Thread contract: as every TrainSplit and Evaluator, one thread at a time.
#pragma once

#include <ATen/core/Generator.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/tasks/lm/corpus.h"
#include "core/tasks/task.h"

namespace distill {

// The split of a student phase whose batches the models write, around the corpus split
// (`corpus`, which gives the prompts and the off-policy corpus batches). Its draws (which
// batches are on-policy, the sampled tokens) come from its own generator seeded by `seed`,
// saved in the training state, so a resumed run writes the same text.
std::unique_ptr<TrainSplit> makeGeneratingSplit(std::unique_ptr<TrainSplit> corpus, const GenerationConfig& generation,
                                                const Tokenizer& tokenizer, int64_t context, uint64_t seed);

// Whether a run's student phase trains on generated text.
bool trainsOnGeneratedText(const GenerationConfig& generation);

// Up to `count` prompts (int64 [P_i] each), evenly spaced over `texts`. Plain text: the first
// `length` tokens of the texts at least that long. Instruction data (`whole`: the texts are the
// validation documents' prompt parts): each prompt entire, those of 1 to `length` tokens.
std::vector<torch::Tensor> evaluationPrompts(const std::vector<std::string>& texts, const Tokenizer& tokenizer,
                                             int64_t length, int64_t count, bool whole = false);

// Completes the evaluation prompts with one model, greedy and sampled (temperature and top_p of
// `generation`, a fixed seed, so that evaluations differ only by the model; prompts of one
// length are completed as one batch), at most generation.new_tokens and never beyond `context`,
// and gives each completion token's probability under the writer (p) and, when `other` is
// given, under the other model (q).
std::vector<GeneratedText> completePrompts(ModelImpl& writer, ModelImpl* other, const std::string& role,
                                           const std::vector<torch::Tensor>& prompts, const Tokenizer& tokenizer,
                                           const GenerationConfig& generation, int64_t context);

}  // namespace distill
