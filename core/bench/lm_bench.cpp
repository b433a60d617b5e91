#include "core/bench/lm_bench.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/config/config.h"
#include "core/metrics/metric_keys.h"
#include "core/models/linear.h"
#include "core/tasks/lm/generate.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/lm/lm_task.h"
#include "core/train/trainer.h"

namespace distill::bench {

namespace {

// The reference's shapes (reference_lm_kd.py's defaults).
constexpr int64_t kBatch = 32;
constexpr int64_t kContext = 128;
// Training blocks the phases draw from (2 steps an epoch): the teacher caches are built over
// them at the start of each cached KD phase, so they stay few; a step costs the same whatever
// the split's size.
constexpr int64_t kTrainBlocks = 64;
// lm_memory: the issue's step, a GPT-2-sized vocabulary over byte tokens.
constexpr int64_t kMemoryVocab = 50000;
constexpr int64_t kMemoryBatch = 8;
constexpr int64_t kMemoryContext = 256;

std::vector<std::string> lmOverrides(const BenchOptions& options, int64_t context, int64_t batch, int64_t train_blocks) {
  std::vector<std::string> overrides{
      "task=lm",
      "device=" + options.device,
      "train.autocast=" + options.autocast,
      // One torch thread as the lm presets (and the reference run with --threads 1) unless asked.
      "threads=" + std::to_string(options.threads > 0 ? options.threads : 1),
      "gemm=" + options.gemm,
      "lm.tokenizer=byte",
      "lm.context=" + std::to_string(context),
      "dataset.limit_train=" + std::to_string(train_blocks),
      "dataset.limit_test=1",  // evaluations run only when a phase starts; one block keeps them short
      "teacher.arch=gpt",
      "teacher.layers=4",
      "teacher.heads=4",
      "teacher.d_model=256",
      "teacher.dropout=0.1",
      "student.arch=gpt",
      "student.layers=2",
      "student.heads=2",
      "student.d_model=128",
      "student.dropout=0",
      "train.batch_size=" + std::to_string(batch),
      "train.optimizer=adamw",
      "train.lr=0.001",
      "train.weight_decay=0.01",  // torch.optim.AdamW's default, as the reference
      "train.schedule=constant",
      "train.log_every=1",  // a teacher step takes about a second: time every step
      "train.eval_every=1000000000",
      "teacher.epochs=1000",
      "train.epochs=1000",
      "distill.method=kd",
      "distill.temperature=2",
      "distill.alpha=0.9",
      "generation.eval_prompts=0",
      "seed=0"};
  if (!options.corpus.empty()) overrides.push_back("lm.corpus=" + options.corpus);
  return overrides;
}

// nanoGPT's estimate_mfu: 6 N + 12 L T d FLOPs per trained token, N the parameters without the
// position embedding (the head is tied to the token embedding, so it is counted once).
double trainedFlopsPerToken(const ModelImpl& model) {
  const auto* gpt = dynamic_cast<const GptImpl*>(&model);
  if (!gpt) return 0.0;
  const GptConfig& c = gpt->config();
  const double parameters = static_cast<double>(model.parameterCount() - c.context * c.d_model);
  return 6.0 * parameters + 12.0 * static_cast<double>(c.layers * c.context * c.d_model);
}

// The GEMMs of one training step of a GPT block and the head, at `rows` positions.
std::vector<GemmShape> gptStepGemms(const GptConfig& c, int64_t rows) {
  const int64_t d = c.d_model;
  return {{rows, d, 3 * d}, {rows, d, d}, {rows, d, 4 * d}, {rows, 4 * d, d}, {rows, d, c.vocab}};
}

// The KD phases: without a teacher cache, with the logits in memory, with the top-k file.
struct KdPhase {
  std::string name;
  std::string cache;  // distill.teacher_cache: off | logits | topk
};
const std::vector<KdPhase> kKdPhases{{"kd_uncached", "off"}, {"kd_cached", "logits"}, {"kd_topk_cache", "topk"}};

ExperimentConfig lmConfig(const std::vector<std::string>& overrides) {
  return parseConfigWithOverrides("", overrides, "distill bench");
}

double residentMb() {
  std::ifstream statm("/proc/self/statm");
  long long pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0.0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

double peakResidentMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

// The language-model task's data and models, with the models' vocabulary widened to `vocab`
// (the tokens stay bytes; the extra rows are what a large tokenizer's vocabulary costs in
// the embedding, the head, the logits and the loss), as reference_lm_kd.py --vocab.
class WideVocabLmTask : public Task {
 public:
  WideVocabLmTask(const ExperimentConfig& config, int64_t vocab) : inner_(config), vocab_(vocab) {}

  std::string name() const override { return inner_.name(); }
  Model buildTeacher(const ExperimentConfig& config) override { return build(config.teacher.model, "teacher", config); }
  Model buildStudent(const ExperimentConfig& config) override { return build(config.student, "student", config); }
  void prepare(const torch::Device& device) override { inner_.prepare(device); }
  std::unique_ptr<TrainSplit> trainSplit(uint64_t seed) override { return inner_.trainSplit(seed); }
  Batch probeBatch() override { return inner_.probeBatch(); }
  std::unique_ptr<Evaluator> evaluator() override { return inner_.evaluator(); }
  std::map<std::string, std::string> describe() const override {
    auto facts = inner_.describe();
    facts["vocab_size"] = std::to_string(vocab_);
    return facts;
  }
  std::string units() const override { return inner_.units(); }

 private:
  Model build(const ModelConfig& model, const std::string& role, const ExperimentConfig& config) {
    GptConfig gpt = lmGptConfig(model, "train", role, config.lm, inner_.tokenizer());
    gpt.vocab = vocab_;
    return makeGpt(gpt);
  }

  LmTask inner_;
  int64_t vocab_;
};

// Watches the student phase's first step: resident memory when the phase begins, the
// process's peak once the step is logged; then stops the run.
class FirstStepMemory : public TrainingObserver {
 public:
  explicit FirstStepMemory(RunControl& control) : control_(control) {}
  void onLog(LogLevel level, const std::string& message) override {
    if (message.rfind("phase 2:", 0) == 0) before_mb = residentMb();
    if (level == LogLevel::Error) error = message;
  }
  void onMetrics(const std::vector<MetricPoint>& points) override {
    for (const auto& p : points)
      if (p.key == metric_key::kStudentTrainLoss && peak_mb == 0.0) {
        peak_mb = peakResidentMb();
        control_.requestStop();
      }
  }
  double before_mb = 0.0, peak_mb = 0.0;
  std::string error;

 private:
  RunControl& control_;
};

void sayPhase(const BenchContext& context, const BenchPhase& phase) {
  context.say("lm " + phase.name + ": " + std::to_string(static_cast<int64_t>(phase.units_per_s)) + " tokens/s, " +
              std::to_string(static_cast<int>(phase.gflops)) + " GFLOP/s");
}

void runOrThrow(Trainer& trainer, const std::string& what) {
  const auto result = trainer.run();
  if (result.outcome == RunOutcome::Failed) throw std::runtime_error("bench " + what + ": " + result.error);
}

}  // namespace

BenchWorkload runLmWorkload(const BenchContext& context) {
  const BenchOptions& options = context.options;
  if (options.new_tokens < 1 || options.prompt_tokens < 1)
    throw ConfigError({ConfigIssue{"--new-tokens", "expected at least 1 new token and 1 prompt token"}});
  const ExperimentConfig config = lmConfig(lmOverrides(options, kContext, kBatch, kTrainBlocks));
  const torch::Device& device = context.device;

  BenchWorkload workload;
  workload.name = "lm";
  workload.unit = "tokens";
  workload.own_threads = true;
  workload.threads = applyThreadSettings(config.threads, config.gemm);
  context.say("lm threads: " + std::to_string(workload.threads.intra_op_threads) + " torch intra-op, " +
              std::to_string(workload.threads.blas_threads) + " BLAS (" + workload.threads.reason + ")");

  LmTask task(config);
  context.say("lm corpus: " + task.describe().at("dataset_folder") + ", " + task.describe().at("train_blocks") +
              " training blocks of " + std::to_string(kContext) + " byte tokens");
  const Model teacher = task.buildTeacher(config);
  const Model student = task.buildStudent(config);
  workload.teacher = teacher->summary();
  workload.student = student->summary();
  const double teacher_trained = trainedFlopsPerToken(*teacher);
  const double student_trained = trainedFlopsPerToken(*student);
  const GptConfig teacher_shape = dynamic_cast<const GptImpl&>(*teacher).config();

  // The peak under this workload's threads: the square product through LibTorch's mm and
  // through the linear layers' library (oneDNN where chosen; the GPT's layers multiply through
  // it, core/models/linear.h), and the teacher's own step GEMMs through that library; those
  // again around the teacher's phase.
  const std::string gemm_name = "gpt " + std::to_string(teacher_shape.layers) + "x" +
                                std::to_string(teacher_shape.d_model) + " step GEMMs, " +
                                std::to_string(kBatch * kContext) + " rows";
  const auto step_gemms = gptStepGemms(teacher_shape, kBatch * kContext);
  workload.matmul.push_back(measureSquareMatmul(device, context.trial_s, false));
  if (device.is_cpu() && currentLinearGemm().onednn)
    workload.matmul.push_back(measureSquareMatmul(device, context.trial_s, true));
  workload.matmul.push_back(measureStepGemms(gemm_name, step_gemms, true, device, context.trial_s, 5));
  for (const auto& m : workload.matmul)
    context.say("lm matmul " + m.shape + ": " + std::to_string(static_cast<int>(m.gflops)) + " GFLOP/s");

  const int64_t tokens_per_step = kBatch * kContext;
  {
    const MatmulRate before = measureStepGemms(gemm_name, step_gemms, true, device, context.trial_s, 3);
    RunControl control;
    PhaseTimer timer(control, Phase::Teacher, options.seconds, tokens_per_step);
    Trainer trainer(config, task, {}, timer, control);
    runOrThrow(trainer, "lm teacher_train");
    workload.phases.push_back(trainedPhase("teacher_train", timer, teacher_trained));
    const MatmulRate after = measureStepGemms(gemm_name, step_gemms, true, device, context.trial_s, 3);
    workload.matmul.push_back({before.shape + " (before lm teacher_train)", before.gflops});
    workload.matmul.push_back({after.shape + " (after lm teacher_train)", after.gflops});
    workload.phases.back().adjacent_gemm_gflops = 0.5 * (before.gflops + after.gflops);
    sayPhase(context, workload.phases.back());
  }

  // KD from a fixed teacher in a checkpoint (its weights do not change the work).
  const std::string teacher_path = (std::filesystem::path(context.scratch) / "lm-teacher.pt").string();
  teacher->saveCheckpoint(teacher_path);
  for (const KdPhase& kd : kKdPhases) {
    std::vector<std::string> overrides = lmOverrides(options, kContext, kBatch, kTrainBlocks);
    for (const auto& line : teacherCacheOverrides(kd.cache)) overrides.push_back(line);
    const ExperimentConfig kd_config = lmConfig(overrides);
    RunControl control;
    PhaseTimer timer(control, Phase::Student, options.seconds, tokens_per_step);
    TrainerOptions trainer_options;
    trainer_options.teacher_weights = teacher_path;
    Trainer trainer(kd_config, task, trainer_options, timer, control);
    runOrThrow(trainer, "lm " + kd.name);
    // The teacher's forward pass per token, where it runs at every step.
    const double flops = student_trained + (kd.cache == "off" ? teacher_trained / 3.0 : 0.0);
    workload.phases.push_back(trainedPhase(kd.name, timer, flops));
    if (kd.name == "kd_cached") workload.cache_build_s = timer.cacheBuildSeconds();
    if (kd.name == "kd_topk_cache") workload.topk_cache_build_s = timer.cacheBuildSeconds();
    sayPhase(context, workload.phases.back());
  }

  // Generation with the teacher's shape, untrained (the cost does not depend on the weights),
  // with room for the prompt and the new tokens; greedy, as generate_benchmark.
  {
    GptConfig shape = teacher_shape;
    shape.context = options.prompt_tokens + options.new_tokens;
    torch::manual_seed(0);
    Gpt model(shape);
    model->to(device);
    std::vector<int64_t> prompt(static_cast<size_t>(options.prompt_tokens));
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = 32 + static_cast<int64_t>(i % 95);  // printable bytes
    for (const bool cached : {true, false}) {
      SamplingOptions sampling;
      sampling.temperature = 0.0;
      sampling.use_cache = cached;
      sampling.max_tokens = std::min<int64_t>(options.new_tokens, 4);
      generate(*model, prompt, sampling);  // warm-up
      sampling.max_tokens = options.new_tokens;
      int64_t tokens = 0;
      const auto start = Clock::now();
      do {
        tokens += static_cast<int64_t>(generate(*model, prompt, sampling).size());
      } while (secondsSince(start) < options.seconds);
      const double seconds = secondsSince(start);
      workload.phases.push_back(phaseResult(cached ? "generate_cached" : "generate_uncached",
                                            static_cast<double>(tokens) / seconds, tokens, seconds, 0.0));
      sayPhase(context, workload.phases.back());
    }
  }
  for (const auto& m : workload.matmul) workload.peak_gflops = std::max(workload.peak_gflops, m.gflops);
  return workload;
}

BenchWorkload runLmMemoryWorkload(const BenchContext& context) {
  std::vector<std::string> overrides = lmOverrides(context.options, kMemoryContext, kMemoryBatch, 2 * kMemoryBatch);
  for (const auto& line : teacherCacheOverrides("off")) overrides.push_back(line);  // the teacher runs at the step
  const ExperimentConfig config = lmConfig(overrides);

  BenchWorkload workload;
  workload.name = "lm_memory";
  workload.unit = "tokens";
  workload.own_threads = true;
  workload.threads = applyThreadSettings(config.threads, config.gemm);
  workload.memory.vocab = kMemoryVocab;
  workload.memory.batch = kMemoryBatch;
  workload.memory.context = kMemoryContext;
  WideVocabLmTask task(config, kMemoryVocab);
  // A fixed teacher from a checkpoint, as in the lm workload: phase 1 trains nothing.
  TrainerOptions trainer_options;
  trainer_options.teacher_weights = (std::filesystem::path(context.scratch) / "lm-memory-teacher.pt").string();
  task.buildTeacher(config)->saveCheckpoint(trainer_options.teacher_weights);
  RunControl control;
  FirstStepMemory watch(control);
  {
    Trainer trainer(config, task, trainer_options, watch, control);
    workload.teacher = trainer.environment().at("teacher_summary");
    workload.student = trainer.environment().at("student_summary");
    runOrThrow(trainer, "lm_memory");
  }
  if (watch.peak_mb == 0.0) throw std::runtime_error("bench lm_memory: the run ended before a step (" + watch.error + ")");
  workload.memory.rss_before_step_mb = watch.before_mb;
  workload.memory.peak_rss_mb = watch.peak_mb;
  context.say("lm_memory: one KD step at a " + std::to_string(kMemoryVocab) + "-token vocabulary, batch " +
              std::to_string(kMemoryBatch) + ", context " + std::to_string(kMemoryContext) + ": " +
              std::to_string(static_cast<int>(watch.before_mb)) + " MB resident before, peak " +
              std::to_string(static_cast<int>(watch.peak_mb)) + " MB");
  return workload;
}

}  // namespace distill::bench
