#include <gtest/gtest.h>

#include <cmath>

#include "core/train/schedule.h"

namespace distill {
namespace {

TrainConfig withSchedule(const char* schedule) {
  TrainConfig c;
  c.lr = 0.1;
  c.schedule = schedule;
  c.step_size = 2;
  c.gamma = 0.5;
  return c;
}

TEST(Schedule, ConstantNeverChanges) {
  for (int64_t step : {0, 7, 99}) EXPECT_DOUBLE_EQ(learningRateAt(withSchedule("constant"), step, 10, 100), 0.1);
}

TEST(Schedule, StepDecaysEveryStepSizeEpochs) {
  const auto c = withSchedule("step");
  EXPECT_DOUBLE_EQ(learningRateAt(c, 0, 10, 100), 0.1);
  EXPECT_DOUBLE_EQ(learningRateAt(c, 19, 10, 100), 0.1);    // epoch 1
  EXPECT_DOUBLE_EQ(learningRateAt(c, 20, 10, 100), 0.05);   // epoch 2
  EXPECT_DOUBLE_EQ(learningRateAt(c, 45, 10, 100), 0.025);  // epoch 4
}

TEST(Schedule, CosineFallsFromLrToZeroThroughHalf) {
  const auto c = withSchedule("cosine");
  EXPECT_DOUBLE_EQ(learningRateAt(c, 0, 10, 100), 0.1);
  EXPECT_NEAR(learningRateAt(c, 50, 10, 100), 0.05, 1e-15);
  EXPECT_NEAR(learningRateAt(c, 25, 10, 100), 0.05 * (1 + std::cos(M_PI / 4)), 1e-15);
  EXPECT_NEAR(learningRateAt(c, 100, 10, 100), 0.0, 1e-15);
}

}  // namespace
}  // namespace distill
