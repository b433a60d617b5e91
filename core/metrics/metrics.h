// Evaluation metrics on logits. Teacher and student logits are [N, C] (or [N, L, C]);
// targets are class indices. Thread contract: pure functions.
#pragma once

#include <torch/torch.h>

#include <type_traits>

#include "core/models/model.h"

namespace distill {

// Fraction of positions whose arg-max equals the target.
double accuracy(const torch::Tensor& logits, const torch::Tensor& targets);
// Mean cross-entropy.
double crossEntropy(const torch::Tensor& logits, const torch::Tensor& targets);
// Top-1 agreement: fraction of positions where teacher and student predict the same class.
double topOneAgreement(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits);
// Predictive KL(teacher || student) at T = 1, averaged over positions.
double predictiveKl(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits);

// How many samples an evaluation passes through `model` at a time: the most (a power of two,
// 32 to 2048) whose widest intermediate tensor stays under the allocator's mmap threshold
// (core/runtime/allocator.h), so that its activations come from reused heap pages. A CNN whose
// first convolution gives 32x28x28 values per sample runs 256 at a time, an MLP 2048. Larger
// chunks of that CNN (2048: 200 MB per activation) were evaluated at half the speed, mostly
// spent in page faults. 2048 for a model that does not report its activations.
int64_t evaluationChunk(const ModelImpl& model);
template <typename M, std::enable_if_t<!std::is_base_of_v<ModelImpl, M>, int> = 0>
int64_t evaluationChunk(const M&) {
  return 2048;
}

// Forward pass over a whole split in chunks (0: evaluationChunk()), in eval mode without gradients.
template <typename Model>
torch::Tensor predictLogits(Model& model, const torch::Tensor& inputs, int64_t chunk = 0) {
  if (chunk <= 0) chunk = evaluationChunk(*model);
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
