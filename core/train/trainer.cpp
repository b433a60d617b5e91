// The phase loop: for each phase, the order of the rows (a seeded sampler, replayed on
// resume), the steps (core/train/step_runner.h), the interval means that are logged, the
// evaluations (the task's streaming evaluator) and the checkpoints (core/train/checkpointer.h).
// It knows no task: batches, models, evaluation and metric names of a task come through
// core/tasks/task.h.
#include "core/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <thread>

#include <torch/version.h>

#include "core/errors.h"
#include "core/losses/loss.h"
#include "core/metrics/metric_keys.h"
#include "core/metrics/metrics.h"
#include "core/models/factory.h"
#include "core/runtime/allocator.h"
#include "core/runtime/runtime.h"
#include "core/train/batch_sampler.h"
#include "core/train/checkpointer.h"
#include "core/train/data_parallel.h"
#include "core/train/schedule.h"
#include "core/train/step_runner.h"
#include "core/train/teacher_cache.h"

namespace distill {

namespace {

double unixNow() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct Trainer::Impl {
  ExperimentConfig config;
  Task& task;
  TrainerOptions options;
  TrainingObserver& observer;
  RunControl& control;

  torch::Device device{torch::kCPU};
  Precision precision;
  Model teacher;
  Model student;
  std::unique_ptr<DistillationLoss> loss;
  std::unique_ptr<Evaluator> evaluator;
  Checkpointer checkpointer;
  std::map<std::string, std::string> environment;
  std::map<std::string, double> last_values;
  std::string speed_key;  // perf/samples_per_s or perf/tokens_per_s, as the task counts

  TeacherCachePlan cache_plan;  // what the student phase reads instead of the teacher (teacher_cache.h)

  int64_t teacher_steps = 0;  // planned optimizer steps of each phase
  int64_t student_steps = 0;
  int64_t done_steps = 0;
  // Steps trained by this process and the units (samples, tokens) they held: the progress in
  // units is counted at their mean per step.
  int64_t counted_steps = 0;
  double counted_units = 0.0;
  int64_t train_size = 0;  // rows of the training split
  bool sharded_evaluation = false;  // data-parallel: every rank evaluates its shard
  std::chrono::steady_clock::time_point started;
  std::optional<ResumeState> resume;  // empty: a fresh run

  Impl(const ExperimentConfig& c, Task& t, TrainerOptions o, TrainingObserver& obs, RunControl& ctl)
      : config(c),
        task(t),
        options(std::move(o)),
        observer(obs),
        control(ctl),
        checkpointer(options.artifacts_dir, observer) {
    device = torch::Device(resolveDevice(config.device));
    const ThreadSettings threads = applyThreadSettings(config.threads, config.gemm);
    torch::manual_seed(config.seed);
    if (device.is_cuda()) torch::cuda::manual_seed_all(config.seed);

    teacher = task.buildTeacher(config);
    student = task.buildStudent(config);
    if (!options.teacher_weights.empty()) teacher->loadCheckpoint(options.teacher_weights);
    if (!options.resume_state.empty()) {
      resume.emplace(options.resume_state);
      const bool in_student_phase = resume->point().phase == "student";
      const auto folder = std::filesystem::path(options.resume_state).parent_path();
      // The model of the interrupted phase comes from the state itself; in the student phase
      // the teacher is the final one of phase 1 (teacher.pt, unchanged since).
      if (in_student_phase && teacherTrained()) teacher->loadCheckpoint((folder / "teacher.pt").string());
      resume->loadModel(in_student_phase ? *student : *teacher);
    }
    teacher->to(device);
    student->to(device);
    task.prepare(device);
    loss = makeLoss(config.distill);
    if (const auto layers = loss->featureLayers()) {
      // Probe both models once for their feature shapes (an invalid layer index fails here,
      // before anything is trained), so the loss can build its learned parts.
      torch::NoGradGuard no_grad;
      const auto probe = task.probeBatch();
      const auto student_features = student->forwardWithFeature(probe.inputs, layers->student).second;
      const auto teacher_features = teacher->forwardWithFeature(probe.inputs, layers->teacher).second;
      loss->prepare(student_features, teacher_features);
      // A resumed student phase continues with what the loss had learned, not a fresh start.
      if (resume && resume->point().phase == "student") resume->loadLoss(*loss);
      loss->to(device);
    }
    evaluator = task.evaluator();
    // Refused before anything is trained; the cast itself comes after phase 1 (run()).
    if (config.teacher.dtype != "float32" && !teacher->computesInWeightDtype())
      throw ConfigError({{"teacher.dtype", config.teacher.dtype + ": the teacher (" + teacher->summary() +
                                               ") computes in float32 only; a lower precision is for the lm task's "
                                               "decoders"}});
    if (config.train.autocast != "off" && device.is_cuda()) {
      precision.autocast = true;
      precision.dtype = config.train.autocast == "bf16" ? at::kBFloat16 : at::kHalf;
    }
    speed_key = task.units() == "tokens" ? metric_key::kTokensPerSecond : metric_key::kSamplesPerSecond;

    const auto split = task.trainSplit(0);
    train_size = split->size();
    cache_plan = planTeacherCache(config.distill, *loss, *split, /*student_phase=*/!options.teacher_only);
    const int64_t batches = (train_size + config.train.batch_size - 1) / config.train.batch_size;
    teacher_steps = teacherTrained() ? batches * config.teacher.epochs : 0;
    student_steps = options.teacher_only ? 0 : batches * config.train.epochs;

    environment = {
        {"workbench_version", workbenchVersion()},
        {"torch_version", torchVersion()},
        {"device", device.str()},
        {"intra_op_threads", std::to_string(threads.intra_op_threads)},
        {"blas_threads", std::to_string(threads.blas_threads)},
        {"blas", threads.blas},
        {"threads_reason", threads.reason},
        {"gemm", threads.gemm},
        {"cpu_cores", std::to_string(cpuCores())},
        {"host", hostName()},
        {"seed", std::to_string(config.seed)},
        {"task", task.name()},
        {"teacher_parameters", std::to_string(teacher->parameterCount())},
        {"student_parameters", std::to_string(student->parameterCount())},
        {"teacher_summary", teacher->summary()},
        {"student_summary", student->summary()},
    };
    for (const auto& [key, value] : task.describe()) environment[key] = value;
    if (device.is_cuda()) environment["cuda_device_count"] = std::to_string(torch::cuda::device_count());
    // How the C library's allocator is set (core/runtime/allocator.h): the programs set it at
    // start; a library user who did not is told so.
    const std::string allocator = allocatorSetting();
    environment["allocator"] = allocator.empty() ? "C library defaults (configureAllocator() not called)" : allocator;
    // Whether the student reads the teacher from a cache, and whether that is an approximation.
    environment["teacher_cache"] = cache_plan.describe();
    environment["teacher_dtype"] = config.teacher.dtype;
    environment["autocast"] = precision.autocast ? config.train.autocast
                                                 : (config.train.autocast == "off" ? "off" : "off (CUDA only; float32 on the CPU)");
  }

  bool teacherTrained() const { return options.teacher_weights.empty() && !isTorchScriptSource(config.teacher.source); }
  std::string teacherOrigin() const {
    return options.teacher_weights.empty() ? torchScriptPath(config.teacher.source) : options.teacher_weights;
  }
  bool resuming(Phase phase) const { return resume && resume->point().phase == phaseName(phase); }

  // Blocks while paused; true when the run should stop.
  bool shouldStop() {
    while (control.paused() && !control.stopRequested()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return control.stopRequested();
  }

  void emit(std::vector<MetricPoint>& points) {
    if (points.empty()) return;
    for (const auto& p : points) last_values[p.key] = p.value;
    observer.onMetrics(points);
    points.clear();
  }

  void log(LogLevel level, const std::string& message) { observer.onLog(level, message); }

  // In a data-parallel run rank 0 evaluates alone and the others wait for it (one process: just
  // evaluate). Rank 0's RNG draws are the single process's: it makes the same calls.
  // An evaluator that shards (Evaluator::shardAcross: the image and lm tasks') runs on every rank,
  // each on its share of the test split, and all get the whole split's values.
  void evaluateOnRankZero(Phase phase, int64_t step, double epoch) {
    if (!options.parallel || sharded_evaluation) return evaluate(phase, step, epoch);
    if (options.parallel->rank() == 0) evaluate(phase, step, epoch);
    options.parallel->waitForAll("rank 0's evaluation");
  }

  // Rank 0's weights (and buffers, and a loss's learned parts) into every rank's, before training:
  // a seeded build gives the same weights everywhere already; this makes it so whatever the build.
  void synchroniseModels() {
    DataParallel& parallel = *options.parallel;
    parallel.waitForAll("every rank building its models");
    std::vector<torch::Tensor> tensors;
    for (const Model* model : {&teacher, &student}) {
      for (const auto& p : (*model)->parameters()) tensors.push_back(p);
      for (const auto& b : (*model)->buffers()) tensors.push_back(b);
    }
    for (const auto& p : loss->parameters()) tensors.push_back(p);
    parallel.broadcastFromRankZero(tensors);
  }

  // The evaluation driver: the task's evaluator computes, the trainer stamps and emits.
  void evaluate(Phase phase, int64_t step, double epoch) {
    const auto values = phase == Phase::Teacher ? evaluator->evaluateTeacher(*teacher)
                                                : evaluator->evaluateStudent(*student, *teacher);
    const double now = unixNow();
    std::vector<MetricPoint> points;
    for (const auto& [key, value] : values) points.push_back({key, step, epoch, now, value});
    emit(points);
    auto texts = phase == Phase::Teacher ? evaluator->teacherTexts(*teacher) : evaluator->studentTexts(*student, *teacher);
    for (auto& text : texts) text.purpose = "eval";
    report(texts, phase, step, epoch);
  }

  // Generated texts to the front ends and the store, stamped with where in the run they were written.
  void report(std::vector<GeneratedText>& texts, Phase phase, int64_t step, double epoch) {
    if (texts.empty()) return;
    const double now = unixNow();
    for (auto& text : texts) {
      text.step = step;
      text.epoch = epoch;
      text.phase = phaseName(phase);
      if (text.wall_time == 0.0) text.wall_time = now;
    }
    observer.onGenerated(texts);
  }

  // Trains one phase; returns false when stopped.
  bool trainPhase(Phase phase) {
    const bool is_teacher = phase == Phase::Teacher;
    Model& model = is_teacher ? teacher : student;
    const int64_t epochs = is_teacher ? config.teacher.epochs : config.train.epochs;
    const int64_t batch_size = config.train.batch_size;
    const std::string prefix = is_teacher ? metric_key::kTeacherTrainLoss : metric_key::kStudentTrainLoss;

    const auto split = task.trainSplit(config.seed + (is_teacher ? 3 : 4));
    StepRunner runner(*model, is_teacher ? nullptr : teacher.get(), is_teacher ? nullptr : loss.get(), config,
                      precision, options.reference_loop, options.parallel);
    BatchSampler sampler(split->size(), batch_size, config.seed + (is_teacher ? 1 : 2));
    const int64_t per_epoch = sampler.batchesPerEpoch();
    const int64_t total = per_epoch * epochs;

    int64_t first_epoch = 1, step = 0;
    if (resuming(phase)) {
      const auto& point = resume->point();
      // Same shuffles as the uninterrupted run: replay the permutations of the done epochs.
      for (int64_t e = 0; e < point.epoch; ++e) sampler.reshuffle();
      resume->restorePhase(runner.optimizer(), *split);
      first_epoch = point.epoch + 1;
      step = point.step;
      done_steps += step;
      log(LogLevel::Info, std::string("resumed the ") + phaseName(phase) + " phase after epoch " +
                              std::to_string(point.epoch) + " (step " + std::to_string(step) + ")");
    }

    std::unique_ptr<TeacherCache> cache;
    if (!is_teacher && cache_plan.kind == "off" && !cache_plan.reason.empty())
      log(LogLevel::Info, "teacher cache off: " + cache_plan.reason);
    if (!is_teacher && cache_plan.kind != "off" && first_epoch <= epochs)  // not for a phase with no steps left
      cache = std::make_unique<TeacherCache>(cache_plan, *split, *teacher, runner, precision, checkpointer.folder(),
                                             [&](const std::string& line) { log(LogLevel::Info, line); });
    split->attachModels(teacher.get(), is_teacher ? nullptr : student.get());
    if (options.parallel) options.parallel->waitForAll("every rank preparing the " + std::string(phaseName(phase)) + " phase");
    if (!is_teacher) teacher->eval();
    model->train();

    // Running sums stay on the device; read back only when logged (one sync per log). In
    // float64: a float32 loss added in double precision is exactly what the plain loop's
    // host-side `sum += loss.item<double>()` computes, so both log the same means.
    const bool plain = options.reference_loop;
    struct Sum {
      torch::Tensor on_device;  // float64 scalar
      double on_host = 0.0;     // the plain loop's
    };
    const auto zero = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    std::map<std::string, Sum> sums;  // by metric key, in the order first logged
    std::vector<std::string> order;
    auto accumulate = [&](const std::string& key, const torch::Tensor& value) {
      auto [it, inserted] = sums.try_emplace(key);
      if (inserted) {
        it->second.on_device = zero.clone();
        order.push_back(key);
      }
      if (plain)
        it->second.on_host += value.item<double>();
      else
        it->second.on_device += value.detach();
    };
    auto readSum = [&](const Sum& sum) { return plain ? sum.on_host : sum.on_device.item<double>(); };
    int64_t interval_steps = 0, interval_units = 0;
    auto interval_start = std::chrono::steady_clock::now();
    auto last_progress = interval_start;
    double units_per_s = 0.0, steps_per_s = 0.0;
    std::vector<MetricPoint> points;
    // What is not training (a pause, an evaluation, a checkpoint) stays out of the speed of
    // the interval it falls in: the interval's start moves on by its duration. Otherwise the
    // first interval after a pause or an epoch's evaluation reported a fraction of the speed,
    // and the status line's ETA jumped with it.
    auto outsideInterval = [&](auto&& work) {
      const auto begin = std::chrono::steady_clock::now();
      work();
      interval_start += std::chrono::steady_clock::now() - begin;
    };

    for (int64_t epoch = first_epoch; epoch <= epochs; ++epoch) {
      sampler.reshuffle();
      // The epoch's order where the data is, copied once per epoch rather than per step.
      const auto order_on_device = plain ? torch::Tensor() : sampler.permutation().to(split->indexDevice());
      for (int64_t b = 0; b < per_epoch; ++b) {
        bool stop = false;
        // Data-parallel ranks stop together: each step sums every rank's stop request, and all
        // stop before the next step once any asked (a pause is a single-process matter).
        outsideInterval([&] { stop = options.parallel ? runner.agreedStop() : shouldStop(); });
        if (stop) return false;
        if (options.parallel) runner.setLocalStop(control.stopRequested());
        const auto global_indices = plain ? sampler.batch(b).to(split->indexDevice())
                                          : order_on_device.slice(0, b * batch_size, std::min((b + 1) * batch_size, split->size()));
        // A data-parallel rank trains on its shard of the global batch.
        const auto indices = options.parallel ? options.parallel->shard(global_indices) : global_indices;
        Batch batch = split->batch(indices);
        const double fractional_epoch = static_cast<double>(epoch - 1) + static_cast<double>(b) / per_epoch;
        report(batch.texts, phase, step + 1, fractional_epoch);
        const CachedTeacher cached = cache ? cache->rows(indices, device) : CachedTeacher{};
        const LossTerms terms =
            runner.step(batch, cached, fractional_epoch, learningRateAt(config.train, step, per_epoch, total));
        ++step;
        ++done_steps;
        ++interval_steps;
        interval_units += runner.lastUnits();
        counted_steps += 1;
        counted_units += static_cast<double>(runner.lastUnits());
        accumulate(prefix, terms.total);
        if (!is_teacher) {
          accumulate(metric_key::kKdLoss, terms.kd);
          accumulate(metric_key::kCeLoss, terms.ce);
          for (const auto& [key, value] : terms.parts) accumulate(key, value);
        }

        const double epoch_done = static_cast<double>(epoch - 1) + static_cast<double>(b + 1) / per_epoch;
        const bool epoch_end = b + 1 == per_epoch;
        if (step % config.train.log_every == 0 || epoch_end) {
          const double mean_total = readSum(sums[prefix]) / interval_steps;
          if (!std::isfinite(mean_total))
            throw DivergenceError("diverged at step " + std::to_string(step) + " of the " + phaseName(phase) +
                                  " phase (loss is " + std::to_string(mean_total) + ")");
          const auto now = std::chrono::steady_clock::now();
          const double seconds = std::chrono::duration<double>(now - interval_start).count();
          units_per_s = seconds > 0 ? interval_units / seconds : 0.0;
          steps_per_s = seconds > 0 ? interval_steps / seconds : 0.0;
          const double wall = unixNow();
          for (const auto& key : order)
            points.push_back({key, step, epoch_done, wall, key == prefix ? mean_total : readSum(sums[key]) / interval_steps});
          points.push_back({speed_key, step, epoch_done, wall, units_per_s});
          emit(points);
          for (auto& [key, sum] : sums) {
            sum.on_device.zero_();
            sum.on_host = 0.0;
          }
          interval_steps = 0;
          interval_units = 0;
          interval_start = now;
        }
        const bool eval_now = config.train.eval_every > 0 ? (step % config.train.eval_every == 0) : epoch_end;
        if (eval_now) outsideInterval([&] { evaluateOnRankZero(phase, step, epoch_done); });

        const auto now = std::chrono::steady_clock::now();
        if (now - last_progress > std::chrono::milliseconds(100) || epoch_end) {
          last_progress = now;
          reportProgress(phase, epoch, epochs, step, total, units_per_s, steps_per_s);
        }
      }
      outsideInterval([&] {
        checkpointer.write(phaseName(phase), *model, step, epoch, runner.optimizer(), *split,
                           is_teacher ? nullptr : loss.get());
        if (options.parallel) options.parallel->waitForAll("rank 0's checkpoint");
      });
    }
    if (config.train.eval_every > 0 && step % config.train.eval_every != 0) evaluateOnRankZero(phase, step, epochs);
    return true;
  }

  void reportProgress(Phase phase, int64_t epoch, int64_t epochs, int64_t step, int64_t steps_in_phase,
                      double units_per_s, double steps_per_s) {
    ProgressInfo p;
    p.phase = phase;
    p.epoch = epoch;
    p.epochs = epochs;
    p.step = step;
    p.steps_in_phase = steps_in_phase;
    p.done_steps = done_steps;
    p.total_steps = teacher_steps + student_steps;
    p.units_per_s = units_per_s;
    p.units = task.units();
    p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double units_per_step = counted_steps > 0 ? counted_units / static_cast<double>(counted_steps) : 0.0;
    p.done_units = units_per_step * static_cast<double>(p.done_steps);
    p.total_units = units_per_step * static_cast<double>(p.total_steps);
    if (units_per_s > 0 && units_per_step > 0)
      p.eta_s = (p.total_units - p.done_units) / units_per_s;
    else
      p.eta_s = steps_per_s > 0 ? static_cast<double>(p.total_steps - p.done_steps) / steps_per_s : 0.0;
    p.device = device.str();
    observer.onProgress(p);
  }

  RunResult run() {
    started = std::chrono::steady_clock::now();
    if (DataParallel* parallel = options.parallel) {
      sharded_evaluation = evaluator->shardAcross(parallel->rank(), parallel->worldSize(),
                                                  [parallel](torch::Tensor& values) { parallel->allReduceSum(values); });
      environment["data_parallel"] =
          parallel->describe() + (sharded_evaluation ? ", evaluation sharded" : ", rank 0 evaluates alone");
    }
    observer.onStarted(environment);
    log(LogLevel::Info, "device " + device.str() + ", " + environment["threads_reason"] + " (" + environment["blas"] + ")");
    // Not refused: one config serves a CUDA node and a CPU check of it (device auto); said here, and
    // in the environment's autocast.
    if (config.train.autocast != "off" && !precision.autocast)
      log(LogLevel::Warning, "train.autocast: " + config.train.autocast + " applies on CUDA only; this run's device is " +
                                 device.str() + ", so it trains in float32");
    RunResult result;
    try {
      if (options.parallel) {
        // Every rank needs rows in every batch: a last batch of an epoch smaller than the world
        // would leave a rank nothing to compute a mean over.
        const int64_t rest = train_size % config.train.batch_size;
        const int world = options.parallel->worldSize();
        if (rest > 0 && rest < world)
          throw ConfigError({{"train.batch_size", "the last batch of each epoch has " + std::to_string(rest) +
                                                      " row(s), fewer than the " + std::to_string(world) +
                                                      " data-parallel ranks: choose a batch size that leaves at least " +
                                                      std::to_string(world) + " (or none)"}});
        if (config.train.batch_size < world)
          throw ConfigError({{"train.batch_size", "is " + std::to_string(config.train.batch_size) + ", below the " +
                                                      std::to_string(world) + " data-parallel ranks (it is the global batch)"}});
        log(LogLevel::Info, "data-parallel: " + environment["data_parallel"]);
        synchroniseModels();
      }
      const bool resume_student = resume && resume->point().phase == "student";
      if (teacherTrained() && !resume_student) {
        log(LogLevel::Info, "phase 1: training the teacher (" + environment["teacher_summary"] + ")");
        if (!trainPhase(Phase::Teacher)) return stopped();
        // A student made from the teacher's weights takes the trained ones (every rank alike:
        // their teachers are equal after phase 1).
        if (!options.teacher_only) {
          const std::string changed = task.teacherTrained(*teacher, *student);
          if (!changed.empty()) log(LogLevel::Info, changed);
        }
      } else if (teacherTrained()) {
        done_steps += teacher_steps;
      } else {
        log(LogLevel::Info, "phase 1: teacher loaded from " + teacherOrigin());
        evaluateOnRankZero(Phase::Teacher, 0, 0.0);
      }
      if (!options.teacher_only) {
        if (config.teacher.dtype == "bfloat16") {
          // After phase 1 (trained or loaded in float32, evaluated, checkpointed, broadcast):
          // the student phase reads a bfloat16 teacher without gradients (core/models/model.h).
          const int64_t float_bytes = parameterBytes(*teacher);
          freezeInDtype(*teacher, torch::kBFloat16);
          log(LogLevel::Info, "teacher frozen in bfloat16: its parameters hold " +
                                  std::to_string(parameterBytes(*teacher)) + " bytes (" + std::to_string(float_bytes) +
                                  " in float32)");
        }
        log(LogLevel::Info, "phase 2: distilling into the student (" + environment["student_summary"] + ")");
        if (!resume_student) evaluateOnRankZero(Phase::Student, 0, 0.0);
        if (!trainPhase(Phase::Student)) return stopped();
      }
      result.outcome = RunOutcome::Completed;
      log(LogLevel::Info, options.teacher_only ? "run completed (teacher only)" : "run completed");
    } catch (const DivergenceError& e) {
      result.outcome = RunOutcome::Failed;
      result.error = e.what();
    } catch (const c10::Error& e) {
      result.outcome = RunOutcome::Failed;
      result.error = std::string("LibTorch: ") + e.what_without_backtrace();
    } catch (const std::exception& e) {
      result.outcome = RunOutcome::Failed;
      result.error = e.what();
    }
    if (result.outcome == RunOutcome::Failed) log(LogLevel::Error, result.error);
    result.final = last_values;
    return result;
  }

  RunResult stopped() {
    log(LogLevel::Warning, "run stopped at the user's request");
    RunResult result;
    result.outcome = RunOutcome::Stopped;
    result.final = last_values;
    return result;
  }
};

Trainer::Trainer(const ExperimentConfig& config, Task& task, TrainerOptions options, TrainingObserver& observer,
                 RunControl& control)
    : impl_(std::make_unique<Impl>(config, task, std::move(options), observer, control)) {}

Trainer::~Trainer() = default;

RunResult Trainer::run() {
  const TrainingInProcess training;  // the mirror test refuses to touch global state meanwhile
  return impl_->run();
}

void Trainer::setDataParallel(DataParallel* parallel) { impl_->options.parallel = parallel; }

void Trainer::setArtifactsDir(const std::string& folder) {
  impl_->options.artifacts_dir = folder;
  impl_->checkpointer.setFolder(folder);
}

const std::map<std::string, std::string>& Trainer::environment() const { return impl_->environment; }

}  // namespace distill
