#include "core/losses/loss.h"

namespace distill {

LossTerms ReverseKlLoss::compute(const LossInputs& in) const {
  LossTerms terms;
  terms.ce = labelCrossEntropy(in.student_logits, in.targets);
  if (alpha_ > 0.0) {
    const auto d = temperedDistributions(in, temperature_);
    // KL(P_s || P_t): the student's mass is what weighs each log-ratio. Where the teacher's
    // access mode gives an outcome probability 0 (label, renormalised top-k) its log is the
    // finite stand-in -1e4, so the student's mass there costs about 1e4 per unit instead of
    // infinity: the loss stays finite but is dominated by that penalty.
    terms.kd = klFromLogProbs(d.student_log_probs, d.teacher_log_probs) * (temperature_ * temperature_);
    terms.total = alpha_ * terms.kd + (1.0 - alpha_) * terms.ce;
  } else {
    terms.kd = torch::zeros({}, in.student_logits.options());
    terms.total = terms.ce;
  }
  return terms;
}

}  // namespace distill
