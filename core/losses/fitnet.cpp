#include "core/losses/fitnet.h"

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

}  // namespace distill
