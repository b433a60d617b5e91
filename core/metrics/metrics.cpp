#include "core/metrics/metrics.h"

#include "core/losses/loss.h"

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

}  // namespace distill
