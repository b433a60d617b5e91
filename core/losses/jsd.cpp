#include <cmath>

#include "core/losses/loss.h"

namespace distill {

namespace {

// log(1 + e^x), accurate for small e^x (log1p) and without overflow for large x. Each branch
// sees its input clamped to its own side, so the branch torch::where drops has finite values
// and contributes an exact 0 to the gradient.
torch::Tensor logOnePlusExp(const torch::Tensor& x) {
  const auto positive = x.clamp_min(0.0), negative = x.clamp_max(0.0);
  return torch::where(x > 0, positive + torch::log1p(torch::exp(-positive)), torch::log1p(torch::exp(negative)));
}

}  // namespace

// Why divide by beta (1 - beta). With M = beta P_t + (1 - beta) P_s, as beta -> 0, M -> P_s,
// so beta KL(P_t || M) = beta KL(P_t || P_s) + O(beta^2) while (1 - beta) KL(P_s || M) is
// second order (KL(Q || Q + eps) = O(eps^2)); symmetrically as beta -> 1 only
// (1 - beta) KL(P_s || P_t) survives to first order. So JSD_beta itself goes to 0 at both
// ends, and JSD_beta / (beta (1 - beta)) goes to the forward KL at beta = 0 and the reverse
// KL at beta = 1: the "beta = 0 and 1 reduce to forward and reverse KL" holds for this
// normalised form, and the endpoints below are its limits, not a switch. Near P_s = P_t every
// D_beta is half the chi-square distance, like both KLs, so T^2 is the right scale for all
// beta and the values compare directly with kd and reverse_kl.
LossTerms JsdLoss::compute(const LossInputs& in) const {
  return mixWithLabels(in, alpha_, [&] { return divergence(in) * (temperature_ * temperature_); });
}

torch::Tensor JsdLoss::divergence(const LossInputs& in) const {
  const auto d = temperedDistributions(in, temperature_);
  const auto& log_t = d.teacher_log_probs;
  const auto& log_s = d.student_log_probs;
  torch::Tensor value;
  if (beta_ <= 0.0) {
    value = klFromLogProbs(log_t, log_s);
  } else if (beta_ >= 1.0) {
    value = klFromLogProbs(log_s, log_t);
  } else {
    // The log-ratios log(M / P_s) and log(M / P_t) from the ratio r = log P_t - log P_s, not
    // as log M - log P: near beta = 0, log(M / P_s) is O(beta), and a subtraction (or
    // torch::logaddexp, measured) leaves absolute errors near 1e-16 that the division by
    // beta (1 - beta) magnifies (1e-12 of noise at beta = 1e-4 in float64). With
    // x = r + log(beta / (1 - beta)):
    //   log(M / P_s) = log(1 - beta) + log(1 + e^x),   log(M / P_t) = log(beta) + log(1 + e^-x).
    // Both stay finite where one distribution is 0 (the access modes' log 0 stand-in), so
    // the 0 * finite terms vanish.
    const double log_beta = std::log(beta_), log_rest = std::log1p(-beta_);
    const auto x = (log_t - log_s) + (log_beta - log_rest);
    const auto kl_t_m = -(log_t.exp() * (log_beta + logOnePlusExp(-x))).sum(-1).mean();  // KL(P_t || M)
    const auto kl_s_m = -(log_s.exp() * (log_rest + logOnePlusExp(x))).sum(-1).mean();   // KL(P_s || M)
    value = (beta_ * kl_t_m + (1.0 - beta_) * kl_s_m) / (beta_ * (1.0 - beta_));
  }
  return value;
}

}  // namespace distill
