// Evaluation metrics on logits. Teacher and student logits are [N, C] (or [N, L, C]);
// targets are class indices. Thread contract: pure functions.
#pragma once

#include <torch/torch.h>

namespace distill {

// Fraction of positions whose arg-max equals the target.
double accuracy(const torch::Tensor& logits, const torch::Tensor& targets);
// Mean cross-entropy.
double crossEntropy(const torch::Tensor& logits, const torch::Tensor& targets);
// Top-1 agreement: fraction of positions where teacher and student predict the same class.
double topOneAgreement(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits);
// Predictive KL(teacher || student) at T = 1, averaged over positions.
double predictiveKl(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits);

// Forward pass over a whole split in chunks, in eval mode without gradients.
template <typename Model>
torch::Tensor predictLogits(Model& model, const torch::Tensor& inputs, int64_t chunk = 2048) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < inputs.size(0); begin += chunk)
    parts.push_back(model->forward(inputs.slice(0, begin, std::min(begin + chunk, inputs.size(0)))));
  model->train(was_training);
  return torch::cat(parts, 0);
}

}  // namespace distill
