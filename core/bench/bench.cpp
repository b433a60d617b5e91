#include "core/bench/bench.h"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/config/config.h"
#include "core/data/dataset.h"
#include "core/bench/bench_support.h"
#include "core/bench/lm_bench.h"
#include "core/errors.h"
#include "core/metrics/metric_keys.h"
#include "core/metrics/metrics.h"
#include "core/models/factory.h"
#include "core/models/linear.h"
#include "core/tasks/image/image_task.h"
#include "core/train/trainer.h"

namespace distill {

namespace {

using namespace bench;

struct WorkloadSpec {
  std::string name;
  std::vector<std::string> overrides;  // teacher and student architecture
};

bool isLmWorkload(const std::string& name) { return name == "lm" || name == "lm_memory"; }

WorkloadSpec workloadSpec(const std::string& name) {
  const std::vector<std::string> hinton_teacher{"teacher.arch=mlp", "teacher.hidden=[1200, 1200]",
                                                "teacher.dropout=0.2"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  if (name == "hinton") return {name, with(hinton_teacher, {"student.arch=mlp", "student.hidden=[800, 800]"})};
  if (name == "tiny") return {name, with(hinton_teacher, {"student.arch=mlp", "student.hidden=[32]"})};
  if (name == "cnn")
    return {name,
            {"teacher.arch=cnn", "teacher.channels=[32, 64]", "teacher.kernel=3", "teacher.pool=max",
             "teacher.hidden=[256]", "teacher.dropout=0.2", "student.arch=mlp", "student.hidden=[800, 800]"}};
  if (isLmWorkload(name)) return {name, {}};  // core/bench/lm_bench.cpp
  throw ConfigError(
      {{"--workload", "unknown workload '" + name + "' (expected hinton, tiny, cnn, lm, lm_memory or all)"}});
}

// One batch of 128 in every image phase; the training set trimmed to whole batches so that
// every step counts exactly 128 samples.
constexpr int64_t kImageBatch = 128;
const std::vector<int64_t> kMlpTeacher{784, 1200, 1200, 10};

std::vector<GemmShape> mlpStepGemms(const std::vector<int64_t>& widths, int64_t batch) {
  std::vector<GemmShape> layers;
  for (size_t i = 0; i + 1 < widths.size(); ++i) layers.push_back({batch, widths[i], widths[i + 1]});
  return layers;
}

// The step GEMMs of the MLP teacher, through the linear layers' library.
MatmulRate measureMlpTeacherGemms(const torch::Device& device, double trial_s, int trials) {
  std::string name = "mlp";
  for (size_t i = 0; i < kMlpTeacher.size(); ++i) name += (i ? "-" : " ") + std::to_string(kMlpTeacher[i]);
  name += " step GEMMs, batch " + std::to_string(kImageBatch);
  return measureStepGemms(name, mlpStepGemms(kMlpTeacher, kImageBatch), true, device, trial_s, trials);
}

// An image workload: teacher training, KD with the logit cache and without, evaluation. The
// step GEMMs measured around an MLP teacher's phase go into `matmul` (the report's).
BenchWorkload runImageWorkload(const BenchContext& context, const std::string& name,
                               const std::vector<std::string>& common, const DatasetSplits& data,
                               std::vector<MatmulRate>& matmul) {
  const BenchOptions& options = context.options;
  const torch::Device& device = context.device;
  const WorkloadSpec spec = workloadSpec(name);
  std::vector<std::string> overrides = common;
  overrides.insert(overrides.end(), spec.overrides.begin(), spec.overrides.end());
  const ExperimentConfig config = parseConfigWithOverrides("", overrides, "distill bench");

  applyThreadSettings(config.threads, config.gemm);  // the report's, after a workload with its own

  BenchWorkload workload;
  workload.name = name;
  Model teacher = buildModel(config.teacher.model, "train", data.input_shape, data.num_classes);
  Model student = buildModel(config.student, "init", data.input_shape, data.num_classes);
  workload.teacher = teacher->summary();
  workload.student = student->summary();
  const double teacher_fwd = 2.0 * static_cast<double>(teacher->forwardMacsPerSample());
  const double student_fwd = 2.0 * static_cast<double>(student->forwardMacsPerSample());

  // Teacher training: a real run, stopped once `seconds` are measured.
  {
    const bool mlp = config.teacher.model.arch == "mlp";
    const MatmulRate before = mlp ? measureMlpTeacherGemms(device, context.trial_s, 3) : MatmulRate{};
    RunControl control;
    PhaseTimer timer(control, Phase::Teacher, options.seconds, kImageBatch);
    ImageTask task(config, data);
    Trainer trainer(config, task, {}, timer, control);
    const auto result = trainer.run();
    if (result.outcome == RunOutcome::Failed) throw std::runtime_error("bench " + name + ": " + result.error);
    workload.phases.push_back(trainedPhase("teacher_train", timer, 3.0 * teacher_fwd));
    if (mlp) {
      const MatmulRate after = measureMlpTeacherGemms(device, context.trial_s, 3);
      matmul.push_back({before.shape + " (before " + name + " teacher_train)", before.gflops});
      matmul.push_back({after.shape + " (after " + name + " teacher_train)", after.gflops});
      workload.phases.back().adjacent_gemm_gflops = 0.5 * (before.gflops + after.gflops);
    }
  }
  // The KD runs take a fixed teacher from a checkpoint (its weights do not change the
  // amount of work), so that their time is the student phase's alone.
  const std::string teacher_path = (std::filesystem::path(context.scratch) / (name + "-teacher.pt")).string();
  teacher->saveCheckpoint(teacher_path);
  for (const bool cache : {true, false}) {
    std::vector<std::string> kd_overrides = overrides;
    for (const auto& line : teacherCacheOverrides(cache ? "logits" : "off")) kd_overrides.push_back(line);
    const ExperimentConfig kd_config = parseConfigWithOverrides("", kd_overrides, "distill bench");
    RunControl control;
    PhaseTimer timer(control, Phase::Student, options.seconds, kImageBatch);
    TrainerOptions trainer_options;
    trainer_options.teacher_weights = teacher_path;
    ImageTask task(kd_config, data);
    Trainer trainer(kd_config, task, trainer_options, timer, control);
    const auto result = trainer.run();
    if (result.outcome == RunOutcome::Failed) throw std::runtime_error("bench " + name + ": " + result.error);
    const double flops = 3.0 * student_fwd + (cache ? 0.0 : teacher_fwd);
    workload.phases.push_back(trainedPhase(cache ? "kd_cached" : "kd_uncached", timer, flops));
    if (cache) workload.cache_build_s = timer.cacheBuildSeconds();
  }
  // Evaluation: the forward pass over the test split that every evaluation makes.
  {
    torch::NoGradGuard no_grad;
    const auto test_inputs = data.test.inputs.to(device);
    teacher->to(device);
    student->to(device);
    const double n = static_cast<double>(test_inputs.size(0));
    const double trial = std::max(0.2, options.seconds / 6);
    const double teacher_rate = timedRate([&] { predictLogits(teacher, test_inputs); }, n, trial, 3, device);
    const double student_rate = timedRate([&] { predictLogits(student, test_inputs); }, n, trial, 3, device);
    // The median of 3 trials of `trial` seconds each.
    workload.phases.push_back(phaseResult("teacher_eval", teacher_rate, static_cast<int64_t>(teacher_rate * trial), trial,
                                          teacher_fwd));
    workload.phases.push_back(phaseResult("student_eval", student_rate, static_cast<int64_t>(student_rate * trial), trial,
                                          student_fwd));
  }
  for (const auto& p : workload.phases)
    context.say(name + " " + p.name + ": " + std::to_string(static_cast<int64_t>(p.units_per_s)) + " samples/s, " +
                std::to_string(static_cast<int>(p.gflops)) + " GFLOP/s");
  return workload;
}

}  // namespace

const BenchPhase* BenchWorkload::phase(const std::string& phase_name) const {
  for (const auto& p : phases)
    if (p.name == phase_name) return &p;
  return nullptr;
}

std::vector<std::string> benchWorkloadNames() { return {"hinton", "tiny", "cnn", "lm"}; }

std::vector<std::string> benchAllWorkloadNames() { return {"hinton", "tiny", "cnn", "lm", "lm_memory"}; }

BenchReport runBenchmark(const BenchOptions& options, const std::function<void(const std::string&)>& progress) {
  if (!(options.seconds > 0.0) || options.seconds > 3600.0)
    throw ConfigError({{"--seconds", "expected a number of seconds in (0, 3600], got " + std::to_string(options.seconds)}});
  if (options.workloads.empty()) throw ConfigError({ConfigIssue{"--workload", "no workload given"}});
  bool any_image = false;
  for (const auto& name : options.workloads) {
    workloadSpec(name);  // unknown names fail before any work
    any_image |= !isLmWorkload(name);
  }
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };

  std::vector<std::string> common{"device=" + options.device,
                                  "train.autocast=" + options.autocast,
                                  "threads=" + std::to_string(options.threads),
                                  "gemm=" + options.gemm,
                                  "dataset.name=fashion-mnist",
                                  "dataset.limit_train=" + std::to_string(468 * kImageBatch),
                                  "train.batch_size=" + std::to_string(kImageBatch),
                                  "train.optimizer=sgd",
                                  "train.lr=0.05",
                                  "train.momentum=0.9",
                                  "train.log_every=10",
                                  "train.eval_every=1000000000",
                                  "teacher.epochs=1000",
                                  "train.epochs=1000",
                                  "distill.method=kd",
                                  "distill.temperature=4",
                                  "distill.alpha=0.9",
                                  "seed=0"};
  if (!options.dataset_path.empty()) common.push_back("dataset.path=" + options.dataset_path);

  BenchReport report;
  report.seconds_per_phase = options.seconds;
  const ExperimentConfig base = parseConfigWithOverrides("", common, "distill bench");
  report.device = resolveDevice(base.device);
  const torch::Device device(report.device);
  report.threads = applyThreadSettings(base.threads, base.gemm);
  report.torch_version = torchVersion();
  report.cpu_cores = cpuCores();
  say("threads: " + std::to_string(report.threads.intra_op_threads) + " torch intra-op, " +
      std::to_string(report.threads.blas_threads) + " BLAS (" + report.threads.reason + "; " + report.threads.blas + ")");
  say("linear layers' matrix products: " + report.threads.gemm);

  // Fashion-MNIST only for the image workloads (the lm ones read their corpus).
  DatasetSplits data;
  if (any_image) {
    data = loadDataset(base.dataset);
    say("Fashion-MNIST: " + std::to_string(data.train.size()) + " training, " + std::to_string(data.test.size()) +
        " test images from " + data.folder);
  }

  // The peak: a square product and the MLP teacher's own step GEMMs, here and again right
  // before and after each MLP teacher's training phase (on a shared machine the rate moves;
  // the highest measurement is the peak, and each teacher phase also gets the rate measured
  // around it, `adjacent_gemm_gflops`). Workloads with threads of their own (lm) measure their
  // own peak under them.
  const double trial_s = std::min(0.4, options.seconds / 4);
  // The square product through LibTorch's mm and, when the linear layers use another library
  // (oneDNN), through that one too: the peak is the fastest of them.
  report.matmul.push_back(measureSquareMatmul(device, trial_s, false));
  if (device.is_cpu() && currentLinearGemm().onednn) report.matmul.push_back(measureSquareMatmul(device, trial_s, true));
  if (any_image) report.matmul.push_back(measureMlpTeacherGemms(device, trial_s, 5));
  for (const auto& m : report.matmul)
    say("matmul " + m.shape + ": " + std::to_string(static_cast<int>(m.gflops)) + " GFLOP/s");

  const auto scratch = std::filesystem::temp_directory_path() / ("distill-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(scratch);
  struct Cleanup {
    std::filesystem::path path;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } cleanup{scratch};

  const BenchContext context{options, device, scratch.string(), trial_s, say};
  for (const auto& name : options.workloads) {
    if (name == "lm")
      report.workloads.push_back(runLmWorkload(context));
    else if (name == "lm_memory")
      report.workloads.push_back(runLmMemoryWorkload(context));
    else
      report.workloads.push_back(runImageWorkload(context, name, common, data, report.matmul));
  }
  for (const auto& m : report.matmul) report.peak_gflops = std::max(report.peak_gflops, m.gflops);
  return report;
}

}  // namespace distill
