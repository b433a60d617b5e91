#include "core/tasks/lm/lm_task.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/hf/hf_source.h"
#include "core/hf/hf_weights.h"
#include "core/hf/layer_subset.h"
#include "core/metrics/metrics.h"
#include "core/metrics/streaming.h"
#include "core/models/eval_scope.h"
#include "core/models/factory.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/lm/lm_generation.h"
#include "core/tasks/lm/lm_metrics.h"
#include "core/tasks/lm/torchscript_lm.h"

namespace distill {

namespace {

class LmTrainSplit : public TrainSplit {
 public:
  LmTrainSplit(const TokenBlocks& blocks, const torch::Device& device) : blocks_(blocks), device_(device) {}
  int64_t size() const override { return blocks_.inputs.size(0); }
  torch::Device indexDevice() const override { return blocks_.inputs.device(); }
  Batch batch(const torch::Tensor& indices) override {
    Batch batch;
    batch.inputs = blocks_.inputs.index_select(0, indices).to(device_);
    batch.targets = blocks_.targets.index_select(0, indices).to(device_);
    if (blocks_.mask.defined()) {  // instruction documents: prompt targets do not count
      batch.mask = blocks_.mask.index_select(0, indices).to(device_);
      batch.units = batch.mask.sum().item<int64_t>();
    } else {
      batch.units = batch.targets.numel();  // every position of a packed block is a target
    }
    return batch;
  }
  bool fixedInputs() const override { return true; }  // blocks are cut at fixed offsets

 private:
  TokenBlocks blocks_;
  torch::Device device_;
};

// Validation blocks in chunks of evaluationChunk() sequences; the teacher runs beside each
// student chunk (its [blocks, context, vocab] outputs are never kept whole).
class LmEvaluator : public Evaluator {
 public:
  LmEvaluator(const TokenBlocks& validation, std::vector<torch::Tensor> prompts, const Tokenizer& tokenizer,
              const GenerationConfig& generation, int64_t context)
      : validation_(validation), prompts_(std::move(prompts)), tokenizer_(tokenizer), generation_(generation), context_(context) {}

  // Rank r of a data-parallel run's `world` evaluates the validation blocks [r*N/world,
  // (r+1)*N/world) and the sums are added over the ranks; rank 0 alone writes the samples
  // (it makes the single process's generation calls; the others' texts would be dropped).
  bool shardAcross(int rank, int world, std::function<void(torch::Tensor&)> sum_over_ranks) override {
    rank_ = rank;
    world_ = world;
    sum_over_ranks_ = std::move(sum_over_ranks);
    return true;
  }

  std::vector<GeneratedText> teacherTexts(ModelImpl& teacher) override {
    if (rank_ != 0) return {};
    return completePrompts(teacher, nullptr, "teacher", prompts_, tokenizer_, generation_, context_);
  }
  std::vector<GeneratedText> studentTexts(ModelImpl& student, ModelImpl& teacher) override {
    if (rank_ != 0) return {};
    return completePrompts(student, &teacher, "student", prompts_, tokenizer_, generation_, context_);
  }

  MetricValues evaluateTeacher(ModelImpl& teacher) override {
    PredictionSums sums(/*calibration_bins=*/15);
    forEachChunk(teacher, [&](int64_t begin, int64_t end) {
      sums.add(outputs(teacher, begin, end), validation_.targets.slice(0, begin, end), mask(begin, end));
    });
    if (sum_over_ranks_) sums.reduce(sum_over_ranks_);
    const double ce = sums.crossEntropy();
    return {{metric_key::kTeacherValLoss, ce},
            {metric_key::kTeacherPerplexity, std::exp(ce)},
            {metric_key::kTeacherTokenAcc, sums.accuracy()}};
  }

  MetricValues evaluateStudent(ModelImpl& student, ModelImpl& teacher) override {
    PredictionSums sums(/*calibration_bins=*/15);
    AgreementSums agreement(/*top_k=*/5);
    forEachChunk(student, [&](int64_t begin, int64_t end) {
      const auto student_logits = outputs(student, begin, end);
      sums.add(student_logits, validation_.targets.slice(0, begin, end), mask(begin, end));
      agreement.add(outputs(teacher, begin, end), student_logits, mask(begin, end));
    });
    if (sum_over_ranks_) {
      sums.reduce(sum_over_ranks_);
      agreement.reduce(sum_over_ranks_);
    }
    const double ce = sums.crossEntropy();
    return {{metric_key::kStudentValLoss, ce},
            {metric_key::kStudentPerplexity, std::exp(ce)},
            {metric_key::kStudentTokenAcc, sums.accuracy()},
            {metric_key::kTokenAgreement, agreement.agreement()},
            {metric_key::kTokenKl, agreement.kl()},
            {metric_key::kTokenTopFiveOverlap, agreement.topKOverlap()}};
  }

 private:
  // `use(begin, end)` over this rank's validation blocks (all of them in one process), in chunks.
  template <typename Use>
  void forEachChunk(ModelImpl& model, Use&& use) {
    const int64_t chunk = std::max<int64_t>(1, evaluationChunk(model));
    const int64_t n = validation_.inputs.size(0);
    const int64_t first = n * rank_ / world_, last = n * (rank_ + 1) / world_;
    for (int64_t begin = first; begin < last; begin += chunk) use(begin, std::min(begin + chunk, last));
  }
  // The positions that count (responses, plain text); undefined: all.
  torch::Tensor mask(int64_t begin, int64_t end) const {
    return validation_.mask.defined() ? validation_.mask.slice(0, begin, end) : torch::Tensor();
  }
  torch::Tensor outputs(ModelImpl& model, int64_t begin, int64_t end) {
    torch::NoGradGuard no_grad;
    const EvalScope eval(model);
    return model.forward(validation_.inputs.slice(0, begin, end));
  }

  int rank_ = 0, world_ = 1;  // a data-parallel run's rank and world (shardAcross)
  std::function<void(torch::Tensor&)> sum_over_ranks_;
  TokenBlocks validation_;
  std::vector<torch::Tensor> prompts_;  // the fixed evaluation prompts, int64 [P_i] each
  Tokenizer tokenizer_;
  GenerationConfig generation_;
  int64_t context_;
};

// The config.json a stored run rebuilds `model` from, on one line: its architecture, with the
// token ids (and sliding window) of the Hugging Face config it came from.
std::string recordedHfConfig(const ModelImpl& model, const HfConfig* source) {
  HfConfig config = hfConfigOf(model);
  if (source) {
    config.bos_token_id = source->bos_token_id;
    config.eos_token_ids = source->eos_token_ids;
    if (source->architecture == config.architecture) config.sliding_window = source->sliding_window;
  }
  return nlohmann::json::parse(hfConfigJson(config)).dump();
}

// Where the teacher's weights are before the trainer loads them: as the run resolved them, else
// what the source names by itself (an hf: folder, a .pt path); empty for train, run:<id>
// unresolved and torchscript:.
std::string teacherWeights(const ExperimentConfig& config) {
  const std::string& source = config.teacher.source;
  if (!config.teacher.weights.empty()) return config.teacher.weights;
  if (isHfSource(source)) return hfSourceFolder(source);
  if (source == "train" || source.rfind("run:", 0) == 0 || isTorchScriptSource(source)) return {};
  return source;
}

}  // namespace

LmTask::LmTask(const ExperimentConfig& config)
    : lm_(config.lm), generation_(config.generation), corpus_path_(config.lm.corpus.empty() ? std::string(kFortunesFolder) : config.lm.corpus) {
  lm_.tokenizer = runTokenizerSpec(config);
  const Documents documents = readDocuments(corpus_path_, {lm_.text_field, lm_.prompt_field, lm_.response_field});
  documents_ = documents.texts.size();
  const DocumentSplit split = splitDocuments(documents);  // with each document's prompt length
  const std::vector<std::string>& validation = split.validation.texts;
  validation_documents_ = validation.size();
  if (validation.empty())
    throw DataError(corpus_path_ + ": " + std::to_string(documents_) +
                    " document(s); at least 10 are needed to hold every 10th out for validation");
  tokenizer_ = Tokenizer::build(lm_.tokenizer, documents);
  checkModelSources(config);
  if (config.distill.teacher_access == "topk" && config.distill.topk > tokenizer_.vocabSize())
    throw ConfigError({{"distill.topk", "k is " + std::to_string(config.distill.topk) + "; the vocabulary (" +
                                            tokenizer_.spec() + " tokens of " + corpus_path_ + ") has " +
                                            std::to_string(tokenizer_.vocabSize()) + " tokens"}});
  if (generation_.eval_prompts > 0) {
    // The evaluation's samples fit the context whatever the generated training text is set to:
    // prompts of at most half of it, completions of the rest.
    const int64_t prompt_tokens = std::max<int64_t>(1, std::min(generation_.prompt_tokens, lm_.context / 2));
    sample_generation_ = generation_;
    sample_generation_.prompt_tokens = prompt_tokens;
    sample_generation_.new_tokens = std::min(generation_.new_tokens, lm_.context - prompt_tokens);
    // Instruction data: the validation documents' prompts, whole (the model writes a response);
    // plain text: the beginnings of validation documents.
    const auto instruction_prompts = prompts(split.validation);
    eval_prompts_ = instruction_prompts.empty()
                        ? evaluationPrompts(validation, tokenizer_, prompt_tokens, generation_.eval_prompts)
                        : evaluationPrompts(instruction_prompts, tokenizer_, prompt_tokens, generation_.eval_prompts,
                                            /*whole=*/true);
  }
  train_ = packBlocks(split.train, tokenizer_, lm_.context, config.dataset.limit_train, corpus_path_ + " (training documents)");
  validation_ =
      packBlocks(split.validation, tokenizer_, lm_.context, config.dataset.limit_test, corpus_path_ + " (validation documents)");
}

GptConfig lmGptConfig(const ModelConfig& model, const std::string& source, const std::string& role,
                      const LmConfig& lm, const Tokenizer& tokenizer) {
  if (isTorchScriptSource(source))
    throw ModelError(role + ".source: a TorchScript " + role + " is no GPT of this run's keys (" + source +
                     "); the lm task takes TorchScript teachers only");
  if (model.arch != "gpt") throw ModelError(role + ".arch: the lm task trains gpt models, got '" + model.arch + "'");
  GptConfig gpt;
  gpt.vocab = tokenizer.vocabSize();
  gpt.context = lm.context;
  gpt.layers = model.layers;
  gpt.heads = model.heads;
  gpt.d_model = model.d_model;
  gpt.dropout = model.dropout;
  return gpt;
}

void LmTask::checkModelSources(const ExperimentConfig& config) {
  vocab_ = tokenizer_.vocabSize();
  const std::vector<std::pair<std::string, std::string>> sources{{"teacher.source", config.teacher.source},
                                                                 {"student.source", config.student_source}};
  for (const auto& [key, source] : sources) {
    if (!isHfSource(source)) continue;
    const HfConfig hf = checkHfSource(key, source);
    const std::string folder = hfSourceFolder(source);
    const std::string model = key + " " + folder;
    if (!tokenizer_.isModel())
      throw ConfigError({{"lm.tokenizer", "'" + tokenizer_.spec() + "' ids mean nothing to the Hugging Face model of " +
                                              model + (hasTokenizerFiles(folder)
                                                           ? "; leave lm.tokenizer at byte to use the model's own"
                                                           : ", which holds no tokenizer files (tokenizer.json, "
                                                             "vocab.json + merges.txt, tokenizer.model): set "
                                                             "lm.tokenizer to the model's tokenizer file")}});
    if (hasTokenizerFiles(folder) && tokenizer_.spec() != "hf:" + folder) {
      const Tokenizer own = Tokenizer::build("hf:" + folder, Documents{});
      if (own.fingerprint() != tokenizer_.fingerprint())
        throw ConfigError({{"lm.tokenizer", "'" + tokenizer_.spec() + "' (" + tokenizer_.describe() + "; " +
                                                tokenizer_.fingerprint() + ") does not tokenize as the model of " +
                                                model + " does (" + own.describe() + "; " + own.fingerprint() +
                                                "); leave lm.tokenizer at byte to use the model's own"}});
    }
    if (hf.vocab_size < tokenizer_.vocabSize())
      throw ConfigError({{key, hf.path + ": vocab_size " + std::to_string(hf.vocab_size) + " is smaller than the " +
                                   std::to_string(tokenizer_.vocabSize()) + " ids of the tokenizer (" +
                                   tokenizer_.describe() + ")"}});
    if (lm_.context > hf.max_position_embeddings)
      throw ConfigError({{"lm.context", "is " + std::to_string(lm_.context) + "; the model of " + model + " holds " +
                                            std::to_string(hf.max_position_embeddings) + " positions (" + hf.path +
                                            ")"}});
    if (key == "teacher.source") {
      teacher_hf_ = hf;
      vocab_ = hf.vocab_size;
    } else {
      if (teacher_hf_ && hf.vocab_size != teacher_hf_->vocab_size)
        throw ConfigError({{key, hf.path + ": vocab_size " + std::to_string(hf.vocab_size) + " differs from the " +
                                     "teacher's " + std::to_string(teacher_hf_->vocab_size) + " (" +
                                     teacher_hf_->path + "): the student's logits must line up with the teacher's"}});
      student_hf_ = hf;
      if (!teacher_hf_) vocab_ = hf.vocab_size;
    }
  }
}

Model LmTask::buildGpt(const ModelConfig& model, const std::string& source, const std::string& role) {
  GptConfig gpt = lmGptConfig(model, source, role, lm_, tokenizer_);
  gpt.vocab = vocab_;
  Model built = makeGpt(gpt);
  // Recorded only where a stored run could not rebuild it from its keys and its tokenizer.
  if (vocab_ != tokenizer_.vocabSize())
    (role == "teacher" ? teacher_hf_config_ : student_hf_config_) = recordedHfConfig(*built, nullptr);
  return built;
}

Model LmTask::buildTeacher(const ExperimentConfig& config) {
  const std::string& source = config.teacher.source;
  // A TorchScript teacher brings its own shape: probed for [N, T, V] logits when loaded.
  if (isTorchScriptSource(source)) return teacher_ = loadTorchScriptTeacher(source, tokenizer_, lm_.context);
  if (!teacher_hf_) return teacher_ = buildGpt(config.teacher.model, source, "teacher");
  HfLoadOptions options;
  options.context = lm_.context;
  teacher_ = buildHfModel(*teacher_hf_, options);  // the trainer loads the folder's weights
  for (auto& parameter : teacher_->parameters()) parameter.set_requires_grad(false);
  teacher_->eval();
  teacher_hf_config_ = recordedHfConfig(*teacher_, &*teacher_hf_);
  return teacher_;
}

Model LmTask::buildStudent(const ExperimentConfig& config) {
  Model student = buildStudentModel(config);
  if (config.student_gradient_checkpointing) {
    auto* decoder = dynamic_cast<CausalLmImpl*>(student.get());
    if (!decoder)
      throw ConfigError({{"student.gradient_checkpointing", "the student (" + student->summary() +
                                                                ") is no decoder of this workbench; it has no blocks to "
                                                                "checkpoint"}});
    decoder->setGradientCheckpointing(true);
  }
  return student;
}

Model LmTask::buildStudentModel(const ExperimentConfig& config) {
  const std::string& source = config.student_source;
  HfLoadOptions options;
  options.context = lm_.context;
  if (student_hf_) {
    Model student = loadHfModel(hfSourceFolder(source), options);
    student_hf_config_ = recordedHfConfig(*student, &*student_hf_);
    return student;
  }
  if (isTeacherBlocksSource(source)) {
    const std::string weights = teacherWeights(config);
    const bool trained_here = config.teacher.source == "train";
    if (weights.empty() && !trained_here)
      throw ConfigError({{"student.source", "'" + source + "' copies the teacher's blocks, but the weights of "
                                            "teacher.source '" + config.teacher.source + "' are not known yet (a run "
                                            "resolves run:<id>; torchscript: teachers have no blocks to copy)"}});
    if (!teacher_) buildTeacher(config);
    // A teacher the run trains: the blocks of the untrained one for now, the trained one's after
    // phase 1 (teacherTrained()).
    if (!trained_here) teacher_->loadCheckpoint(weights);
    Model student;
    try {
      student = keepEveryKthBlock(*teacher_, teacherBlocksStep(source));
    } catch (const ModelError& e) {
      throw ConfigError({{"student.source", std::string(e.what())}});
    }
    if (trained_here) blocks_of_trained_teacher_ = teacherBlocksStep(source);
    student_hf_config_ = recordedHfConfig(*student, teacher_hf_ ? &*teacher_hf_ : nullptr);
    return student;
  }
  return buildGpt(config.student, source, "student");
}

std::string LmTask::teacherTrained(const ModelImpl& teacher, ModelImpl& student) {
  if (blocks_of_trained_teacher_ == 0) return {};
  copyEveryKthBlock(teacher, blocks_of_trained_teacher_, student);
  std::string blocks;
  for (const int64_t block : keptBlocks(hfConfigOf(teacher).num_hidden_layers, blocks_of_trained_teacher_))
    blocks += (blocks.empty() ? "" : ", ") + std::to_string(block);
  return "student.source teacher-blocks:" + std::to_string(blocks_of_trained_teacher_) +
         ": the student starts from the trained teacher's blocks " + blocks + " (with its embeddings, final norm and head)";
}

void LmTask::prepare(const torch::Device& device) {
  train_.inputs = train_.inputs.to(device), train_.targets = train_.targets.to(device);
  validation_.inputs = validation_.inputs.to(device), validation_.targets = validation_.targets.to(device);
  if (train_.mask.defined()) train_.mask = train_.mask.to(device);
  if (validation_.mask.defined()) validation_.mask = validation_.mask.to(device);
}

std::unique_ptr<TrainSplit> LmTask::trainSplit(uint64_t seed) {
  auto corpus = std::make_unique<LmTrainSplit>(train_, train_.inputs.device());
  if (!trainsOnGeneratedText(generation_)) return corpus;
  return makeGeneratingSplit(std::move(corpus), generation_, tokenizer_, lm_.context, seed);
}

Batch LmTask::probeBatch() { return LmTrainSplit(train_, train_.inputs.device()).batch(torch::arange(2, torch::TensorOptions().dtype(torch::kInt64).device(train_.inputs.device()))); }

std::unique_ptr<Evaluator> LmTask::evaluator() {
  return std::make_unique<LmEvaluator>(validation_, eval_prompts_, tokenizer_, sample_generation_, lm_.context);
}

std::map<std::string, std::string> LmTask::describe() const {
  std::map<std::string, std::string> described{{"dataset_folder", corpus_path_},
          {"corpus_documents", std::to_string(documents_)},
          {"validation_documents", std::to_string(validation_documents_)},
          {"tokenizer", tokenizer_.spec()},
          {"tokenizer_description", tokenizer_.describe()},
          {"tokenizer_fingerprint", tokenizer_.fingerprint()},
          {"vocab_size", std::to_string(tokenizer_.vocabSize())},
          {"context", std::to_string(lm_.context)},
          {"train_blocks", std::to_string(train_.inputs.size(0))},
          {"validation_blocks", std::to_string(validation_.inputs.size(0))},
          {"train_samples", std::to_string(train_.inputs.size(0))},
          {"test_samples", std::to_string(validation_.inputs.size(0))},
          {"train_tokens", std::to_string(train_.inputs.numel())}};
  if (vocab_ != tokenizer_.vocabSize()) described["model_vocab_size"] = std::to_string(vocab_);
  if (!teacher_hf_config_.empty()) described["teacher_hf_config"] = teacher_hf_config_;
  if (!student_hf_config_.empty()) described["student_hf_config"] = student_hf_config_;
  return described;
}

}  // namespace distill
