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

TEST(ReverseKl, MatchesHandComputationWithTSquaredScaling) {
  const auto in = lossFixture();
  for (double T : {1.0, 2.0, 4.0}) {
    const double alpha = 0.7;
    const auto terms = ReverseKlLoss(T, alpha).compute(in);
    // Student first: KL(P_s || P_t).
    const double reverse = (handKl(handSoftmax(kS0, T), handSoftmax(kT0, T)) + handKl(handSoftmax(kS1, T), handSoftmax(kT1, T))) / 2.0;
    const double ce = (handCe(kS0, 0) + handCe(kS1, 2)) / 2.0;
    EXPECT_NEAR(terms.kd.item<double>(), T * T * reverse, 1e-12) << "T=" << T;
    EXPECT_NEAR(terms.ce.item<double>(), ce, 1e-12);
    EXPECT_NEAR(terms.total.item<double>(), alpha * T * T * reverse + (1 - alpha) * ce, 1e-12);
  }
}

TEST(ReverseKl, KnownValueOnTwoClasses) {
  // Teacher (3/4, 1/4), student (1/2, 1/2): KL(P_s || P_t) = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3).
  LossInputs in;
  in.teacher_logits = torch::tensor({{std::log(3.0), 0.0}}, f64());
  in.student_logits = torch::tensor({{0.0, 0.0}}, f64());
  in.targets = torch::tensor({0}, torch::kInt64);
  EXPECT_NEAR(ReverseKlLoss(1.0, 1.0).compute(in).kd.item<double>(), 0.5 * std::log(4.0 / 3.0), 1e-14);
}

TEST(ReverseKl, DiffersFromForwardKl) {
  // The direction matters: the same pair gives a different value than kd.
  const auto in = lossFixture();
  EXPECT_GT(std::abs(ReverseKlLoss(2.0, 1.0).compute(in).kd.item<double>() -
                     HintonKdLoss(2.0, 1.0).compute(in).kd.item<double>()),
            1e-3);
}

TEST(ReverseKl, IdenticalLogitsGiveZeroAndAFiniteGradient) {
  auto in = lossFixture();
  in.student_logits = in.teacher_logits.clone().requires_grad_(true);
  const auto terms = ReverseKlLoss(4.0, 1.0).compute(in);
  EXPECT_NEAR(terms.kd.item<double>(), 0.0, 1e-14);
  terms.total.backward();
  EXPECT_TRUE(torch::isfinite(in.student_logits.grad()).all().item<bool>());
  EXPECT_NEAR(in.student_logits.grad().abs().max().item<double>(), 0.0, 1e-14);
}

TEST(ReverseKl, AlphaZeroIsPlainCrossEntropyAndNeedsNoTeacher) {
  auto in = lossFixture();
  ReverseKlLoss loss(4.0, 0.0);
  EXPECT_FALSE(loss.needsTeacher());
  in.teacher_logits = torch::Tensor();
  const auto terms = loss.compute(in);
  EXPECT_NEAR(terms.total.item<double>(), (handCe(kS0, 0) + handCe(kS1, 2)) / 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(terms.kd.item<double>(), 0.0);
}

TEST(ReverseKl, SequenceLogitsEqualTheFlattenedCase) {
  // [N=1, L=2, C=3] must equal the [2, 3] case.
  const auto in = lossFixture();
  auto seq = in;
  seq.student_logits = in.student_logits.reshape({1, 2, 3});
  seq.teacher_logits = in.teacher_logits.reshape({1, 2, 3});
  seq.targets = in.targets.reshape({1, 2});
  const ReverseKlLoss loss(2.0, 0.5);
  EXPECT_NEAR(loss.compute(in).total.item<double>(), loss.compute(seq).total.item<double>(), 1e-14);
}

TEST(ReverseKl, GradientMatchesFiniteDifferences) {
  testing::expectGradientMatchesFiniteDifferences(ReverseKlLoss(4.0, 0.9), lossFixture());
}

TEST(ReverseKl, EveryAccessModeGivesAFiniteLossAndGradient) {
  for (const auto& [mode, renormalize] : std::vector<std::pair<std::string, bool>>{
           {"logits", false}, {"topk", false}, {"topk", true}, {"label", false}}) {
    auto in = lossFixture();
    in.access = {mode, 2, renormalize};
    in.student_logits = in.student_logits.clone().requires_grad_(true);
    const auto terms = ReverseKlLoss(4.0, 0.9).compute(in);
    terms.total.backward();
    EXPECT_TRUE(std::isfinite(terms.total.item<double>())) << mode << renormalize;
    EXPECT_TRUE(torch::isfinite(in.student_logits.grad()).all().item<bool>()) << mode << renormalize;
    EXPECT_GT(in.student_logits.grad().abs().sum().item<double>(), 0.0) << mode << renormalize;
  }
}

}  // namespace
}  // namespace distill
