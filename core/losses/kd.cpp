#include "core/losses/loss.h"

namespace distill {

torch::Tensor softKlDivergence(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits,
                               double temperature) {
  const int64_t classes = student_logits.size(-1);
  const auto teacher_log_probs = torch::log_softmax(teacher_logits.reshape({-1, classes}) / temperature, -1);
  const auto student_log_probs = torch::log_softmax(student_logits.reshape({-1, classes}) / temperature, -1);
  // sum_c p_t (log p_t - log p_s), averaged over positions ("batchmean").
  return (teacher_log_probs.exp() * (teacher_log_probs - student_log_probs)).sum(-1).mean();
}

LossTerms HintonKdLoss::compute(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                                const torch::Tensor& targets) const {
  const int64_t classes = student_logits.size(-1);
  LossTerms terms;
  terms.ce = torch::nn::functional::cross_entropy(student_logits.reshape({-1, classes}), targets.reshape({-1}));
  if (alpha_ > 0.0) {
    terms.kd = softKlDivergence(teacher_logits, student_logits, temperature_) * (temperature_ * temperature_);
    terms.total = alpha_ * terms.kd + (1.0 - alpha_) * terms.ce;
  } else {
    terms.kd = torch::zeros({}, student_logits.options());
    terms.total = terms.ce;
  }
  return terms;
}

}  // namespace distill
