#include <stdexcept>

#include "core/losses/loss.h"

namespace distill {

std::unique_ptr<DistillationLoss> makeLoss(const DistillConfig& config) {
  if (config.method == "kd") return std::make_unique<HintonKdLoss>(config.temperature, config.alpha);
  throw std::invalid_argument("distill.method: unknown method '" + config.method + "'");
}

std::vector<std::string> lossMethods() { return {"kd"}; }

}  // namespace distill
