#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/metrics/smoothing.h"

namespace distill {
namespace {

// The formula of the issue, evaluated literally: s_t = (1-w) sum_i w^(t-i) y_i / (1 - w^t).
std::vector<double> emaByFormula(const std::vector<double>& y, double w) {
  std::vector<double> s;
  for (size_t t = 1; t <= y.size(); ++t) {
    double sum = 0.0;
    for (size_t i = 1; i <= t; ++i) sum += std::pow(w, static_cast<double>(t - i)) * y[i - 1];
    s.push_back((1.0 - w) * sum / (1.0 - std::pow(w, static_cast<double>(t))));
  }
  return s;
}

class EmaFormula : public ::testing::TestWithParam<double> {};

TEST_P(EmaFormula, EqualsTheClosedForm) {
  const std::vector<double> y = {0.3, 1.7, -2.0, 4.5, 4.4, 0.0, 9.0, 1.25, 3.0, -1.0, 2.0, 2.5};
  const double w = GetParam();
  const auto expected = emaByFormula(y, w);
  const auto smoothed = smoothEma(y, w);
  ASSERT_EQ(smoothed.size(), y.size());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(smoothed[i], expected[i], 1e-9 * (1 + std::abs(expected[i]))) << i;
}

INSTANTIATE_TEST_SUITE_P(Weights, EmaFormula, ::testing::Values(0.1, 0.5, 0.6, 0.9, 0.99));

TEST(Smoothing, WeightZeroIsTheIdentity) {
  const std::vector<double> y = {3, 1, 4, 1, 5, 9, 2, 6};
  EXPECT_EQ(smoothEma(y, 0.0), y);
}

TEST(Smoothing, ConstantSeriesStaysConstantForAnyWeight) {
  const std::vector<double> y(1000, 0.875);
  for (double w : {0.0, 0.3, 0.9, 0.999, 0.999999}) {
    for (double s : smoothEma(y, w)) ASSERT_NEAR(s, 0.875, 1e-9) << "w=" << w;
  }
}

TEST(Smoothing, FirstPointIsUnbiased) {
  // Without the debiasing divisor the first point would be (1-w) * y_1, near 0.
  EXPECT_DOUBLE_EQ(smoothEma({5.0, 7.0}, 0.9)[0], 5.0);
}

TEST(Smoothing, WeightNearOneStaysNearTheRunningMean) {
  // As w -> 1 the debiased EMA tends to the running mean of the values so far.
  const std::vector<double> y = {1, 2, 3, 4, 5};
  const auto s = smoothEma(y, 0.999999);
  EXPECT_NEAR(s[4], 3.0, 1e-4);
  const auto formula = emaByFormula(y, 0.999);
  const auto ours = smoothEma(y, 0.999);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(ours[i], formula[i], 1e-9);
}

TEST(Smoothing, WeightsOutOfRangeAreClamped) {
  const std::vector<double> y = {1, 2, 3};
  EXPECT_EQ(smoothEma(y, -0.5), y);
  for (double s : smoothEma(y, 1.5)) EXPECT_TRUE(std::isfinite(s));
}

TEST(Smoothing, NonFiniteValuesPassThroughWithoutPoisoningTheAverage) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto s = smoothEma({2.0, nan, 2.0}, 0.5);
  EXPECT_DOUBLE_EQ(s[0], 2.0);
  EXPECT_TRUE(std::isnan(s[1]));
  EXPECT_DOUBLE_EQ(s[2], 2.0);
}

TEST(Decimation, ShortSeriesComeBackWhole) {
  const std::vector<double> xs = {0, 1, 2, 3, 4}, ys = {5, 4, 3, 2, 1};
  const auto kept = minMaxDecimate(xs, ys, 0, 4, 100);
  EXPECT_EQ(kept, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

TEST(Decimation, EverySpikeOfAMillionPointsSurvives) {
  const size_t n = 1000000;
  std::vector<double> xs(n), ys(n);
  for (size_t i = 0; i < n; ++i) {
    xs[i] = static_cast<double>(i);
    ys[i] = std::sin(static_cast<double>(i) * 1e-4);
  }
  ys[123457] = 50.0;   // single-point spikes, far narrower than one pixel
  ys[876543] = -50.0;
  const auto kept = minMaxDecimate(xs, ys, 0, static_cast<double>(n - 1), 1000);
  EXPECT_LE(kept.size(), 2 * 1000u + 2);
  EXPECT_NE(std::find(kept.begin(), kept.end(), size_t{123457}), kept.end());
  EXPECT_NE(std::find(kept.begin(), kept.end(), size_t{876543}), kept.end());
  EXPECT_EQ(kept.front(), 0u);
  EXPECT_EQ(kept.back(), n - 1);
  EXPECT_TRUE(std::is_sorted(kept.begin(), kept.end()));
  // The envelope is intact: the decimated min and max equal the full ones.
  double lo = 1e9, hi = -1e9;
  for (size_t i : kept) lo = std::min(lo, ys[i]), hi = std::max(hi, ys[i]);
  EXPECT_EQ(lo, -50.0);
  EXPECT_EQ(hi, 50.0);
}

TEST(Decimation, VisibleRangeKeepsOnePointEachSide) {
  std::vector<double> xs, ys;
  for (int i = 0; i < 10000; ++i) xs.push_back(i), ys.push_back(i % 7);
  const auto kept = minMaxDecimate(xs, ys, 5000, 6000, 50);
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept.front(), 4999u);
  EXPECT_EQ(kept.back(), 6001u);
  EXPECT_LE(kept.size(), 102u);
}

TEST(Summary, FinalAndBestWithTheStepOfTheFirstBest) {
  const std::vector<int64_t> steps = {0, 100, 200, 300};
  const std::vector<double> acc = {0.1, 0.9, 0.9, 0.85};
  const auto up = summarizeSeries(steps, acc, higherIsBetter("eval/student_acc"));
  EXPECT_DOUBLE_EQ(up.final_value, 0.85);
  EXPECT_EQ(up.final_step, 300);
  EXPECT_DOUBLE_EQ(up.best_value, 0.9);
  EXPECT_EQ(up.best_step, 100);
  const auto down = summarizeSeries(steps, {2.0, 0.5, 0.7, 0.6}, higherIsBetter("train/student_loss"));
  EXPECT_DOUBLE_EQ(down.best_value, 0.5);
  EXPECT_EQ(down.best_step, 100);
}

TEST(Summary, DirectionOfKnownKeys) {
  EXPECT_TRUE(higherIsBetter("eval/agreement"));
  EXPECT_TRUE(higherIsBetter("eval/teacher_acc"));
  EXPECT_FALSE(higherIsBetter("eval/kl"));
  EXPECT_FALSE(higherIsBetter("train/kd_loss"));
}

}  // namespace
}  // namespace distill
