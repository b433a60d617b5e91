#include "core/train/schedule.h"

#include <cmath>

namespace distill {

double learningRateAt(const TrainConfig& c, int64_t step, int64_t steps_per_epoch, int64_t total_steps) {
  if (c.schedule == "cosine" && total_steps > 0)
    return c.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total_steps)));
  if (c.schedule == "step" && steps_per_epoch > 0)
    return c.lr * std::pow(c.gamma, static_cast<double>((step / steps_per_epoch) / c.step_size));
  return c.lr;
}

}  // namespace distill
