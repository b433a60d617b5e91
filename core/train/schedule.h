// Learning-rate schedules, evaluated per optimizer step. Thread contract: pure functions.
#pragma once

#include <cstdint>

#include "core/config/config.h"

namespace distill {

// Learning rate at `step` (0-based) of a phase of `total_steps` steps:
//   constant: lr
//   step:     lr * gamma^floor(epoch / step_size), epoch = floor(step / steps_per_epoch)
//   cosine:   lr * (1 + cos(pi * step / total_steps)) / 2 (Loshchilov & Hutter 2017, no restarts)
double learningRateAt(const TrainConfig& config, int64_t step, int64_t steps_per_epoch, int64_t total_steps);

}  // namespace distill
