#include "core/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <sstream>
#include <thread>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "core/data/augment.h"
#include "core/data/dataset.h"
#include "core/errors.h"
#include "core/fidelity/fidelity.h"
#include "core/losses/fitnet.h"
#include "core/losses/loss.h"
#include "core/metrics/metric_keys.h"
#include "core/metrics/metrics.h"
#include "core/models/classifier.h"
#include "core/models/factory.h"
#include "core/runtime/allocator.h"
#include "core/runtime/file_io.h"
#include "core/runtime/runtime.h"
#include "core/train/fused_sgd.h"
#include "core/train/schedule.h"

namespace distill {

namespace {

double unixNow() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// `fused`: FusedSGD, which computes torch::optim::SGD's step bit for bit in one pass (the plain
// reference loop keeps LibTorch's).
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& c, const std::vector<torch::Tensor>& params,
                                                       bool fused) {
  if (c.optimizer == "adam")
    return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(c.lr).weight_decay(c.weight_decay));
  if (c.optimizer == "adamw")
    return std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(c.lr).weight_decay(c.weight_decay));
  const auto options = torch::optim::SGDOptions(c.lr).momentum(c.momentum).nesterov(c.nesterov).weight_decay(c.weight_decay);
  if (fused) return std::make_unique<FusedSGD>(params, options);
  return std::make_unique<torch::optim::SGD>(params, options);
}

void setLr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

// CUDA autocast (train.autocast) for the forward passes and the loss, as torch.autocast:
// matrix products in the lower precision, reductions such as log_softmax in float32.
// LibTorch 2.4 replaced the CUDA-specific calls by per-device-type ones.
class AutocastScope {
 public:
  AutocastScope(bool enabled, at::ScalarType dtype) : enabled_(enabled) {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    was_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    previous_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, dtype);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    was_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!enabled_) return;
    // The weight casts are cached within one scope; drop them, since the weights change.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, was_enabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, previous_dtype_);
#else
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

// Dynamic loss scaling for fp16 autocast (what torch.cuda.amp.GradScaler does): the loss is
// multiplied by `scale` before backward so that small gradients survive in fp16; the
// gradients are unscaled and checked on the device, a step with an inf/NaN gradient is
// skipped and the scale halved, and after 2000 good steps it doubles.
struct LossScaler {
  torch::Tensor scale;           // float32 [1]
  torch::Tensor growth_tracker;  // int32 [1]
  torch::Tensor found_inf;       // float32 [1]
  explicit LossScaler(const torch::Device& device)
      : scale(torch::full({1}, 65536.0, torch::TensorOptions().dtype(torch::kFloat32).device(device))),
        growth_tracker(torch::zeros({1}, torch::TensorOptions().dtype(torch::kInt32).device(device))),
        found_inf(torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat32).device(device))) {}

  // Backward of the scaled loss, unscale, step unless a gradient overflowed, update the scale.
  void backwardAndStep(const torch::Tensor& loss, torch::optim::Optimizer& optimizer,
                       const std::vector<torch::Tensor>& parameters) {
    (loss.to(torch::kFloat32) * scale).backward();
    std::vector<torch::Tensor> grads;
    for (const auto& p : parameters)
      if (p.grad().defined()) grads.push_back(p.grad());
    found_inf.zero_();
    at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf, scale.reciprocal());
    // The one host read per step in fp16 mode, as GradScaler's: whether to step at all.
    if (found_inf.item<float>() == 0.0f) optimizer.step();
    at::_amp_update_scale_(scale, growth_tracker, found_inf, /*scale_growth_factor=*/2.0,
                           /*scale_backoff_factor=*/0.5, /*growth_interval=*/2000);
  }
};

}  // namespace

struct Trainer::Impl {
  ExperimentConfig config;
  const DatasetSplits& data;
  TrainerOptions options;
  TrainingObserver& observer;
  RunControl& control;

  torch::Device device{torch::kCPU};
  bool autocast = false;  // train.autocast on a CUDA device
  at::ScalarType autocast_dtype = at::kFloat;
  TensorDataset train;
  TensorDataset test;
  Model teacher;
  Model student;
  std::unique_ptr<DistillationLoss> loss;
  bool fitnet = false;  // feature hints beside the logits (core/losses/fitnet.h)
  HintRegressor regressor{nullptr};
  std::map<std::string, std::string> environment;
  std::map<std::string, double> last_values;

  int64_t teacher_steps = 0;  // planned optimizer steps of each phase
  int64_t student_steps = 0;
  int64_t done_steps = 0;
  std::chrono::steady_clock::time_point started;
  torch::Tensor teacher_test_logits;
  ResumePoint resume;  // phase empty: a fresh run

  Impl(const ExperimentConfig& c, const DatasetSplits& d, TrainerOptions o, TrainingObserver& obs, RunControl& ctl)
      : config(c), data(d), options(std::move(o)), observer(obs), control(ctl) {
    device = torch::Device(resolveDevice(config.device));
    const ThreadSettings threads = applyThreadSettings(config.threads, config.gemm);
    torch::manual_seed(config.seed);
    if (device.is_cuda()) torch::cuda::manual_seed_all(config.seed);

    teacher = buildModel(config.teacher.model, config.teacher.source, data.input_shape, data.num_classes);
    student = buildModel(config.student, config.student_source, data.input_shape, data.num_classes);
    if (!options.teacher_weights.empty()) teacher->loadCheckpoint(options.teacher_weights);
    // Known before a resume reads the state: the hint regressor's weights are part of it.
    fitnet = config.distill.method == "fitnet";
    std::optional<torch::serialize::InputArchive> resumed_regressor;
    if (!options.resume_state.empty()) {
      resume = readResumePoint(options.resume_state);
      const auto folder = std::filesystem::path(options.resume_state).parent_path();
      // The model of the interrupted phase comes from the state itself; in the student phase
      // the teacher is the final one of phase 1 (teacher.pt, unchanged since).
      if (resume.phase == "student" && teacherTrained()) teacher->loadCheckpoint((folder / "teacher.pt").string());
      torch::serialize::InputArchive state, model_state;
      state.load_from(options.resume_state);
      state.read("model", model_state);
      (resume.phase == "student" ? student : teacher)->load(model_state);
      if (fitnet && resume.phase == "student") {
        resumed_regressor.emplace();
        state.read("regressor", *resumed_regressor);  // loaded once the regressor is built
      }
    }
    teacher->to(device);
    student->to(device);
    loss = makeLoss(config.distill);
    if (fitnet) {
      // Probe both models once for their feature shapes (an invalid layer index fails here,
      // before anything is trained).
      torch::NoGradGuard no_grad;
      const auto probe = data.train.inputs.slice(0, 0, 2).to(device);
      const auto student_features = student->forwardWithFeature(probe, config.distill.hint_student_layer).second;
      const auto teacher_features = teacher->forwardWithFeature(probe, config.distill.hint_teacher_layer).second;
      regressor = HintRegressor(student_features.sizes().slice(1).vec(), teacher_features.sizes().slice(1).vec());
      // A resumed student phase continues with the regressor it had learned, not a fresh one.
      if (resumed_regressor) regressor->load(*resumed_regressor);
      regressor->to(device);
    }
    // The whole training set on the device when it fits: a batch is then one gather there,
    // with no host copy per step. Otherwise it stays in host memory and each gathered batch
    // is copied over.
    bool train_on_device = true;
    try {
      train = data.train.to(device);
    } catch (const c10::Error&) {
      if (!device.is_cuda()) throw;
      train = data.train;
      train_on_device = false;
    }
    test = data.test.to(device);
    if (config.train.autocast != "off" && device.is_cuda()) {
      autocast = true;
      autocast_dtype = config.train.autocast == "bf16" ? at::kBFloat16 : at::kHalf;
    }

    const int64_t batches = (train.size() + config.train.batch_size - 1) / config.train.batch_size;
    teacher_steps = teacherTrained() ? batches * config.teacher.epochs : 0;
    student_steps = batches * config.train.epochs;

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
        {"dataset_folder", data.folder},
        {"train_samples", std::to_string(train.size())},
        {"test_samples", std::to_string(test.size())},
        {"num_classes", std::to_string(data.num_classes)},
        {"input_shape", c10::str(c10::IntArrayRef(data.input_shape))},
        {"teacher_parameters", std::to_string(teacher->parameterCount())},
        {"student_parameters", std::to_string(student->parameterCount())},
        {"teacher_summary", teacher->summary()},
        {"student_summary", student->summary()},
    };
    if (device.is_cuda()) environment["cuda_device_count"] = std::to_string(torch::cuda::device_count());
    // How the C library's allocator is set (core/runtime/allocator.h): the programs set it at
    // start; a library user who did not is told so.
    const std::string allocator = allocatorSetting();
    environment["allocator"] = allocator.empty() ? "C library defaults (configureAllocator() not called)" : allocator;
    environment["training_set_on_device"] = train_on_device ? "yes" : "no (does not fit; batches copied per step)";
    environment["autocast"] = autocast ? config.train.autocast
                                       : (config.train.autocast == "off" ? "off" : "off (CUDA only; float32 on the CPU)");
  }

  bool teacherTrained() const { return options.teacher_weights.empty() && !isTorchScriptSource(config.teacher.source); }
  std::string teacherOrigin() const {
    return options.teacher_weights.empty() ? torchScriptPath(config.teacher.source) : options.teacher_weights;
  }

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

  void evaluate(Phase phase, int64_t step, double epoch) {
    const double now = unixNow();
    std::vector<MetricPoint> points;
    if (phase == Phase::Teacher) {
      const auto logits = predictLogits(teacher, test.inputs);
      points.push_back({metric_key::kTeacherAcc, step, epoch, now, accuracy(logits, test.targets)});
      points.push_back({metric_key::kTeacherTestLoss, step, epoch, now, crossEntropy(logits, test.targets)});
      points.push_back({metric_key::kTeacherEce, step, epoch, now, expectedCalibrationError(logits, test.targets)});
    } else {
      const auto logits = predictLogits(student, test.inputs);
      points.push_back({metric_key::kStudentAcc, step, epoch, now, accuracy(logits, test.targets)});
      points.push_back({metric_key::kStudentTestLoss, step, epoch, now, crossEntropy(logits, test.targets)});
      points.push_back({metric_key::kAgreement, step, epoch, now, topOneAgreement(teacher_test_logits, logits)});
      points.push_back({metric_key::kKl, step, epoch, now, predictiveKl(teacher_test_logits, logits)});
      // Fidelity beyond top-1 (core/fidelity/fidelity.h).
      points.push_back({metric_key::kTopFiveOverlap, step, epoch, now, topKOverlap(teacher_test_logits, logits, 5)});
      points.push_back({metric_key::kJs, step, epoch, now, jsDivergence(teacher_test_logits, logits)});
      points.push_back({metric_key::kStudentEce, step, epoch, now, expectedCalibrationError(logits, test.targets)});
    }
    emit(points);
  }

  // Writes a file through `write(temporary)` and renames it into place. When it cannot be
  // written (a full disk, a folder made read-only) the run fails naming the file; the
  // temporary is removed and the previous checkpoint stays as it was.
  template <typename Write>
  static void writeAtomically(const std::filesystem::path& path, Write&& write) {
    const std::string temporary = path.string() + ".tmp";
    try {
      write(temporary);
      std::filesystem::rename(temporary, path);
    } catch (const std::exception& e) {
      std::error_code ec;
      std::filesystem::remove(temporary, ec);
      const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
      const std::string reason = torch_error ? torch_error->what_without_backtrace() : e.what();
      throw std::runtime_error("cannot write the checkpoint " + path.string() + " (disk full or not writable?): " +
                               reason.substr(0, 300));
    }
  }

  // Writes the model (<role>.pt, for reuse and export) and the training state (state.pt:
  // the same weights, optimizer, RNG, epoch and step), each to a temporary file renamed into
  // place, so a reader never sees half a file. The state carries its own copy of the weights
  // so that a kill between the two writes cannot pair a state with weights of another epoch.
  void checkpoint(const std::string& role, Model& model, int64_t step, int64_t epoch,
                  torch::optim::Optimizer& optimizer, torch::Generator& augment_generator) {
    if (options.artifacts_dir.empty()) return;
    std::filesystem::create_directories(options.artifacts_dir);
    const auto folder = std::filesystem::path(options.artifacts_dir);
    const auto model_path = folder / (role + ".pt");
    writeAtomically(model_path, [&](const std::string& temporary) { model->saveCheckpoint(temporary); });

    torch::serialize::OutputArchive state;
    state.write("phase_is_student", torch::tensor(role == "student" ? 1 : 0, torch::kInt64));
    state.write("epoch", torch::tensor(epoch, torch::kInt64));
    state.write("step", torch::tensor(step, torch::kInt64));
    state.write("wall_time", torch::tensor(unixNow(), torch::kFloat64));
    {
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      state.write("cpu_rng", generator.get_state());
    }
    {
      std::lock_guard<std::mutex> lock(augment_generator.mutex());
      state.write("augment_rng", augment_generator.get_state());
    }
    torch::serialize::OutputArchive optimizer_state, model_state;
    optimizer.save(optimizer_state);
    state.write("optimizer", optimizer_state);
    model->save(model_state);
    state.write("model", model_state);
    if (fitnet && role == "student") {
      torch::serialize::OutputArchive regressor_state;
      regressor->save(regressor_state);
      state.write("regressor", regressor_state);
    }
    const auto state_path = folder / "state.pt";
    writeAtomically(state_path, [&](const std::string& temporary) {
      std::ostringstream bytes;
      state.save_to(bytes);  // in memory: see core/runtime/file_io.h for why not to the file
      writeWholeFile(temporary, bytes.str());
    });
    observer.onCheckpoint({role, model_path.string(), step, static_cast<double>(epoch)});
    observer.onCheckpoint({"state", state_path.string(), step, static_cast<double>(epoch)});
  }

  // The frozen teacher's logits on `inputs`, evaluationChunk() samples at a time (never one
  // forward pass over the whole set, whose activations would dominate peak memory), each chunk
  // moved to the device, under the same autocast as a training step so that cached and computed
  // logits agree.
  torch::Tensor teacherLogitsInChunks(const torch::Tensor& inputs) {
    const int64_t chunk = evaluationChunk(*teacher);
    torch::NoGradGuard no_grad;
    const bool was_training = teacher->is_training();
    teacher->eval();
    std::vector<torch::Tensor> parts;
    for (int64_t begin = 0; begin < inputs.size(0); begin += chunk) {
      AutocastScope amp(autocast, autocast_dtype);
      parts.push_back(teacher->forward(inputs.slice(0, begin, std::min(begin + chunk, inputs.size(0))).to(device)));
    }
    teacher->train(was_training);
    return torch::cat(parts, 0);
  }

  // Trains one phase; returns false when stopped.
  bool trainPhase(Phase phase) {
    const bool is_teacher = phase == Phase::Teacher;
    Model& model = is_teacher ? teacher : student;
    const int64_t epochs = is_teacher ? config.teacher.epochs : config.train.epochs;
    const int64_t batch_size = config.train.batch_size;
    const std::string prefix = is_teacher ? metric_key::kTeacherTrainLoss : metric_key::kStudentTrainLoss;

    auto parameters = model->parameters();
    if (fitnet && !is_teacher)
      for (const auto& p : regressor->parameters()) parameters.push_back(p);
    auto optimizer = makeOptimizer(config.train, parameters, /*fused=*/!options.reference_loop);
    BatchSampler sampler(train.size(), batch_size, config.seed + (is_teacher ? 1 : 2));
    const int64_t per_epoch = sampler.batchesPerEpoch();
    const int64_t total = per_epoch * epochs;

    // Augmentation: per-phase generator, so a resumed run draws the same crops and flips.
    const bool augment = config.dataset.augment;
    torch::Generator augment_generator = at::make_generator<at::CPUGeneratorImpl>(config.seed + (is_teacher ? 3 : 4));
    AugmentOptions augment_options;
    augment_options.fill = -config.dataset.mean / config.dataset.std;  // black, as torchvision pads

    int64_t first_epoch = 1, step = 0;
    if (resume.phase == phaseName(phase)) {
      // Same shuffles as the uninterrupted run: replay the permutations of the done epochs.
      for (int64_t e = 0; e < resume.epoch; ++e) sampler.reshuffle();
      if (augment) {
        torch::serialize::InputArchive augment_state;
        augment_state.load_from(options.resume_state);
        torch::Tensor saved;
        augment_state.read("augment_rng", saved);
        std::lock_guard<std::mutex> lock(augment_generator.mutex());
        augment_generator.set_state(saved);
      }
      first_epoch = resume.epoch + 1;
      step = resume.step;
      done_steps += step;
      torch::serialize::InputArchive state, optimizer_state;
      state.load_from(options.resume_state);
      state.read("optimizer", optimizer_state);
      optimizer->load(optimizer_state);
      torch::Tensor rng;
      state.read("cpu_rng", rng);
      at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle: shares the default
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(rng);
      log(LogLevel::Info, std::string("resumed the ") + phaseName(phase) + " phase after epoch " +
                              std::to_string(resume.epoch) + " (step " + std::to_string(step) + ")");
    }

    const TeacherAccess access{config.distill.teacher_access, config.distill.topk, config.distill.topk_renormalize};

    torch::Tensor teacher_train_logits;
    if (!is_teacher && loss->needsTeacher() && config.distill.cache_teacher_logits) {
      // Exact only when the teacher sees the same input at every epoch.
      if (fitnet) {
        log(LogLevel::Info, "teacher-logit cache off: FitNet needs the teacher's features at every step");
      } else if (augment) {
        log(LogLevel::Info, "teacher-logit cache off: augmented inputs differ at every epoch");
      } else {
        teacher_train_logits = teacherLogitsInChunks(train.inputs);
        log(LogLevel::Info, "cached the teacher's logits on " + std::to_string(train.size()) + " training inputs");
      }
    }
    if (!is_teacher) teacher->eval();
    model->train();

    // Running sums stay on the device; read back only when logged (one sync per log). In
    // float64: a float32 loss added in double precision is exactly what the plain loop's
    // host-side `sum += loss.item<double>()` computes, so both log the same means.
    const bool plain = options.reference_loop;
    auto zero = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    torch::Tensor sum_total = zero.clone(), sum_kd = zero.clone(), sum_ce = zero.clone(), sum_hint = zero.clone();
    double host_total = 0.0, host_kd = 0.0, host_ce = 0.0, host_hint = 0.0;  // the plain loop's sums
    auto accumulate = [plain](torch::Tensor& on_device, double& on_host, const torch::Tensor& value) {
      if (plain)
        on_host += value.item<double>();
      else
        on_device += value.detach();
    };
    auto readSum = [plain](const torch::Tensor& on_device, double on_host) {
      return plain ? on_host : on_device.item<double>();
    };
    std::unique_ptr<LossScaler> scaler;
    if (autocast && autocast_dtype == at::kHalf) scaler = std::make_unique<LossScaler>(device);
    const bool hints = fitnet && !is_teacher;
    int64_t interval_steps = 0, interval_samples = 0;
    auto interval_start = std::chrono::steady_clock::now();
    auto last_progress = interval_start;
    double samples_per_s = 0.0;
    std::vector<MetricPoint> points;
    // What is not training (a pause, an evaluation, a checkpoint) stays out of the samples/s of
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
      const auto order = plain ? torch::Tensor() : sampler.permutation().to(train.inputs.device());
      for (int64_t b = 0; b < per_epoch; ++b) {
        bool stop = false;
        outsideInterval([&] { stop = shouldStop(); });
        if (stop) return false;
        const auto indices =
            plain ? sampler.batch(b).to(train.inputs.device())
                  : order.slice(0, b * batch_size, std::min((b + 1) * batch_size, train.size()));
        const auto gathered = train.inputs.index_select(0, indices).to(device);
        const auto inputs = augment ? augmentImages(gathered, augment_generator, augment_options) : gathered;
        const auto targets = train.targets.index_select(0, indices).to(device);
        setLr(*optimizer, learningRateAt(config.train, step, per_epoch, total));

        const double fractional_epoch = static_cast<double>(epoch - 1) + static_cast<double>(b) / per_epoch;
        if (plain) {
          optimizer->zero_grad();
        } else {
          // Released rather than zeroed: backward then writes fresh gradients instead of
          // adding to zeros (the same values, without a memset and an add per parameter).
          for (auto& p : parameters) p.mutable_grad().reset();
        }
        std::optional<AutocastScope> amp;
        amp.emplace(autocast, autocast_dtype);
        torch::Tensor logits, student_features;
        if (hints)
          std::tie(logits, student_features) = model->forwardWithFeature(inputs, config.distill.hint_student_layer);
        else
          logits = model->forward(inputs);
        LossTerms terms;
        if (is_teacher) {
          terms.total = torch::nn::functional::cross_entropy(logits, targets);
        } else {
          torch::Tensor teacher_logits, teacher_features;
          if (hints) {
            torch::NoGradGuard no_grad;
            std::tie(teacher_logits, teacher_features) =
                teacher->forwardWithFeature(inputs, config.distill.hint_teacher_layer);
          } else if (teacher_train_logits.defined()) {
            teacher_logits = teacher_train_logits.index_select(0, indices.to(device));
          } else if (loss->needsTeacher()) {
            torch::NoGradGuard no_grad;
            teacher_logits = teacher->forward(inputs);
          }
          terms = loss->compute({logits, teacher_logits, targets, fractional_epoch, access});
          if (hints) {
            const auto hint = hintLoss(regressor->forward(student_features), teacher_features);
            accumulate(sum_hint, host_hint, hint);
            const double weight = config.distill.hint_weight;
            if (config.distill.hint_epochs > 0) {
              // Stage 1 (Romero et al.): the hint alone; stage 2: knowledge distillation.
              if (epoch <= config.distill.hint_epochs) terms.total = weight * hint;
            } else {
              const double warm = config.distill.warmup_epochs > 0
                                      ? std::min(fractional_epoch / config.distill.warmup_epochs, 1.0)
                                      : 1.0;
              terms.total = terms.total + warm * weight * hint;
            }
          }
        }
        amp.reset();
        if (scaler) {
          scaler->backwardAndStep(terms.total, *optimizer, parameters);
        } else {
          terms.total.backward();
          optimizer->step();
        }
        ++step;
        ++done_steps;
        ++interval_steps;
        interval_samples += inputs.size(0);
        accumulate(sum_total, host_total, terms.total);
        if (!is_teacher) {
          accumulate(sum_kd, host_kd, terms.kd);
          accumulate(sum_ce, host_ce, terms.ce);
        }

        const double epoch_done = static_cast<double>(epoch - 1) + static_cast<double>(b + 1) / per_epoch;
        const bool epoch_end = b + 1 == per_epoch;
        if (step % config.train.log_every == 0 || epoch_end) {
          const double mean_total = readSum(sum_total, host_total) / interval_steps;
          if (!std::isfinite(mean_total))
            throw DivergenceError("diverged at step " + std::to_string(step) + " of the " + phaseName(phase) +
                                  " phase (loss is " + std::to_string(mean_total) + ")");
          const auto now = std::chrono::steady_clock::now();
          const double seconds = std::chrono::duration<double>(now - interval_start).count();
          samples_per_s = seconds > 0 ? interval_samples / seconds : 0.0;
          const double wall = unixNow();
          points.push_back({prefix, step, epoch_done, wall, mean_total});
          if (!is_teacher) {
            points.push_back({metric_key::kKdLoss, step, epoch_done, wall, readSum(sum_kd, host_kd) / interval_steps});
            points.push_back({metric_key::kCeLoss, step, epoch_done, wall, readSum(sum_ce, host_ce) / interval_steps});
          }
          if (hints)
            points.push_back({metric_key::kHintLoss, step, epoch_done, wall, readSum(sum_hint, host_hint) / interval_steps});
          points.push_back({metric_key::kSamplesPerSecond, step, epoch_done, wall, samples_per_s});
          emit(points);
          sum_total.zero_();
          sum_kd.zero_();
          sum_ce.zero_();
          sum_hint.zero_();
          host_total = host_kd = host_ce = host_hint = 0.0;
          interval_steps = 0;
          interval_samples = 0;
          interval_start = now;
        }
        const bool eval_now = config.train.eval_every > 0 ? (step % config.train.eval_every == 0) : epoch_end;
        if (eval_now) outsideInterval([&] { evaluate(phase, step, epoch_done); });

        const auto now = std::chrono::steady_clock::now();
        if (now - last_progress > std::chrono::milliseconds(100) || epoch_end) {
          last_progress = now;
          reportProgress(phase, epoch, epochs, step, total, samples_per_s);
        }
      }
      outsideInterval([&] { checkpoint(phaseName(phase), model, step, epoch, *optimizer, augment_generator); });
    }
    if (config.train.eval_every > 0 && step % config.train.eval_every != 0) evaluate(phase, step, epochs);
    return true;
  }

  void reportProgress(Phase phase, int64_t epoch, int64_t epochs, int64_t step, int64_t steps_in_phase,
                      double samples_per_s) {
    ProgressInfo p;
    p.phase = phase;
    p.epoch = epoch;
    p.epochs = epochs;
    p.step = step;
    p.steps_in_phase = steps_in_phase;
    p.done_steps = done_steps;
    p.total_steps = teacher_steps + student_steps;
    p.samples_per_s = samples_per_s;
    p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double steps_per_s = samples_per_s / static_cast<double>(config.train.batch_size);
    p.eta_s = steps_per_s > 0 ? static_cast<double>(p.total_steps - p.done_steps) / steps_per_s : 0.0;
    p.device = device.str();
    observer.onProgress(p);
  }

  RunResult run() {
    started = std::chrono::steady_clock::now();
    observer.onStarted(environment);
    log(LogLevel::Info, "device " + device.str() + ", " + environment["threads_reason"] + " (" + environment["blas"] + ")");
    RunResult result;
    try {
      if (teacherTrained() && resume.phase != "student") {
        log(LogLevel::Info, "phase 1: training the teacher (" + environment["teacher_summary"] + ")");
        if (!trainPhase(Phase::Teacher)) return stopped();
      } else if (teacherTrained()) {
        done_steps += teacher_steps;
      } else {
        log(LogLevel::Info, "phase 1: teacher loaded from " + teacherOrigin());
        evaluate(Phase::Teacher, 0, 0.0);
      }
      teacher_test_logits = predictLogits(teacher, test.inputs);
      log(LogLevel::Info, "phase 2: distilling into the student (" + environment["student_summary"] + ")");
      if (resume.phase != "student") evaluate(Phase::Student, 0, 0.0);
      if (!trainPhase(Phase::Student)) return stopped();
      result.outcome = RunOutcome::Completed;
      log(LogLevel::Info, "run completed");
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

ResumePoint readResumePoint(const std::string& state_path) {
  ResumePoint point;
  try {
    torch::serialize::InputArchive state;
    state.load_from(state_path);
    torch::Tensor phase, epoch, step, wall;
    state.read("phase_is_student", phase);
    state.read("epoch", epoch);
    state.read("step", step);
    state.read("wall_time", wall);
    point.phase = phase.item<int64_t>() == 1 ? "student" : "teacher";
    point.epoch = epoch.item<int64_t>();
    point.step = step.item<int64_t>();
    point.wall_time = wall.item<double>();
  } catch (const c10::Error& e) {
    throw ModelError(state_path + ": not a training-state checkpoint (" +
                     std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
  return point;
}

Trainer::Trainer(const ExperimentConfig& config, const DatasetSplits& data, TrainerOptions options,
                 TrainingObserver& observer, RunControl& control)
    : impl_(std::make_unique<Impl>(config, data, std::move(options), observer, control)) {}

Trainer::~Trainer() = default;

RunResult Trainer::run() {
  const TrainingInProcess training;  // the mirror test refuses to touch global state meanwhile
  return impl_->run();
}

void Trainer::setArtifactsDir(const std::string& folder) { impl_->options.artifacts_dir = folder; }

const std::map<std::string, std::string>& Trainer::environment() const { return impl_->environment; }

}  // namespace distill
