#include <gtest/gtest.h>

#include <torch/torch.h>

#include "core/dist/dist_group.h"
#include "core/dist/gradient_buckets.h"
#include "core/dist/launch_env.h"

namespace distill {
namespace {

TEST(GradientBuckets, PlanGoesInReverseOrderWithASmallFirstBucket) {
  const int64_t MiB = 1 << 20;
  // Parameters 0..5; the last ones fill the first (1 MiB) bucket, the rest go by 25 MiB.
  const std::vector<int64_t> bytes{10 * MiB, 20 * MiB, 10 * MiB, MiB / 2, MiB / 2, MiB / 4};
  const std::vector<std::string> keys(bytes.size(), "Float@cpu");
  const auto plan = planBuckets(bytes, keys);
  ASSERT_EQ(plan.buckets.size(), 3u);
  EXPECT_EQ(plan.buckets[0], std::vector<size_t>({5, 4, 3}));  // 1.25 MiB: closed once past 1 MiB
  EXPECT_EQ(plan.buckets[1], std::vector<size_t>({2, 1}));     // 30 MiB: closed once past 25 MiB
  EXPECT_EQ(plan.buckets[2], std::vector<size_t>({0}));
  // A change of dtype starts a bucket.
  const auto mixed = planBuckets({4, 4, 4}, {"Float@cpu", "Half@cpu", "Half@cpu"});
  EXPECT_EQ(mixed.buckets.size(), 2u);
}

// One rank (a world of one) through the real process group: the hooks start buckets during
// backward, and the gradients come out as one process computes them.
TEST(GradientBuckets, HooksStartBucketsDuringBackwardAndKeepTheGradient) {
  DistOptions options;
  options.env.world_size = 1;
  options.env.master_addr = "127.0.0.1";
  options.env.master_port = freeLoopbackPort();
  options.env.source = "test";
  auto group = DistGroup::connect(options);

  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(512, 1024), torch::nn::ReLU(), torch::nn::Linear(1024, 512),
                              torch::nn::ReLU(), torch::nn::Linear(512, 4));
  const auto inputs = torch::randn({8, 512});
  const auto targets = torch::randint(0, 4, {8});
  auto loss_of = [&] { return torch::nn::functional::cross_entropy(model->forward(inputs), targets); };

  loss_of().backward();
  std::vector<torch::Tensor> expected;
  for (auto& p : model->parameters()) {
    expected.push_back(p.grad().clone());
    p.mutable_grad().reset();
  }

  auto reducer = group->gradientReducer(model->parameters());
  auto* buckets = dynamic_cast<GradientBuckets*>(reducer.get());
  ASSERT_NE(buckets, nullptr);
  EXPECT_GE(buckets->bucketCount(), 2u);  // 4.2 MiB of parameters: a 1 MiB bucket and the rest
  const auto loss = loss_of();
  reducer->beginStep(torch::tensor({8.0, loss.item<double>() * 8}, torch::kFloat64), 8.0);
  loss.backward();
  const auto sums = reducer->finishStep();
  EXPECT_GE(buckets->startedDuringBackward(), 1u);
  EXPECT_DOUBLE_EQ(sums[0].item<double>(), 8.0);
  const auto params = model->parameters();
  for (size_t k = 0; k < params.size(); ++k) EXPECT_TRUE(torch::allclose(params[k].grad(), expected[k], 1e-5, 1e-6)) << k;
}

}  // namespace
}  // namespace distill
