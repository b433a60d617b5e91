#include "core/models/dropout.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/errors.h"

namespace distill {
namespace {

// The fraction of kept elements is 1 - p and every kept element is scaled by 1 / (1 - p),
// so the layer's output has the input's mean, as torch::nn::Dropout's.
TEST(FastDropout, KeepsOneMinusPAndScalesKeptElements) {
  for (const double p : {0.1, 0.2, 0.5, 0.9}) {
    torch::manual_seed(11);
    FastDropout dropout(p);
    dropout->train();
    const auto x = torch::ones({1000, 1001});  // odd count: the last element has no pair
    const auto y = dropout->forward(x);
    const auto kept = (y != 0).to(torch::kFloat64);
    const double fraction = kept.mean().item<double>();
    // 1,001,000 Bernoulli draws: the standard deviation of the fraction is below 0.0005.
    EXPECT_NEAR(fraction, 1.0 - p, 0.003) << "p = " << p;
    const float scale = 1.0f / static_cast<float>(1.0 - p);
    EXPECT_TRUE(torch::all((y == 0) | (y == scale)).item<bool>()) << "p = " << p;
    // Each column and the odd last element are masked too, not only the front of the tensor.
    EXPECT_NEAR(kept.index({torch::indexing::Slice(), -1}).mean().item<double>(), 1.0 - p, 0.06);
  }
}

TEST(FastDropout, NeighbouringElementsAreIndependent) {
  // Each 64-bit hash feeds two elements; its halves must not be correlated.
  torch::manual_seed(5);
  FastDropout dropout(0.5);
  const auto kept = (dropout->forward(torch::ones({400000})) != 0).to(torch::kFloat64).view({-1, 2});
  const double both = (kept.select(1, 0) * kept.select(1, 1)).mean().item<double>();
  EXPECT_NEAR(both, 0.25, 0.005);
  const auto consecutive_pairs = kept.view({-1});
  const double across = (consecutive_pairs.narrow(0, 1, 399998).view({-1, 2}).select(1, 0) *
                         consecutive_pairs.narrow(0, 2, 399998).view({-1, 2}).select(1, 0))
                            .mean()
                            .item<double>();
  EXPECT_NEAR(across, 0.25, 0.005);
}

TEST(FastDropout, ReproducibleFromTheSeedAndFreshOnEveryCall) {
  FastDropout dropout(0.3);
  const auto x = torch::randn({64, 300});
  torch::manual_seed(42);
  const auto a1 = dropout->forward(x), a2 = dropout->forward(x);
  torch::manual_seed(42);
  const auto b1 = dropout->forward(x), b2 = dropout->forward(x);
  EXPECT_TRUE(torch::equal(a1, b1));
  EXPECT_TRUE(torch::equal(a2, b2));
  EXPECT_FALSE(torch::equal(a1, a2));
}

// Torch's intra-op threads fill the mask in parallel; a seed gives the same mask on any number
// of threads (a run reproduces on a machine with another core count).
TEST(FastDropout, SameMaskForAnyThreadCount) {
  const int threads = torch::get_num_threads();
  FastDropout dropout(0.2);
  const auto x = torch::ones({1001, 777});  // 777,777 elements: many tasks and an odd last one
  std::vector<torch::Tensor> masks;
  for (const int n : {1, 2, 3}) {
    torch::set_num_threads(n);
    torch::manual_seed(21);
    masks.push_back(dropout->forward(x));
  }
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(masks[0], masks[1]));
  EXPECT_TRUE(torch::equal(masks[0], masks[2]));
}

// Benchmark, not a test: one Hinton activation (128 x 1200) through the layer, on 1 and 2 of
// torch's threads. build/tests/core_tests --gtest_also_run_disabled_tests
// --gtest_filter='*FastDropoutBenchmark*'
TEST(FastDropoutBenchmark, DISABLED_HintonActivation) {
  const int threads = torch::get_num_threads();
  FastDropout dropout(0.2);
  const auto x = torch::randn({128, 1200});
  for (const int n : {1, 2, 1, 2}) {
    torch::set_num_threads(n);
    for (int i = 0; i < 100; ++i) dropout->forward(x);
    const auto start = std::chrono::steady_clock::now();
    constexpr int kCalls = 2000;
    for (int i = 0; i < kCalls; ++i) dropout->forward(x);
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kCalls;
    std::printf("FastDropout 128x1200 on %d thread(s): %.1f us per call\n", n, us);
  }
  torch::set_num_threads(threads);
}

TEST(FastDropout, IdentityInEvaluationAndGradientFollowsTheMask) {
  FastDropout dropout(0.4);
  const auto x = torch::randn({32, 50}).requires_grad_(true);
  dropout->eval();
  EXPECT_TRUE(torch::equal(dropout->forward(x), x));
  dropout->train();
  const auto y = dropout->forward(x);
  y.sum().backward();
  // d(sum y)/dx is the mask: 0 where dropped, 1 / (1 - p) where kept, exactly where y kept x.
  const auto grad = x.grad();
  const float scale = 1.0f / 0.6f;
  EXPECT_TRUE(torch::equal(grad == 0, y == 0));
  EXPECT_TRUE(torch::allclose(grad.masked_select(grad != 0), torch::full({1}, scale)));
  EXPECT_TRUE(torch::allclose(y, x.detach() * grad));
}

TEST(FastDropout, EdgeProbabilitiesAndOtherDtypes) {
  torch::manual_seed(1);
  const auto x = torch::randn({20, 20});
  EXPECT_TRUE(torch::equal(FastDropout(0.0)->forward(x), x));
  EXPECT_TRUE(torch::equal(FastDropout(1.0)->forward(x), torch::zeros_like(x)));
  const auto d = FastDropout(0.5)->forward(x.to(torch::kFloat64));  // ATen's path
  EXPECT_EQ(d.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::all((d == 0) | torch::isclose(d, 2.0 * x.to(torch::kFloat64))).item<bool>());
  EXPECT_THROW(FastDropout(1.5), ModelError);
  EXPECT_THROW(FastDropout(-0.1), ModelError);
}

TEST(FastDropout, NonContiguousInputIsMaskedElementwise) {
  torch::manual_seed(3);
  const auto x = torch::ones({40, 60}).t();  // transposed view
  const auto y = FastDropout(0.5)->forward(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_NEAR((y != 0).to(torch::kFloat64).mean().item<double>(), 0.5, 0.05);
}

}  // namespace
}  // namespace distill
