// The distillation methods, one line each. A new method: its class in its own file
// (core/losses/<name>.cpp, declared in loss.h or its own header), a test in
// tests/core/losses/<name>_test.cpp, and a line here and in lossMethods().
#include <stdexcept>

#include "core/losses/fitnet.h"
#include "core/losses/loss.h"

namespace distill {

std::unique_ptr<DistillationLoss> makeLoss(const DistillConfig& config) {
  // Text access sees no distribution of the teacher's: the student learns from the teacher's
  // generated text by cross-entropy alone (sequence-level distillation, core/tasks/lm).
  if (config.teacher_access == "text") return std::make_unique<HintonKdLoss>(config.temperature, 0.0);
  if (config.method == "kd") return std::make_unique<HintonKdLoss>(config.temperature, config.alpha);
  if (config.method == "reverse_kl") return std::make_unique<ReverseKlLoss>(config.temperature, config.alpha);
  if (config.method == "jsd") return std::make_unique<JsdLoss>(config.temperature, config.alpha, config.jsd_beta);
  if (config.method == "skew_kl")
    return std::make_unique<SkewKlLoss>(config.temperature, config.alpha, config.skew, /*reverse=*/false);
  if (config.method == "skew_reverse_kl")
    return std::make_unique<SkewKlLoss>(config.temperature, config.alpha, config.skew, /*reverse=*/true);
  if (config.method == "tvd") return std::make_unique<TvdLoss>(config.temperature, config.alpha);
  if (config.method == "mse_logits") return std::make_unique<MseLogitsLoss>(config.alpha);
  if (config.method == "dkd")
    return std::make_unique<DkdLoss>(config.temperature, config.dkd_alpha, config.dkd_beta, config.warmup_epochs);
  if (config.method == "fitnet") return std::make_unique<FitNetLoss>(config);
  throw std::invalid_argument("distill.method: unknown method '" + config.method + "'");
}

std::vector<std::string> lossMethods() { return {"kd", "reverse_kl", "jsd", "skew_kl", "skew_reverse_kl", "tvd", "mse_logits", "dkd", "fitnet"}; }

bool methodNeedsWhiteBoxLogits(const std::string& method) { return method == "mse_logits" || method == "dkd" || method == "fitnet"; }

}  // namespace distill
