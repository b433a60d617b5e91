#include "core/losses/loss.h"

namespace distill {

LossTerms ReverseKlLoss::compute(const LossInputs& in) const {
  return mixWithLabels(in, alpha_, [&] {
    const auto d = temperedDistributions(in, temperature_);
    // KL(P_s || P_t): the student's mass is what weighs each log-ratio. Where the teacher's
    // access mode gives an outcome probability 0 (label, renormalised top-k) its log is the
    // finite stand-in -1e4, so the student's mass there costs about 1e4 per unit instead of
    // infinity (config validation refuses those combinations for this method).
    return klFromLogProbs(d.student_log_probs, d.teacher_log_probs) * (temperature_ * temperature_);
  });
}

}  // namespace distill
