#include "core/losses/loss.h"

namespace distill {

LossTerms TvdLoss::compute(const LossInputs& in) const {
  LossTerms terms;
  terms.ce = labelCrossEntropy(in.student_logits, in.targets);
  if (alpha_ > 0.0) {
    const auto d = temperedDistributions(in, temperature_);
    // Probabilities, not logs: |.| needs no log, and the access modes' log 0 stand-in
    // (-1e4) exponentiates to exactly 0. abs() has a kink where P_t,i = P_s,i; autograd takes
    // the subgradient 0 there, so the gradient stays finite at identical distributions.
    const auto tvd = 0.5 * (d.teacher_log_probs.exp() - d.student_log_probs.exp()).abs().sum(-1).mean();
    terms.kd = tvd * temperature_;
    terms.total = alpha_ * terms.kd + (1.0 - alpha_) * terms.ce;
  } else {
    terms.kd = torch::zeros({}, in.student_logits.options());
    terms.total = terms.ce;
  }
  return terms;
}

}  // namespace distill
