// The distillation methods, one line each. A new method: its class in its own file
// (core/losses/<name>.cpp, declared in loss.h or its own header), a test in
// tests/core/losses/<name>_test.cpp, and a line here and in lossMethods().
#include <stdexcept>

#include "core/losses/loss.h"

namespace distill {

std::unique_ptr<DistillationLoss> makeLoss(const DistillConfig& config) {
  if (config.method == "kd") return std::make_unique<HintonKdLoss>(config.temperature, config.alpha);
  throw std::invalid_argument("distill.method: unknown method '" + config.method + "'");
}

std::vector<std::string> lossMethods() { return {"kd"}; }

bool methodNeedsWhiteBoxLogits(const std::string& method) { return method == "mse_logits" || method == "dkd"; }

}  // namespace distill
