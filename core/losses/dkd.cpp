#include <algorithm>

#include "core/losses/loss.h"

namespace distill {

namespace {

// Log-probabilities at T of the binary (target, not target) outcome and of the non-target
// classes renormalised, from logits [M, C] and targets [M]. Computed in log space from the
// logits directly: log(1 - p_y) as logsumexp over the other classes minus logsumexp over all,
// and the renormalised part as a log_softmax over the C - 1 other classes. Dropping the target
// column (rather than pushing its logit down by a large constant as the authors' code does)
// leaves no 0 * log 0 term and holds for any logit scale.
struct DecoupledLogProbs {
  torch::Tensor binary;      // [M, 2]: log p_y, log (1 - p_y)
  torch::Tensor non_target;  // [M, C - 1]
};

DecoupledLogProbs decouple(const torch::Tensor& logits, const torch::Tensor& targets, double temperature) {
  const int64_t rows = logits.size(0), classes = logits.size(1);
  const auto scaled = logits / temperature;
  const auto target_mask = torch::zeros_like(scaled, torch::kBool).scatter_(-1, targets.unsqueeze(-1), true);
  const auto others = scaled.masked_select(target_mask.logical_not()).reshape({rows, classes - 1});
  const auto log_z = torch::logsumexp(scaled, -1, /*keepdim=*/true);
  const auto log_target = scaled.gather(-1, targets.unsqueeze(-1)) - log_z;
  const auto log_rest = torch::logsumexp(others, -1, /*keepdim=*/true) - log_z;
  return {torch::cat({log_target, log_rest}, -1), torch::log_softmax(others, -1)};
}

}  // namespace

double DkdLoss::warmup(double epoch) const {
  if (warmup_epochs_ <= 0.0) return 1.0;
  return std::clamp(epoch / warmup_epochs_, 0.0, 1.0);
}

LossTerms DkdLoss::compute(const LossInputs& in) const {
  LossTerms terms;
  terms.ce = labelCrossEntropy(in.student_logits, in.targets);
  if (!needsTeacher()) {
    terms.kd = torch::zeros({}, in.student_logits.options());
    terms.total = terms.ce;
    return terms;
  }
  const int64_t classes = in.student_logits.size(-1);
  TORCH_CHECK(classes >= 2, "dkd needs at least 2 classes, got ", classes);
  const auto targets = in.targets.reshape({-1});
  const auto student = decouple(in.student_logits.reshape({-1, classes}), targets, temperature_);
  const auto teacher = decouple(in.teacher_logits.detach().reshape({-1, classes}), targets, temperature_);
  const auto tckd = klFromLogProbs(teacher.binary, student.binary);
  const auto nckd = klFromLogProbs(teacher.non_target, student.non_target);
  // kd is logged before the warm-up factor, like kd's term before alpha, so its chart is
  // comparable across the warm-up.
  terms.kd = (dkd_alpha_ * tckd + dkd_beta_ * nckd) * (temperature_ * temperature_);
  terms.total = terms.ce + warmup(in.epoch) * terms.kd;
  return terms;
}

}  // namespace distill
