#include <gtest/gtest.h>

#include "core/losses/loss.h"

namespace distill {
namespace {

TEST(LossRegistry, BuildsEveryListedMethod) {
  for (const auto& method : lossMethods()) {
    DistillConfig config;
    config.method = method;
    const auto loss = makeLoss(config);
    ASSERT_NE(loss, nullptr) << method;
    EXPECT_TRUE(loss->needsTeacher()) << method;
  }
}

TEST(LossRegistry, OnlyRawLogitMethodsNeedWhiteBoxAccess) {
  // mse_logits and dkd read the teacher's raw logits; the distribution-based methods go
  // through temperedDistributions() and accept topk and label access.
  for (const auto* method : {"mse_logits", "dkd", "fitnet"}) EXPECT_TRUE(methodNeedsWhiteBoxLogits(method)) << method;
  for (const auto* method : {"kd", "reverse_kl", "jsd", "tvd"}) EXPECT_FALSE(methodNeedsWhiteBoxLogits(method)) << method;
}

}  // namespace
}  // namespace distill
