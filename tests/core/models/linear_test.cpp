#include "core/models/linear.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/config/config.h"
#include "core/runtime/runtime.h"

namespace distill {
namespace {

// Every test leaves the process-wide choice as it found it (auto on every core).
class LinearGemm : public ::testing::Test {
 protected:
  void TearDown() override {
    selectLinearGemm("auto", cpuCores());
    torch::set_num_threads(cpuCores());
  }
};

// The largest difference from the float64 product, relative to the largest output.
double relativeError(const torch::Tensor& got, const torch::Tensor& exact) {
  const double scale = std::max(1.0, exact.abs().max().item<double>());
  return (got.to(torch::kFloat64) - exact).abs().max().item<double>() / scale;
}

torch::Tensor exactLinear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return torch::linear(x.to(torch::kFloat64), w.to(torch::kFloat64), b.defined() ? b.to(torch::kFloat64) : b);
}

// The platform the README builds on (Debian 12's LibTorch links libdnnl.so.2): the fast path is
// there and auto takes it. If this fails, runs silently fall back to LibTorch's matmul.
TEST_F(LinearGemm, AutoFindsOneDnnOnThisPlatform) {
  EXPECT_NE(oneDnnDescription().find("oneDNN"), std::string::npos);
  const LinearGemmChoice c = selectLinearGemm("auto", 2);
  EXPECT_TRUE(c.onednn);
  EXPECT_EQ(c.threads, 2);
  EXPECT_NE(c.description.find("oneDNN"), std::string::npos) << c.description;
  EXPECT_TRUE(currentLinearGemm().onednn);
}

TEST_F(LinearGemm, ForwardMatchesTheExactProduct) {
  ASSERT_TRUE(selectLinearGemm("onednn", 2).onednn);
  torch::manual_seed(3);
  // Wide layers, the narrow 10-logit layer (computed transposed), odd and single-row shapes.
  const std::vector<std::array<int64_t, 3>> shapes{
      {128, 784, 1200}, {128, 800, 10}, {2048, 1200, 10}, {7, 5, 3}, {1, 4, 2}, {3, 6, 40}};
  for (const auto& [m, k, n] : shapes) {
    for (const bool bias : {true, false}) {
      const auto x = torch::randn({m, k}), w = torch::randn({n, k});
      const auto b = bias ? torch::randn({n}) : torch::Tensor();
      const auto y = linear(x, w, b);
      ASSERT_EQ(y.sizes(), (std::vector<int64_t>{m, n}));
      EXPECT_TRUE(y.is_contiguous());
      EXPECT_LT(relativeError(y, exactLinear(x, w, b)), 1e-5) << m << "x" << k << "x" << n << " bias " << bias;
    }
  }
}

TEST_F(LinearGemm, GradientsMatchLibTorchs) {
  ASSERT_TRUE(selectLinearGemm("onednn", 2).onednn);
  torch::manual_seed(4);
  for (const auto& [batch, n] : std::vector<std::pair<int64_t, int64_t>>{{64, 300}, {64, 10}, {1, 300}, {1, 10}}) {
    const auto x0 = torch::randn({batch, 50}), w0 = torch::randn({n, 50}) * 0.1, b0 = torch::randn({n});
    const auto upstream = torch::randn({batch, n});
    auto x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
    (linear(x, w, b) * upstream).sum().backward();
    auto xr = x0.to(torch::kFloat64).requires_grad_(), wr = w0.to(torch::kFloat64).requires_grad_(),
         br = b0.to(torch::kFloat64).requires_grad_();
    (torch::linear(xr, wr, br) * upstream.to(torch::kFloat64)).sum().backward();
    EXPECT_LT(relativeError(x.grad(), xr.grad()), 1e-5) << batch << "x" << n;
    EXPECT_LT(relativeError(w.grad(), wr.grad()), 1e-5) << batch << "x" << n;
    EXPECT_LT(relativeError(b.grad(), br.grad()), 1e-5) << batch << "x" << n;
  }
}

// A batch of data needs no gradient: only the weights get one (the first layer of every model).
TEST_F(LinearGemm, InputWithoutGradientGetsNone) {
  ASSERT_TRUE(selectLinearGemm("onednn", 2).onednn);
  const auto x = torch::randn({16, 8});
  auto w = torch::randn({4, 8}).requires_grad_();
  linear(x, w, torch::Tensor()).sum().backward();
  EXPECT_FALSE(x.grad().defined());
  ASSERT_TRUE(w.grad().defined());
  // d/dw of sum(x w^T) is the column sums of x, for every output.
  EXPECT_LT(relativeError(w.grad(), x.sum(0).expand({4, 8}).to(torch::kFloat64)), 1e-5);
}

TEST_F(LinearGemm, SecondDerivativesStillWork) {
  ASSERT_TRUE(selectLinearGemm("onednn", 2).onednn);
  torch::manual_seed(6);
  const auto x0 = torch::randn({5, 3}), w0 = torch::randn({4, 3});
  auto secondDerivative = [&](bool ours) {
    auto x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
    const auto y = ours ? linear(x, w, torch::Tensor()) : torch::linear(x, w);
    const auto gx = torch::autograd::grad({y.pow(2).sum()}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    return torch::autograd::grad({gx.sum()}, {w})[0];
  };
  EXPECT_LT(relativeError(secondDerivative(true), secondDerivative(false).to(torch::kFloat64)), 1e-5);
}

// blas is LibTorch's own linear, bit for bit (runs stored with gemm: blas reproduce exactly).
TEST_F(LinearGemm, BlasIsLibTorchsLinearBitForBit) {
  EXPECT_FALSE(selectLinearGemm("blas", 2).onednn);
  torch::manual_seed(7);
  const auto x = torch::randn({128, 784}), w = torch::randn({1200, 784}), b = torch::randn({1200});
  EXPECT_TRUE(torch::equal(linear(x, w, b), torch::linear(x, w, b)));
}

TEST_F(LinearGemm, OtherInputsTakeLibTorchsPath) {
  ASSERT_TRUE(selectLinearGemm("onednn", 2).onednn);
  torch::manual_seed(8);
  const auto w = torch::randn({6, 5}), b = torch::randn({6});
  // float64, a batch of sequences (3-D), a transposed (non-contiguous) input, an empty batch.
  const auto x64 = torch::randn({4, 5}, torch::kFloat64);
  EXPECT_TRUE(torch::equal(linear(x64, w.to(torch::kFloat64), b.to(torch::kFloat64)),
                           torch::linear(x64, w.to(torch::kFloat64), b.to(torch::kFloat64))));
  const auto x3 = torch::randn({2, 3, 5});
  const auto y3 = linear(x3, w, b);
  ASSERT_EQ(y3.sizes(), (std::vector<int64_t>{2, 3, 6}));
  EXPECT_LT(relativeError(y3, exactLinear(x3, w, b)), 1e-5);
  const auto xt = torch::randn({5, 4}).t();
  EXPECT_LT(relativeError(linear(xt, w, b), exactLinear(xt, w, b)), 1e-5);
  EXPECT_EQ(linear(torch::randn({0, 5}), w, b).sizes(), (std::vector<int64_t>{0, 6}));
}

// oneDNN's products may use more threads than torch's intra-op setting; that setting is
// restored after every product, so element-wise work keeps the thread count the run chose.
TEST_F(LinearGemm, TorchThreadSettingSurvivesAProduct) {
  ASSERT_TRUE(selectLinearGemm("onednn", 2).onednn);
  torch::set_num_threads(1);
  linear(torch::randn({32, 16}), torch::randn({8, 16}), torch::randn({8}));
  EXPECT_EQ(torch::get_num_threads(), 1);
  // The same from another thread (the window trains in a worker thread).
  int seen = 0;
  std::thread worker([&] {
    torch::set_num_threads(1);
    linear(torch::randn({32, 16}), torch::randn({8, 16}), torch::randn({8}));
    seen = torch::get_num_threads();
  });
  worker.join();
  EXPECT_EQ(seen, 1);
}

TEST_F(LinearGemm, MatmulIntoMatchesMmForEveryTransposition) {
  ASSERT_TRUE(selectLinearGemm("onednn", 2).onednn);
  torch::manual_seed(9);
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      const auto a = ta ? torch::randn({30, 20}) : torch::randn({20, 30});
      const auto b = tb ? torch::randn({40, 30}) : torch::randn({30, 40});
      auto c = torch::empty({20, 40});
      matmulInto(c, a, ta, b, tb);
      const auto exact = torch::mm((ta ? a.t() : a).to(torch::kFloat64), (tb ? b.t() : b).to(torch::kFloat64));
      EXPECT_LT(relativeError(c, exact), 1e-5) << ta << tb;
    }
  }
}

TEST_F(LinearGemm, UnknownChoiceNamesTheKey) {
  try {
    selectLinearGemm("fast", 2);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("gemm"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("auto, onednn or blas"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parseConfigWithOverrides("", {"gemm=fast"}, "test"), ConfigError);
  EXPECT_EQ(parseConfigWithOverrides("", {"gemm=blas"}, "test").gemm, "blas");
  EXPECT_EQ(defaultConfig().gemm, "auto");
}

}  // namespace
}  // namespace distill
