#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "core/losses/loss.h"
#include "support/loss_test_support.h"

namespace distill {
namespace {

using testing::f64;
using testing::handCe;
using testing::handKl;
using testing::handSoftmax;
using testing::kS0;
using testing::kS1;
using testing::kT0;
using testing::kT1;
using testing::lossFixture;

// KL(p || lambda p + (1 - lambda) q) of one row, from the definition.
double handSkew(const std::vector<double>& p, const std::vector<double>& q, double lambda) {
  std::vector<double> m(p.size());
  for (size_t i = 0; i < p.size(); ++i) m[i] = lambda * p[i] + (1 - lambda) * q[i];
  return handKl(p, m);
}

TEST(SkewKl, MatchesTheDefinitionInBothDirectionsWithTSquaredScaling) {
  const auto in = lossFixture();
  for (double T : {1.0, 2.0}) {
    for (double lambda : {0.1, 0.5}) {
      const double alpha = 0.7;
      const double ce = (handCe(kS0, 0) + handCe(kS1, 2)) / 2.0;
      const auto pt0 = handSoftmax(kT0, T), pt1 = handSoftmax(kT1, T), ps0 = handSoftmax(kS0, T), ps1 = handSoftmax(kS1, T);
      const double forward = (handSkew(pt0, ps0, lambda) + handSkew(pt1, ps1, lambda)) / 2.0;
      const double reverse = (handSkew(ps0, pt0, lambda) + handSkew(ps1, pt1, lambda)) / 2.0;
      const auto f = SkewKlLoss(T, alpha, lambda, false).compute(in);
      const auto r = SkewKlLoss(T, alpha, lambda, true).compute(in);
      EXPECT_NEAR(f.kd.item<double>(), T * T * forward, 1e-12) << "T=" << T << " lambda=" << lambda;
      EXPECT_NEAR(r.kd.item<double>(), T * T * reverse, 1e-12) << "T=" << T << " lambda=" << lambda;
      EXPECT_NEAR(f.total.item<double>(), alpha * T * T * forward + (1 - alpha) * ce, 1e-12);
      EXPECT_GT(std::abs(forward - reverse), 1e-4);  // the direction matters
    }
  }
}

TEST(SkewKl, LambdaZeroIsPlainKlInEachDirection) {
  const auto in = lossFixture();
  EXPECT_NEAR(SkewKlLoss(2.0, 1.0, 0.0, false).compute(in).kd.item<double>(),
              HintonKdLoss(2.0, 1.0).compute(in).kd.item<double>(), 1e-12);
  EXPECT_NEAR(SkewKlLoss(2.0, 1.0, 0.0, true).compute(in).kd.item<double>(),
              ReverseKlLoss(2.0, 1.0).compute(in).kd.item<double>(), 1e-12);
}

TEST(SkewKl, StaysBoundedWhereTheStudentGivesTheTeachersTokenNoMass) {
  // Teacher certain of class 0, student almost certain of class 1: plain KL is about 40,
  // the skewed one at most log(1 / lambda) per unit of mass, and its gradient is finite.
  LossInputs in;
  in.teacher_logits = torch::tensor({{20.0, -20.0, -20.0}}, f64());
  in.student_logits = torch::tensor({{-20.0, 20.0, -20.0}}, f64()).requires_grad_(true);
  in.targets = torch::tensor({0}, torch::kInt64);
  const double lambda = 0.1;
  EXPECT_GT(HintonKdLoss(1.0, 1.0).compute(in).kd.item<double>(), 30.0);
  const auto terms = SkewKlLoss(1.0, 1.0, lambda, false).compute(in);
  EXPECT_LE(terms.kd.item<double>(), std::log(1.0 / lambda) + 1e-9);
  EXPECT_GT(terms.kd.item<double>(), 0.9 * std::log(1.0 / lambda));
  terms.total.backward();
  EXPECT_TRUE(torch::isfinite(in.student_logits.grad()).all().item<bool>());
}

TEST(SkewKl, GradientMatchesFiniteDifferencesWithTopKAccess) {
  auto in = lossFixture();
  in.access.mode = "topk";
  in.access.k = 2;
  testing::expectGradientMatchesFiniteDifferences(SkewKlLoss(2.0, 0.8, 0.1, false), in);
  testing::expectGradientMatchesFiniteDifferences(SkewKlLoss(2.0, 0.8, 0.1, true), in);
}

TEST(SkewKl, TheRegistryBuildsBothDirectionsFromTheConfig) {
  DistillConfig config;
  config.temperature = 1.0;
  config.alpha = 1.0;
  config.skew = 0.1;
  const auto in = lossFixture();
  config.method = "skew_kl";
  const double forward = makeLoss(config)->compute(in).kd.item<double>();
  config.method = "skew_reverse_kl";
  const double reverse = makeLoss(config)->compute(in).kd.item<double>();
  EXPECT_NEAR(forward, SkewKlLoss(1.0, 1.0, 0.1, false).compute(in).kd.item<double>(), 1e-15);
  EXPECT_NEAR(reverse, SkewKlLoss(1.0, 1.0, 0.1, true).compute(in).kd.item<double>(), 1e-15);
}

}  // namespace
}  // namespace distill
