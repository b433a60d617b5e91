#include "core/metrics/metrics.h"

#include "core/losses/loss.h"
#include "core/runtime/allocator.h"

namespace distill {

namespace {
torch::Tensor flat(const torch::Tensor& logits) { return logits.reshape({-1, logits.size(-1)}); }
}  // namespace

double accuracy(const torch::Tensor& logits, const torch::Tensor& targets) {
  return flat(logits).argmax(-1).eq(targets.reshape({-1})).to(torch::kFloat64).mean().item<double>();
}

double crossEntropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  return torch::nn::functional::cross_entropy(flat(logits).to(torch::kFloat64), targets.reshape({-1})).item<double>();
}

double topOneAgreement(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits) {
  return flat(teacher_logits).argmax(-1).eq(flat(student_logits).argmax(-1)).to(torch::kFloat64).mean().item<double>();
}

double predictiveKl(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits) {
  return softKlDivergence(teacher_logits.to(torch::kFloat64), student_logits.to(torch::kFloat64), 1.0).item<double>();
}

int64_t evaluationChunk(const ModelImpl& model) {
  const int64_t widest = model.widestActivationPerSample();
  if (widest <= 0) return 2048;
  const auto budget = static_cast<int64_t>(kAllocatorMmapThreshold / sizeof(float));
  int64_t chunk = 2048;
  while (chunk > 32 && chunk * widest > budget) chunk /= 2;
  return chunk;
}

}  // namespace distill
