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
using testing::handKl;
using testing::kS0;
using testing::kS1;
using testing::kT0;
using testing::kT1;
using testing::lossFixture;

// The normalised generalised JSD of one row, straight from its definition (0 < beta < 1).
double handJsd(const std::vector<double>& t, const std::vector<double>& s, double beta, double T) {
  const auto p = handSoftmax(t, T), q = handSoftmax(s, T);
  std::vector<double> m(p.size());
  for (size_t i = 0; i < p.size(); ++i) m[i] = beta * p[i] + (1 - beta) * q[i];
  return (beta * handKl(p, m) + (1 - beta) * handKl(q, m)) / (beta * (1 - beta));
}

double forwardKl(double T) { return (handKl(handSoftmax(kT0, T), handSoftmax(kS0, T)) + handKl(handSoftmax(kT1, T), handSoftmax(kS1, T))) / 2; }
double reverseKl(double T) { return (handKl(handSoftmax(kS0, T), handSoftmax(kT0, T)) + handKl(handSoftmax(kS1, T), handSoftmax(kT1, T))) / 2; }

TEST(Jsd, MatchesHandComputationWithTSquaredScaling) {
  const auto in = lossFixture();
  for (double T : {1.0, 2.0, 4.0}) {
    for (double beta : {0.1, 0.5, 0.9}) {
      const double alpha = 0.7;
      const auto terms = JsdLoss(T, alpha, beta).compute(in);
      const double jsd = (handJsd(kT0, kS0, beta, T) + handJsd(kT1, kS1, beta, T)) / 2.0;
      const double ce = (handCe(kS0, 0) + handCe(kS1, 2)) / 2.0;
      EXPECT_NEAR(terms.kd.item<double>(), T * T * jsd, 1e-12) << "T=" << T << " beta=" << beta;
      EXPECT_NEAR(terms.ce.item<double>(), ce, 1e-12);
      EXPECT_NEAR(terms.total.item<double>(), alpha * T * T * jsd + (1 - alpha) * ce, 1e-12);
    }
  }
}

TEST(Jsd, KnownValueForHalfBeta) {
  // The classic JSD (beta = 1/2) of (1, 0) and (1/2, 1/2): M = (3/4, 1/4),
  // JSD = 1/2 ln(4/3) + 1/2 (1/2 ln(2/3) + 1/2 ln 2) = 3/2 ln 2 - 3/4 ln 3, normalised by 1/4.
  // Label access makes the teacher exactly one-hot on its top class.
  LossInputs in;
  in.teacher_logits = torch::tensor({{5.0, 0.0}}, f64());
  in.student_logits = torch::tensor({{0.0, 0.0}}, f64());
  in.targets = torch::tensor({0}, torch::kInt64);
  in.access.mode = "label";
  const double jsd = 1.5 * std::log(2.0) - 0.75 * std::log(3.0);
  EXPECT_NEAR(JsdLoss(1.0, 1.0, 0.5).compute(in).kd.item<double>(), 4.0 * jsd, 1e-14);
  // Bounded by ln 2 before normalisation, even for disjoint supports.
  EXPECT_LT(jsd, std::log(2.0));
}

TEST(Jsd, BetaZeroIsExactlyForwardKlAndBetaOneExactlyReverseKl) {
  const auto in = lossFixture();
  const double T = 2.0;
  EXPECT_NEAR(JsdLoss(T, 1.0, 0.0).compute(in).kd.item<double>(), T * T * forwardKl(T), 1e-13);
  EXPECT_NEAR(JsdLoss(T, 1.0, 0.0).compute(in).kd.item<double>(), HintonKdLoss(T, 1.0).compute(in).kd.item<double>(),
              1e-14);
  EXPECT_NEAR(JsdLoss(T, 1.0, 1.0).compute(in).kd.item<double>(), T * T * reverseKl(T), 1e-13);
  EXPECT_NEAR(JsdLoss(T, 1.0, 1.0).compute(in).kd.item<double>(), ReverseKlLoss(T, 1.0).compute(in).kd.item<double>(),
              1e-14);
}

TEST(Jsd, TendsToForwardKlAsBetaGoesToZeroAndReverseKlAsBetaGoesToOne) {
  // The endpoints are limits of the normalised divergence, not a switch: the error is O(beta).
  const auto in = lossFixture();
  const double T = 2.0, forward = T * T * forwardKl(T), reverse = T * T * reverseKl(T);
  const double near_zero = JsdLoss(T, 1.0, 1e-4).compute(in).kd.item<double>();
  const double near_one = JsdLoss(T, 1.0, 1.0 - 1e-4).compute(in).kd.item<double>();
  EXPECT_NEAR(near_zero, forward, 1e-3 * forward);
  EXPECT_NEAR(near_one, reverse, 1e-3 * reverse);
  // And the error shrinks with beta (first order).
  const double nearer_zero = JsdLoss(T, 1.0, 1e-5).compute(in).kd.item<double>();
  EXPECT_LT(std::abs(nearer_zero - forward), 0.2 * std::abs(near_zero - forward));
}

TEST(Jsd, IdenticalLogitsGiveZeroAndAFiniteGradient) {
  for (double beta : {0.0, 0.3, 1.0}) {
    auto in = lossFixture();
    in.student_logits = in.teacher_logits.clone().requires_grad_(true);
    const auto terms = JsdLoss(4.0, 1.0, beta).compute(in);
    EXPECT_NEAR(terms.kd.item<double>(), 0.0, 1e-14) << beta;
    terms.total.backward();
    EXPECT_TRUE(torch::isfinite(in.student_logits.grad()).all().item<bool>()) << beta;
    EXPECT_NEAR(in.student_logits.grad().abs().max().item<double>(), 0.0, 1e-14) << beta;
  }
}

TEST(Jsd, AlphaZeroIsPlainCrossEntropyAndNeedsNoTeacher) {
  auto in = lossFixture();
  JsdLoss loss(4.0, 0.0, 0.5);
  EXPECT_FALSE(loss.needsTeacher());
  in.teacher_logits = torch::Tensor();
  const auto terms = loss.compute(in);
  EXPECT_NEAR(terms.total.item<double>(), (handCe(kS0, 0) + handCe(kS1, 2)) / 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(terms.kd.item<double>(), 0.0);
}

TEST(Jsd, SequenceLogitsEqualTheFlattenedCase) {
  const auto in = lossFixture();
  auto seq = in;
  seq.student_logits = in.student_logits.reshape({1, 2, 3});
  seq.teacher_logits = in.teacher_logits.reshape({1, 2, 3});
  seq.targets = in.targets.reshape({1, 2});
  const JsdLoss loss(2.0, 0.5, 0.3);
  EXPECT_NEAR(loss.compute(in).total.item<double>(), loss.compute(seq).total.item<double>(), 1e-14);
}

TEST(Jsd, GradientMatchesFiniteDifferences) {
  for (double beta : {0.0, 1e-4, 0.5, 1.0})
    testing::expectGradientMatchesFiniteDifferences(JsdLoss(4.0, 0.9, beta), lossFixture(),
                                                    "beta " + std::to_string(beta));
}

TEST(Jsd, EveryAccessModeGivesAFiniteLossAndGradient) {
  for (const auto& [mode, renormalize] : std::vector<std::pair<std::string, bool>>{
           {"logits", false}, {"topk", false}, {"topk", true}, {"label", false}}) {
    for (double beta : {0.0, 0.5, 1.0}) {
      auto in = lossFixture();
      in.access = {mode, 2, renormalize};
      in.student_logits = in.student_logits.clone().requires_grad_(true);
      const auto terms = JsdLoss(4.0, 0.9, beta).compute(in);
      terms.total.backward();
      EXPECT_TRUE(std::isfinite(terms.total.item<double>())) << mode << renormalize << beta;
      EXPECT_TRUE(torch::isfinite(in.student_logits.grad()).all().item<bool>()) << mode << renormalize << beta;
      EXPECT_GT(in.student_logits.grad().abs().sum().item<double>(), 0.0) << mode << renormalize << beta;
    }
  }
}

}  // namespace
}  // namespace distill
