// Causal language modelling: the workbench's second task. Text from a corpus
// (core/tasks/lm/corpus.h: Debian's fortunes by default, whole documents held out), tokens
// (core/tasks/lm/tokenizer.h) packed into fixed blocks, decoder-only transformers as teacher and
// student (the task's GPT, core/tasks/lm/gpt.h; Hugging Face models of hf:<folder> sources and
// students made of the teacher's blocks, core/hf/hf_source.h), next-token targets at every
// position, and a streaming evaluation of
// validation cross-entropy and perplexity, next-token accuracy, and per-token agreement, KL
// and top-5 overlap between student and teacher. Token-level distillation needs nothing more:
// the trainer hands every loss of core/losses the [tokens, vocab] rows.
//
// Thread contract: as every Task (core/tasks/task.h), one thread at a time.
#pragma once

#include <optional>

#include "core/hf/hf_config.h"
#include "core/tasks/lm/corpus.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/task.h"

namespace distill {

// The GPT a role of an lm run is built as: `model`'s layers, heads, width and dropout over the
// tokenizer's vocabulary and lm.context. Throws ModelError naming `role`.arch or .source for a
// model the task cannot build.
GptConfig lmGptConfig(const ModelConfig& model, const std::string& source, const std::string& role,
                      const LmConfig& lm, const Tokenizer& tokenizer);

// Models from Hugging Face folders and models the workbench builds share one vocabulary, so that
// teacher and student logits line up: an hf: teacher's vocab_size (else an hf: student's), which
// may exceed the tokenizer's ids (padding rows: Qwen2's 151,936 for 151,665 tokens), else the
// tokenizer's.
//
// With teacher.source hf:<folder> the teacher is built from the folder's config.json with fresh
// weights, frozen (eval, no gradients), and the trainer loads the folder's weights
// (TrainerOptions::teacher_weights is the folder; CausalLmImpl::loadCheckpoint reads it). A
// student of student.source hf:<folder> is loaded here, trainable; one of teacher-blocks:<k> is
// made from the teacher buildTeacher() returned, with the teacher's weights loaded into it from
// config.teacher.weights first (the trainer's load of the same weights is then a repeat); with
// teacher.source train, from the untrained teacher, and teacherTrained() copies the trained
// teacher's blocks into it after phase 1 (a run resumed in phase 2 loads the student instead).
// describe() records the Hugging Face config.json of such models (teacher_hf_config,
// student_hf_config), from which a stored run rebuilds them (core/tasks/lm/stored_model.h).
// student.gradient_checkpointing switches the student's gradient checkpointing on
// (CausalLmImpl::setGradientCheckpointing), whatever its source; teacher.dtype is the trainer's
// (it freezes the teacher after loading or training it: core/models/model.h's freezeInDtype()).
class LmTask : public Task {
 public:
  // Reads and packs the corpus `config.lm` names, with the tokenizer runTokenizerSpec() picks.
  // Throws DataError naming the file or key; ConfigError naming the key for an hf: source the
  // workbench cannot read, a tokenizer other than an hf: model's own (both named), a model
  // vocabulary smaller than the tokenizer's (both sizes), a context beyond the model's positions.
  explicit LmTask(const ExperimentConfig& config);

  std::string name() const override { return "lm"; }
  Model buildTeacher(const ExperimentConfig& config) override;
  Model buildStudent(const ExperimentConfig& config) override;
  std::string teacherTrained(const ModelImpl& teacher, ModelImpl& student) override;
  void prepare(const torch::Device& device) override;
  std::unique_ptr<TrainSplit> trainSplit(uint64_t seed) override;
  Batch probeBatch() override;
  std::unique_ptr<Evaluator> evaluator() override;
  std::map<std::string, std::string> describe() const override;
  std::string units() const override { return "tokens"; }

  const Tokenizer& tokenizer() const { return tokenizer_; }
  // The models' vocabulary (see above).
  int64_t modelVocabulary() const { return vocab_; }

 private:
  // Checks the hf: sources against the tokenizer and the context; sets vocab_.
  void checkModelSources(const ExperimentConfig& config);
  // The student of student.source, before student.gradient_checkpointing is applied.
  Model buildStudentModel(const ExperimentConfig& config);
  // The task's GPT of `model`'s keys over the models' vocabulary.
  Model buildGpt(const ModelConfig& model, const std::string& source, const std::string& role);

  LmConfig lm_;  // lm.tokenizer as the run uses it (runTokenizerSpec)
  std::optional<HfConfig> teacher_hf_, student_hf_;  // config.json of hf: sources
  int64_t vocab_ = 0;
  Model teacher_;  // as buildTeacher() returned it
  int64_t blocks_of_trained_teacher_ = 0;  // k of a teacher-blocks:<k> student of a teacher trained here
  std::string teacher_hf_config_, student_hf_config_;  // what describe() records (one-line JSON)
  GenerationConfig generation_;
  GenerationConfig sample_generation_;  // the evaluation's samples: lengths fitted to the context
  std::vector<torch::Tensor> eval_prompts_;  // int64 [P_i] each
  std::string corpus_path_;
  size_t documents_ = 0, validation_documents_ = 0;
  Tokenizer tokenizer_;
  TokenBlocks train_, validation_;
};

}  // namespace distill
