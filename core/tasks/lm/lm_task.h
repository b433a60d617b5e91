// Causal language modelling: the workbench's second task. Text from a corpus
// (core/tasks/lm/corpus.h: Debian's fortunes by default, whole documents held out), byte or
// char tokens packed into fixed blocks, decoder-only transformers (core/tasks/lm/gpt.h) as
// teacher and student, next-token targets at every position, and a streaming evaluation of
// validation cross-entropy and perplexity, next-token accuracy, and per-token agreement, KL
// and top-5 overlap between student and teacher. Token-level distillation needs nothing more:
// the trainer hands every loss of core/losses the [tokens, vocab] rows.
//
// Thread contract: as every Task (core/tasks/task.h), one thread at a time.
#pragma once

#include "core/tasks/lm/corpus.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/task.h"

namespace distill {

// The GPT a role of an lm run is built as: `model`'s layers, heads, width and dropout over the
// tokenizer's vocabulary and lm.context. Throws ModelError naming `role`.arch or .source for a
// model the task cannot build.
GptConfig lmGptConfig(const ModelConfig& model, const std::string& source, const std::string& role,
                      const LmConfig& lm, const Tokenizer& tokenizer);

class LmTask : public Task {
 public:
  // Reads and packs the corpus `config.lm` names. Throws DataError naming the file or key.
  explicit LmTask(const ExperimentConfig& config);

  std::string name() const override { return "lm"; }
  Model buildTeacher(const ExperimentConfig& config) override;
  Model buildStudent(const ExperimentConfig& config) override;
  void prepare(const torch::Device& device) override;
  std::unique_ptr<TrainSplit> trainSplit(uint64_t seed) override;
  Batch probeBatch() override;
  std::unique_ptr<Evaluator> evaluator() override;
  std::map<std::string, std::string> describe() const override;
  std::string units() const override { return "tokens"; }

  const Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  Model build(const ModelConfig& model, const std::string& source, const std::string& role);

  LmConfig lm_;
  GenerationConfig generation_;
  GenerationConfig sample_generation_;  // the evaluation's samples: lengths fitted to the context
  std::vector<torch::Tensor> eval_prompts_;  // int64 [P_i] each
  std::string corpus_path_;
  size_t documents_ = 0, validation_documents_ = 0;
  Tokenizer tokenizer_;
  TokenBlocks train_, validation_;
};

}  // namespace distill
