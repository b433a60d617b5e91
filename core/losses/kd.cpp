#include "core/losses/loss.h"

namespace distill {

LossTerms HintonKdLoss::compute(const LossInputs& in) const {
  LossTerms terms;
  terms.ce = labelCrossEntropy(in.student_logits, in.targets);
  if (alpha_ > 0.0) {
    const auto d = temperedDistributions(in, temperature_);
    terms.kd = klFromLogProbs(d.teacher_log_probs, d.student_log_probs) * (temperature_ * temperature_);
    terms.total = alpha_ * terms.kd + (1.0 - alpha_) * terms.ce;
  } else {
    terms.kd = torch::zeros({}, in.student_logits.options());
    terms.total = terms.ce;
  }
  return terms;
}

}  // namespace distill
