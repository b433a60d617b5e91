#include "core/train/step_runner.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <optional>

#include "core/losses/chunked_loss.h"
#include "core/metrics/streaming.h"
#include "core/models/eval_scope.h"
#include "core/train/fused_sgd.h"

namespace distill {

namespace {

// CUDA autocast for the forward passes and the loss, as torch.autocast: matrix products in the
// lower precision, reductions such as log_softmax in float32. LibTorch 2.4 replaced the
// CUDA-specific calls by per-device-type ones.
class AutocastScope {
 public:
  explicit AutocastScope(const Precision& precision) : enabled_(precision.autocast) {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    was_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    previous_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, precision.dtype);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    was_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(precision.dtype);
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

void setLr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace

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

// Dynamic loss scaling for fp16 autocast (what torch.cuda.amp.GradScaler does): the loss is
// multiplied by `scale` before backward so that small gradients survive in fp16; the
// gradients are unscaled and checked on the device, a step with an inf/NaN gradient is
// skipped and the scale halved, and after 2000 good steps it doubles.
struct StepRunner::LossScaler {
  torch::Tensor scale;           // float32 [1]
  torch::Tensor growth_tracker;  // int32 [1]
  torch::Tensor found_inf;       // float32 [1]
  explicit LossScaler(const torch::Device& device)
      : scale(torch::full({1}, 65536.0, torch::TensorOptions().dtype(torch::kFloat32).device(device))),
        growth_tracker(torch::zeros({1}, torch::TensorOptions().dtype(torch::kInt32).device(device))),
        found_inf(torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat32).device(device))) {}

  // Backward of the scaled loss, unscale, step unless a gradient overflowed, update the scale.
  void backwardAndStep(const torch::Tensor& loss, torch::optim::Optimizer& optimizer,
                       const std::vector<torch::Tensor>& parameters, const std::function<void()>& after_backward) {
    (loss.to(torch::kFloat32) * scale).backward();
    after_backward();  // data-parallel: the gradients (still scaled) summed over the ranks
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

StepRunner::StepRunner(ModelImpl& model, ModelImpl* teacher, DistillationLoss* loss, const ExperimentConfig& config,
                       Precision precision, bool reference_loop, DataParallel* parallel)
    : model_(model),
      teacher_(teacher),
      loss_(loss),
      precision_(precision),
      reference_loop_(reference_loop),
      access_{config.distill.teacher_access, config.distill.topk, config.distill.topk_renormalize} {
  parameters_ = model_.parameters();
  if (loss_)
    for (const auto& p : loss_->parameters()) parameters_.push_back(p);
  optimizer_ = makeOptimizer(config.train, parameters_, /*fused=*/!reference_loop_);
  if (precision_.autocast && precision_.dtype == at::kHalf) {
    const auto device = parameters_.empty() ? torch::Device(torch::kCPU) : parameters_.front().device();
    scaler_ = std::make_unique<LossScaler>(device);
  }
  // After the optimizer took its parameters: the hooks go on the same tensors.
  if (parallel) reducer_ = parallel->gradientReducer(parameters_);
}

StepRunner::~StepRunner() = default;

torch::Tensor StepRunner::teacherOutputs(const torch::Tensor& inputs) {
  torch::NoGradGuard no_grad;
  const EvalScope eval(*teacher_);
  AutocastScope amp(precision_);
  return teacher_->forward(inputs);
}

namespace {

// A data-parallel rank's sums for one step: [units, units x total, units x kd, units x ce,
// units x each part..., stop]. Weighted by units, so that their sum over the ranks divided by
// the global units is the global batch's mean (core/train/data_parallel.h).
torch::Tensor stepSums(const LossTerms& terms, double units, bool stop) {
  std::vector<double> values{units};
  auto weighted = [&](const torch::Tensor& term) {
    values.push_back(units > 0 && term.defined() ? term.detach().to(torch::kFloat64).item<double>() * units : 0.0);
  };
  weighted(terms.total);
  weighted(terms.kd);
  weighted(terms.ce);
  for (const auto& part : terms.parts) weighted(part.second);
  values.push_back(stop ? 1.0 : 0.0);
  return torch::tensor(values, torch::kFloat64);
}

// The global batch's terms from the summed step sums (stepSums' layout), as float64 scalars.
LossTerms globalTerms(const LossTerms& local, const torch::Tensor& sums) {
  const double units = sums[0].item<double>();
  auto mean = [&](int64_t index) { return torch::tensor(units > 0 ? sums[index].item<double>() / units : 0.0, torch::kFloat64); };
  LossTerms global;
  global.total = mean(1);
  if (local.kd.defined()) global.kd = mean(2);
  if (local.ce.defined()) global.ce = mean(3);
  int64_t index = 4;
  for (const auto& part : local.parts) global.parts.emplace_back(part.first, mean(index++));
  return global;
}

}  // namespace

LossTerms StepRunner::step(const Batch& batch, const CachedTeacher& cached, double epoch, double lr) {
  last_units_ = batch.units;
  setLr(*optimizer_, lr);
  if (reference_loop_) {
    optimizer_->zero_grad();
  } else {
    // Released rather than zeroed: backward then writes fresh gradients instead of adding to
    // zeros (the same values, without a memset and an add per parameter).
    for (auto& p : parameters_) p.mutable_grad().reset();
  }
  std::optional<AutocastScope> amp;
  amp.emplace(precision_);
  const auto features = loss_ ? loss_->featureLayers() : std::nullopt;
  LossInputs in;
  if (features)
    std::tie(in.student_logits, in.student_features) = model_.forwardWithFeature(batch.inputs, features->student);
  else
    in.student_logits = model_.forward(batch.inputs);
  in.targets = batch.targets;
  LossTerms terms;
  if (!loss_) {
    terms.total = labelCrossEntropy(keptRows(in.student_logits, batch.mask, true), keptRows(in.targets, batch.mask, false));
  } else {
    if (features) {
      torch::NoGradGuard no_grad;
      std::tie(in.teacher_logits, in.teacher_features) = teacher_->forwardWithFeature(batch.inputs, features->teacher);
    } else if (cached.logits.defined()) {
      in.teacher_logits = cached.logits;
    } else if (cached.topk_log_probs.defined()) {
      in.teacher_topk_log_probs = cached.topk_log_probs;
      in.teacher_topk_indices = cached.topk_indices;
    } else if (loss_->needsTeacher()) {
      torch::NoGradGuard no_grad;
      in.teacher_logits = teacher_->forward(batch.inputs);
    }
    if (batch.mask.defined()) {
      // The loss sees only the positions that count (loss.h), as rows [M, C].
      in.student_logits = keptRows(in.student_logits, batch.mask, true);
      if (in.teacher_logits.defined()) in.teacher_logits = keptRows(in.teacher_logits, batch.mask, true);
      if (in.teacher_topk_log_probs.defined()) {
        in.teacher_topk_log_probs = keptRows(in.teacher_topk_log_probs, batch.mask, true);
        in.teacher_topk_indices = keptRows(in.teacher_topk_indices, batch.mask, true);
      }
      in.targets = keptRows(in.targets, batch.mask, false);
    }
    in.epoch = epoch;
    in.access = access_;
    terms = computeLoss(*loss_, in);  // in row chunks at a large vocabulary (core/losses/chunked_loss.h)
  }
  // What the backward pass needs is in the graph; the logits need not stay alive beside it (at a
  // 50,000-token vocabulary each is 400 MB of the step's peak).
  in = LossInputs();
  amp.reset();
  torch::Tensor sums;
  if (reducer_) reducer_->beginStep(stepSums(terms, static_cast<double>(batch.units), local_stop_), static_cast<double>(batch.units));
  auto reduce = [&] {
    if (reducer_) sums = reducer_->finishStep();
  };
  if (scaler_) {
    scaler_->backwardAndStep(terms.total, *optimizer_, parameters_, reduce);
  } else {
    terms.total.backward();
    reduce();
    optimizer_->step();
  }
  if (!reducer_) return terms;
  last_units_ = static_cast<int64_t>(sums[0].item<double>());
  agreed_stop_ = sums[sums.size(0) - 1].item<double>() > 0;
  return globalTerms(terms, sums);
}

}  // namespace distill
