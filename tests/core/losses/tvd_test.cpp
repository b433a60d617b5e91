#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/losses/loss.h"
#include "support/loss_test_support.h"

namespace distill {
namespace {

using testing::f64;
using testing::handCe;
using testing::handSoftmax;
using testing::kS0;
using testing::kS1;
using testing::kT0;
using testing::kT1;
using testing::lossFixture;

double handTvd(const std::vector<double>& t, const std::vector<double>& s, double T) {
  const auto p = handSoftmax(t, T), q = handSoftmax(s, T);
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += std::abs(p[i] - q[i]);
  return 0.5 * sum;
}

TEST(Tvd, MatchesHandComputationWithTScaling) {
  const auto in = lossFixture();
  for (double T : {1.0, 2.0, 4.0}) {
    const double alpha = 0.7;
    const auto terms = TvdLoss(T, alpha).compute(in);
    const double tvd = (handTvd(kT0, kS0, T) + handTvd(kT1, kS1, T)) / 2.0;
    const double ce = (handCe(kS0, 0) + handCe(kS1, 2)) / 2.0;
    EXPECT_NEAR(terms.kd.item<double>(), T * tvd, 1e-12) << "T=" << T;
    EXPECT_NEAR(terms.ce.item<double>(), ce, 1e-12);
    EXPECT_NEAR(terms.total.item<double>(), alpha * T * tvd + (1 - alpha) * ce, 1e-12);
  }
}

TEST(Tvd, KnownValues) {
  // Teacher (3/4, 1/4), student (1/2, 1/2): 1/2 (1/4 + 1/4) = 1/4.
  LossInputs in;
  in.teacher_logits = torch::tensor({{std::log(3.0), 0.0}}, f64());
  in.student_logits = torch::tensor({{0.0, 0.0}}, f64());
  in.targets = torch::tensor({0}, torch::kInt64);
  EXPECT_NEAR(TvdLoss(1.0, 1.0).compute(in).kd.item<double>(), 0.25, 1e-15);
  // A one-hot teacher (label access) is 1 - q_y away from any student q.
  in.access.mode = "label";
  in.student_logits = torch::tensor({{0.0, std::log(4.0)}}, f64());  // q = (1/5, 4/5)
  EXPECT_NEAR(TvdLoss(1.0, 1.0).compute(in).kd.item<double>(), 0.8, 1e-15);
}

TEST(Tvd, IsABoundedMetric) {
  // 0 <= TVD <= 1 and symmetric in teacher and student.
  auto in = lossFixture();
  auto swapped = in;
  std::swap(swapped.student_logits, swapped.teacher_logits);
  const double tvd = TvdLoss(1.0, 1.0).compute(in).kd.item<double>();
  EXPECT_GT(tvd, 0.0);
  EXPECT_LE(tvd, 1.0);
  EXPECT_NEAR(tvd, TvdLoss(1.0, 1.0).compute(swapped).kd.item<double>(), 1e-15);
}

TEST(Tvd, IdenticalLogitsGiveZeroAndAFiniteGradient) {
  // |x| has a kink at 0; autograd's subgradient there is 0, so the gradient is finite (zero).
  auto in = lossFixture();
  in.student_logits = in.teacher_logits.clone().requires_grad_(true);
  const auto terms = TvdLoss(4.0, 1.0).compute(in);
  EXPECT_NEAR(terms.kd.item<double>(), 0.0, 1e-15);
  terms.total.backward();
  EXPECT_TRUE(torch::isfinite(in.student_logits.grad()).all().item<bool>());
}

TEST(Tvd, AlphaZeroIsPlainCrossEntropyAndNeedsNoTeacher) {
  auto in = lossFixture();
  TvdLoss loss(4.0, 0.0);
  EXPECT_FALSE(loss.needsTeacher());
  in.teacher_logits = torch::Tensor();
  const auto terms = loss.compute(in);
  EXPECT_NEAR(terms.total.item<double>(), (handCe(kS0, 0) + handCe(kS1, 2)) / 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(terms.kd.item<double>(), 0.0);
}

TEST(Tvd, SequenceLogitsEqualTheFlattenedCase) {
  const auto in = lossFixture();
  auto seq = in;
  seq.student_logits = in.student_logits.reshape({1, 2, 3});
  seq.teacher_logits = in.teacher_logits.reshape({1, 2, 3});
  seq.targets = in.targets.reshape({1, 2});
  const TvdLoss loss(2.0, 0.5);
  EXPECT_NEAR(loss.compute(in).total.item<double>(), loss.compute(seq).total.item<double>(), 1e-14);
}

TEST(Tvd, GradientMatchesFiniteDifferencesAwayFromTheKink) {
  // The fixture's P_t,i and P_s,i differ in every class, so |.| is smooth around it.
  const auto in = lossFixture();
  const auto gap = (torch::softmax(in.teacher_logits / 4.0, -1) - torch::softmax(in.student_logits / 4.0, -1)).abs();
  ASSERT_GT(gap.min().item<double>(), 1e-3);
  testing::expectGradientMatchesFiniteDifferences(TvdLoss(4.0, 0.9), in);
}

TEST(Tvd, EveryAccessModeGivesAFiniteLossAndGradient) {
  for (const auto& [mode, renormalize] : std::vector<std::pair<std::string, bool>>{
           {"logits", false}, {"topk", false}, {"topk", true}, {"label", false}}) {
    auto in = lossFixture();
    in.access = {mode, 2, renormalize};
    in.student_logits = in.student_logits.clone().requires_grad_(true);
    const auto terms = TvdLoss(4.0, 0.9).compute(in);
    terms.total.backward();
    EXPECT_TRUE(std::isfinite(terms.total.item<double>())) << mode << renormalize;
    EXPECT_TRUE(torch::isfinite(in.student_logits.grad()).all().item<bool>()) << mode << renormalize;
    EXPECT_GT(in.student_logits.grad().abs().sum().item<double>(), 0.0) << mode << renormalize;
  }
}

}  // namespace
}  // namespace distill
