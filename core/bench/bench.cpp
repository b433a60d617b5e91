#include "core/bench/bench.h"
#include "core/tasks/image/image_task.h"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/config/config.h"
#include "core/data/dataset.h"
#include "core/errors.h"
#include "core/metrics/metric_keys.h"
#include "core/metrics/metrics.h"
#include "core/models/factory.h"
#include "core/models/linear.h"
#include "core/train/trainer.h"

namespace distill {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void synchronize(const torch::Device& device) {
  // The one place the benchmark waits for the device: before reading a clock.
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// The median of several timed trials of `work` (each at least `trial_s` long), as FLOP/s.
double timedRate(const std::function<void()>& work, double flops_per_call, double trial_s, int trials,
                 const torch::Device& device) {
  work();  // warm-up: first-call allocations and BLAS thread start-up
  synchronize(device);
  std::vector<double> rates;
  for (int t = 0; t < trials; ++t) {
    int64_t calls = 0;
    const auto start = Clock::now();
    do {
      work();
      ++calls;
      if (calls % 4 == 0) synchronize(device);
    } while (secondsSince(start) < trial_s);
    synchronize(device);
    rates.push_back(flops_per_call * static_cast<double>(calls) / secondsSince(start));
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

// Matrix-multiply rates in this process: a square 1024^3 product, and the GEMMs of one
// training step of an MLP at batch `batch` (forward X W^T, backward dX = dY W, dW = dY^T X),
// i.e. what the teacher's step multiplies, without anything around it.
// `linear_library`: through the library of the linear layers (matmulInto) instead of LibTorch's mm.
MatmulRate measureSquareMatmul(const torch::Device& device, double trial_s, bool linear_library) {
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const auto a = torch::randn({1024, 1024}, options), b = torch::randn({1024, 1024}, options);
  auto c = torch::empty({1024, 1024}, options);
  const double flops = 2.0 * 1024 * 1024 * 1024;
  if (linear_library)
    return {"1024x1024x1024 (" + currentLinearGemm().description + ")",
            timedRate([&] { matmulInto(c, a, false, b, false); }, flops, trial_s, 5, device) / 1e9};
  return {"1024x1024x1024 (LibTorch mm)", timedRate([&] { torch::mm_out(c, a, b); }, flops, trial_s, 5, device) / 1e9};
}

MatmulRate measureStepGemms(const std::vector<int64_t>& widths, int64_t batch, const torch::Device& device,
                            double trial_s, int trials) {
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  std::vector<torch::Tensor> xs, ws, dys, outs_f, outs_dx, outs_dw;
  double flops = 0.0;
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    const int64_t in = widths[i], out = widths[i + 1];
    xs.push_back(torch::randn({batch, in}, options));
    ws.push_back(torch::randn({out, in}, options));
    dys.push_back(torch::randn({batch, out}, options));
    outs_f.push_back(torch::empty({batch, out}, options));
    outs_dx.push_back(torch::empty({batch, in}, options));
    outs_dw.push_back(torch::empty({out, in}, options));
    flops += 3.0 * 2.0 * static_cast<double>(batch * in * out);
  }
  std::string name = "mlp";
  for (size_t i = 0; i < widths.size(); ++i) name += (i ? "-" : " ") + std::to_string(widths[i]);
  name += " step GEMMs, batch " + std::to_string(batch);
  if (device.is_cpu()) name += " (" + currentLinearGemm().description + ")";
  return {name, timedRate(
                             [&] {
                               for (size_t i = 0; i < xs.size(); ++i) {
                                 matmulInto(outs_f[i], xs[i], false, ws[i], true);
                                 matmulInto(outs_dx[i], dys[i], false, ws[i], false);
                                 matmulInto(outs_dw[i], dys[i], true, xs[i], false);
                               }
                             },
                             flops, trial_s, trials, device) /
                             1e9};
}

struct WorkloadSpec {
  std::string name;
  std::vector<std::string> overrides;  // teacher and student architecture
};

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
  throw ConfigError({{"--workload", "unknown workload '" + name + "' (expected hinton, tiny, cnn or all)"}});
}

// Watches one Trainer run: times the training steps between logged points, skipping the
// first interval (warm-up), and stops the run once `seconds` have been measured.
class PhaseTimer : public TrainingObserver {
 public:
  PhaseTimer(RunControl& control, Phase phase, double seconds, int64_t batch)
      : control_(control), phase_(phase), seconds_(seconds), batch_(batch) {}

  void onMetrics(const std::vector<MetricPoint>& points) override {
    const std::string loss_key = phase_ == Phase::Teacher ? metric_key::kTeacherTrainLoss : metric_key::kStudentTrainLoss;
    for (const auto& p : points) {
      if (p.key != loss_key) continue;
      const auto now = Clock::now();
      if (first_step_ < 0) {
        first_step_ = p.step;
        first_time_ = now;
        continue;
      }
      last_step_ = p.step;
      last_time_ = now;
      if (measuredSeconds() >= seconds_) control_.requestStop();
    }
  }
  void onLog(LogLevel level, const std::string& message) override {
    if (message.rfind("phase 2:", 0) == 0) phase2_start_ = Clock::now();
    if (message.rfind("cached the teacher's logits", 0) == 0)
      cache_build_s_ = std::chrono::duration<double>(Clock::now() - phase2_start_).count();
    if (level == LogLevel::Error) error_ = message;
  }

  double measuredSeconds() const {
    return last_step_ > first_step_ ? std::chrono::duration<double>(last_time_ - first_time_).count() : 0.0;
  }
  int64_t measuredSamples() const { return last_step_ > first_step_ ? (last_step_ - first_step_) * batch_ : 0; }
  double cacheBuildSeconds() const { return cache_build_s_; }
  const std::string& error() const { return error_; }

 private:
  RunControl& control_;
  Phase phase_;
  double seconds_;
  int64_t batch_;
  int64_t first_step_ = -1, last_step_ = -1;
  Clock::time_point first_time_, last_time_, phase2_start_;
  double cache_build_s_ = 0.0;
  std::string error_;
};

BenchPhase phaseResult(const std::string& name, double samples_per_s, int64_t samples, double seconds,
                       double flops_per_sample) {
  BenchPhase phase;
  phase.name = name;
  phase.samples = samples;
  phase.seconds = seconds;
  phase.samples_per_s = samples_per_s;
  phase.flops_per_sample = flops_per_sample;
  phase.gflops = samples_per_s * flops_per_sample / 1e9;
  return phase;
}

BenchPhase trainedPhase(const std::string& name, const PhaseTimer& timer, double flops_per_sample) {
  const double seconds = timer.measuredSeconds();
  const int64_t samples = timer.measuredSamples();
  if (samples == 0 || seconds <= 0)
    throw std::runtime_error("bench " + name + ": the run ended before a full measured interval (" + timer.error() + ")");
  return phaseResult(name, static_cast<double>(samples) / seconds, samples, seconds, flops_per_sample);
}

}  // namespace

const BenchPhase* BenchWorkload::phase(const std::string& phase_name) const {
  for (const auto& p : phases)
    if (p.name == phase_name) return &p;
  return nullptr;
}

std::vector<std::string> benchWorkloadNames() { return {"hinton", "tiny", "cnn"}; }

BenchReport runBenchmark(const BenchOptions& options, const std::function<void(const std::string&)>& progress) {
  if (!(options.seconds > 0.0) || options.seconds > 3600.0)
    throw ConfigError({{"--seconds", "expected a number of seconds in (0, 3600], got " + std::to_string(options.seconds)}});
  if (options.workloads.empty()) throw ConfigError({ConfigIssue{"--workload", "no workload given"}});
  for (const auto& name : options.workloads) workloadSpec(name);  // unknown names fail before any work
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };

  // One batch of 128 in every phase; the training set trimmed to whole batches so that every
  // step counts exactly 128 samples.
  constexpr int64_t kBatch = 128;
  std::vector<std::string> common{"device=" + options.device,
                                  "train.autocast=" + options.autocast,
                                  "threads=" + std::to_string(options.threads),
                                  "gemm=" + options.gemm,
                                  "dataset.name=fashion-mnist",
                                  "dataset.limit_train=" + std::to_string(468 * kBatch),
                                  "train.batch_size=" + std::to_string(kBatch),
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

  DatasetSplits data = loadDataset(base.dataset);
  say("Fashion-MNIST: " + std::to_string(data.train.size()) + " training, " + std::to_string(data.test.size()) +
      " test images from " + data.folder);

  // The peak: a square product and the MLP teacher's own step GEMMs, here and again right
  // before and after each MLP teacher's training phase (on a shared machine the rate moves;
  // the highest measurement is the peak, and each teacher phase also gets the rate measured
  // around it, `adjacent_gemm_gflops`).
  const double trial_s = std::min(0.4, options.seconds / 4);
  const std::vector<int64_t> mlp_teacher{784, 1200, 1200, 10};
  // The square product through LibTorch's mm and, when the linear layers use another library
  // (oneDNN), through that one too: the peak is the fastest of them.
  report.matmul.push_back(measureSquareMatmul(device, trial_s, false));
  if (device.is_cpu() && currentLinearGemm().onednn) report.matmul.push_back(measureSquareMatmul(device, trial_s, true));
  report.matmul.push_back(measureStepGemms(mlp_teacher, kBatch, device, trial_s, 5));
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

  for (const auto& name : options.workloads) {
    const WorkloadSpec spec = workloadSpec(name);
    std::vector<std::string> overrides = common;
    overrides.insert(overrides.end(), spec.overrides.begin(), spec.overrides.end());
    ExperimentConfig config = parseConfigWithOverrides("", overrides, "distill bench");

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
      const MatmulRate before = mlp ? measureStepGemms(mlp_teacher, kBatch, device, trial_s, 3) : MatmulRate{};
      RunControl control;
      PhaseTimer timer(control, Phase::Teacher, options.seconds, kBatch);
      ImageTask task(config, data);
      Trainer trainer(config, task, {}, timer, control);
      const auto result = trainer.run();
      if (result.outcome == RunOutcome::Failed) throw std::runtime_error("bench " + name + ": " + result.error);
      workload.phases.push_back(trainedPhase("teacher_train", timer, 3.0 * teacher_fwd));
      if (mlp) {
        const MatmulRate after = measureStepGemms(mlp_teacher, kBatch, device, trial_s, 3);
        report.matmul.push_back({before.shape + " (before " + name + " teacher_train)", before.gflops});
        report.matmul.push_back({after.shape + " (after " + name + " teacher_train)", after.gflops});
        workload.phases.back().adjacent_gemm_gflops = 0.5 * (before.gflops + after.gflops);
      }
    }
    // The KD runs take a fixed teacher from a checkpoint (its weights do not change the
    // amount of work), so that their time is the student phase's alone.
    const std::string teacher_path = (scratch / (name + "-teacher.pt")).string();
    teacher->saveCheckpoint(teacher_path);
    for (const bool cache : {true, false}) {
      config.distill.cache_teacher_logits = cache;
      RunControl control;
      PhaseTimer timer(control, Phase::Student, options.seconds, kBatch);
      TrainerOptions trainer_options;
      trainer_options.teacher_weights = teacher_path;
      ImageTask task(config, data);
      Trainer trainer(config, task, trainer_options, timer, control);
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
      say(name + " " + p.name + ": " + std::to_string(static_cast<int64_t>(p.samples_per_s)) + " samples/s, " +
          std::to_string(static_cast<int>(p.gflops)) + " GFLOP/s");
    report.workloads.push_back(std::move(workload));
  }
  for (const auto& m : report.matmul) report.peak_gflops = std::max(report.peak_gflops, m.gflops);
  return report;
}

}  // namespace distill
