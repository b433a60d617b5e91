#include "core/losses/loss.h"

namespace distill {

LossTerms HintonKdLoss::compute(const LossInputs& in) const {
  return mixWithLabels(in, alpha_, [&] {
    const auto d = temperedDistributions(in, temperature_);
    return klFromLogProbs(d.teacher_log_probs, d.student_log_probs) * (temperature_ * temperature_);
  });
}

}  // namespace distill
