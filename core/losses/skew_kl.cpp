#include <cmath>

#include "core/losses/loss.h"

namespace distill {

// log(lambda P + (1 - lambda) Q) from log P and log Q, without leaving the log domain (where
// either distribution has the access modes' log 0 stand-in, the other's mass carries the sum).
torch::Tensor SkewKlLoss::logMixture(const torch::Tensor& log_p, const torch::Tensor& log_q) const {
  return torch::logaddexp(log_p + std::log(skew_), log_q + std::log1p(-skew_));
}

LossTerms SkewKlLoss::compute(const LossInputs& in) const {
  return mixWithLabels(in, alpha_, [&] {
    const auto d = temperedDistributions(in, temperature_);
    const auto& log_t = d.teacher_log_probs;
    const auto& log_s = d.student_log_probs;
    // Forward: KL(P_t || lambda P_t + (1 - lambda) P_s). Reverse: KL(P_s || lambda P_s + (1 - lambda) P_t).
    const auto value = reverse_ ? klFromLogProbs(log_s, logMixture(log_s, log_t)) : klFromLogProbs(log_t, logMixture(log_t, log_s));
    return value * (temperature_ * temperature_);
  });
}

}  // namespace distill
