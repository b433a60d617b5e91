#include "core/losses/fitnet.h"

#include "core/errors.h"
#include "core/metrics/metric_keys.h"
#include "core/models/linear.h"

namespace distill {

HintRegressorImpl::HintRegressorImpl(const std::vector<int64_t>& student_shape, const std::vector<int64_t>& teacher_shape)
    : teacher_shape_(teacher_shape) {
  convolutional_ = student_shape.size() == 3 && teacher_shape.size() == 3 && student_shape[1] == teacher_shape[1] &&
                   student_shape[2] == teacher_shape[2];
  if (convolutional_) {
    conv_ = register_module(
        "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(student_shape[0], teacher_shape[0], /*kernel_size=*/1)));
  } else {
    int64_t in = 1, out = 1;
    for (auto d : student_shape) in *= d;
    for (auto d : teacher_shape) out *= d;
    linear_ = register_module("linear", torch::nn::Linear(in, out));
  }
}

torch::Tensor HintRegressorImpl::forward(const torch::Tensor& student_features) {
  if (convolutional_) return conv_->forward(student_features);
  std::vector<int64_t> shape{student_features.size(0)};
  shape.insert(shape.end(), teacher_shape_.begin(), teacher_shape_.end());
  return linear(student_features.flatten(1), linear_->weight, linear_->bias).reshape(shape);
}

torch::Tensor hintLoss(const torch::Tensor& regressed, const torch::Tensor& teacher_features) {
  return (regressed - teacher_features).pow(2).mean();
}

FitNetLoss::FitNetLoss(const DistillConfig& config) : kd_(config.temperature, config.alpha), config_(config) {}

std::optional<FeatureLayers> FitNetLoss::featureLayers() const {
  return FeatureLayers{config_.hint_student_layer, config_.hint_teacher_layer};
}

void FitNetLoss::prepare(const torch::Tensor& student_features, const torch::Tensor& teacher_features) {
  regressor_ = HintRegressor(student_features.sizes().slice(1).vec(), teacher_features.sizes().slice(1).vec());
  regressor_->to(student_features.device());
}

std::vector<torch::Tensor> FitNetLoss::parameters() const {
  return regressor_ ? regressor_->parameters() : std::vector<torch::Tensor>{};
}

void FitNetLoss::to(const torch::Device& device) {
  if (regressor_) regressor_->to(device);
}

// The regressor a resumed student phase continues with, not a fresh one.
void FitNetLoss::save(torch::serialize::OutputArchive& state) const {
  if (!regressor_) return;
  torch::serialize::OutputArchive regressor_state;
  regressor_->save(regressor_state);
  state.write("regressor", regressor_state);
}

void FitNetLoss::load(torch::serialize::InputArchive& state) {
  if (!regressor_) throw ModelError("fitnet: the hint regressor is loaded before it was built");
  torch::serialize::InputArchive regressor_state;
  state.read("regressor", regressor_state);
  regressor_->load(regressor_state);
}

LossTerms FitNetLoss::compute(const LossInputs& in) const {
  LossTerms terms = kd_.compute(in);
  // ptr(): the holder is const here, the module it shares is not (its forward records grad).
  const auto hint = hintLoss(regressor_.ptr()->forward(in.student_features), in.teacher_features);
  terms.parts.push_back({metric_key::kHintLoss, hint});
  const double weight = config_.hint_weight;
  if (config_.hint_epochs > 0) {
    // Stage 1 (Romero et al.): the hint alone; stage 2: knowledge distillation. in.epoch is
    // fractional: epoch e (1-based) runs over [e - 1, e).
    if (in.epoch < static_cast<double>(config_.hint_epochs)) terms.total = weight * hint;
  } else {
    const double warm = config_.warmup_epochs > 0 ? std::min(in.epoch / config_.warmup_epochs, 1.0) : 1.0;
    terms.total = terms.total + warm * weight * hint;
  }
  return terms;
}

}  // namespace distill
