#include "core/losses/loss.h"

namespace distill {

LossTerms TvdLoss::compute(const LossInputs& in) const {
  return mixWithLabels(in, alpha_, [&] {
    const auto d = temperedDistributions(in, temperature_);
    // Probabilities, not logs: |.| needs no log, and the access modes' log 0 stand-in
    // (-1e4) exponentiates to exactly 0. abs() has a kink where P_t,i = P_s,i; autograd takes
    // the subgradient 0 there, so the gradient stays finite at identical distributions.
    const auto tvd = 0.5 * (d.teacher_log_probs.exp() - d.student_log_probs.exp()).abs().sum(-1).mean();
    return tvd * temperature_;
  });
}

}  // namespace distill
