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

std::vector<double> without(std::vector<double> v, int y) {
  v.erase(v.begin() + y);
  return v;
}

// Zhao et al. 2022, eq. (1)-(4), for one row with target y.
struct Decoupled {
  double tckd;
  double nckd;
};
Decoupled handDecoupled(const std::vector<double>& t, const std::vector<double>& s, int y, double T) {
  const auto p = handSoftmax(t, T), q = handSoftmax(s, T);
  return {handKl({p[y], 1 - p[y]}, {q[y], 1 - q[y]}), handKl(handSoftmax(without(t, y), T), handSoftmax(without(s, y), T))};
}

// Row 0's label (1) is not the teacher's top class: DKD decouples around the ground truth.
LossInputs fixture() { return testing::lossFixture(/*label0=*/1); }

TEST(Dkd, MatchesHandComputation) {
  const auto in = fixture();
  for (double T : {1.0, 2.0, 4.0}) {
    const double a = 1.0, b = 8.0;
    const auto terms = DkdLoss(T, a, b, /*warmup_epochs=*/0.0).compute(in);
    const auto d0 = handDecoupled(kT0, kS0, 1, T), d1 = handDecoupled(kT1, kS1, 2, T);
    const double kd = T * T * (a * (d0.tckd + d1.tckd) / 2 + b * (d0.nckd + d1.nckd) / 2);
    const double ce = (handCe(kS0, 1) + handCe(kS1, 2)) / 2.0;
    EXPECT_NEAR(terms.kd.item<double>(), kd, 1e-12) << "T=" << T;
    EXPECT_NEAR(terms.ce.item<double>(), ce, 1e-12);
    // CE at full weight plus the DKD term, as in the paper.
    EXPECT_NEAR(terms.total.item<double>(), ce + kd, 1e-12);
  }
}

TEST(Dkd, PartsRecomposeHintonKd) {
  // The paper's identity KL(P_t || P_s) = TCKD + (1 - p_t,y) NCKD, row by row.
  const auto in = fixture();
  const double T = 3.0;
  for (int64_t row = 0; row < 2; ++row) {
    LossInputs one = in;
    one.teacher_logits = in.teacher_logits.slice(0, row, row + 1);
    one.student_logits = in.student_logits.slice(0, row, row + 1);
    one.targets = in.targets.slice(0, row, row + 1);
    const double tckd = DkdLoss(T, 1.0, 0.0, 0.0).compute(one).kd.item<double>();
    const double nckd = DkdLoss(T, 0.0, 1.0, 0.0).compute(one).kd.item<double>();
    const int64_t y = one.targets[0].item<int64_t>();
    const double teacher_target = torch::softmax(one.teacher_logits / T, -1)[0][y].item<double>();
    EXPECT_NEAR(tckd + (1 - teacher_target) * nckd, HintonKdLoss(T, 1.0).compute(one).kd.item<double>(), 1e-12)
        << "row " << row;
  }
}

TEST(Dkd, WarmUpRampsTheWeightLinearlyOverTheFirstEpochs) {
  auto in = fixture();
  const DkdLoss loss(4.0, 1.0, 8.0, /*warmup_epochs=*/4.0);
  for (const auto& [epoch, weight] : std::vector<std::pair<double, double>>{
           {0.0, 0.0}, {1.0, 0.25}, {2.5, 0.625}, {4.0, 1.0}, {9.0, 1.0}}) {
    in.epoch = epoch;
    const auto terms = loss.compute(in);
    EXPECT_DOUBLE_EQ(loss.warmup(epoch), weight);
    EXPECT_NEAR(terms.total.item<double>(), terms.ce.item<double>() + weight * terms.kd.item<double>(), 1e-12)
        << "epoch " << epoch;
  }
  // kd is reported before the warm-up factor.
  in.epoch = 0.0;
  const double early = loss.compute(in).kd.item<double>();
  in.epoch = 9.0;
  EXPECT_NEAR(early, loss.compute(in).kd.item<double>(), 1e-15);
  EXPECT_GT(early, 0.0);
  // No warm-up: full weight from the first step.
  EXPECT_DOUBLE_EQ(DkdLoss(4.0, 1.0, 8.0, 0.0).warmup(0.0), 1.0);
}

TEST(Dkd, IdenticalLogitsGiveZeroAndAFiniteGradient) {
  auto in = fixture();
  in.student_logits = in.teacher_logits.clone().requires_grad_(true);
  const auto terms = DkdLoss(4.0, 1.0, 8.0, 0.0).compute(in);
  EXPECT_NEAR(terms.kd.item<double>(), 0.0, 1e-14);
  terms.total.backward();
  // Only the cross-entropy pulls.
  auto ce_only = in.teacher_logits.clone().requires_grad_(true);
  labelCrossEntropy(ce_only, in.targets).backward();
  EXPECT_TRUE(torch::allclose(in.student_logits.grad(), ce_only.grad(), 0.0, 1e-14));
}

TEST(Dkd, ExtremeLogitsStayFinite) {
  // Saturated softmaxes (p_y = 1 - 1e-800 in exact arithmetic) must not produce 0 * log 0.
  LossInputs in;
  in.teacher_logits = torch::tensor({{1000.0, -1000.0, 0.0}}, f64());
  in.student_logits = torch::tensor({{-1000.0, 1000.0, 0.0}}, f64()).requires_grad_(true);
  in.targets = torch::tensor({0}, torch::kInt64);
  const auto terms = DkdLoss(1.0, 1.0, 8.0, 0.0).compute(in);
  terms.total.backward();
  EXPECT_TRUE(std::isfinite(terms.total.item<double>()));
  EXPECT_TRUE(torch::isfinite(in.student_logits.grad()).all().item<bool>());
}

TEST(Dkd, ZeroWeightsArePlainCrossEntropyAndNeedNoTeacher) {
  auto in = fixture();
  DkdLoss loss(4.0, 0.0, 0.0, 0.0);
  EXPECT_FALSE(loss.needsTeacher());
  EXPECT_TRUE(DkdLoss(4.0, 0.0, 1.0, 0.0).needsTeacher());
  in.teacher_logits = torch::Tensor();
  const auto terms = loss.compute(in);
  EXPECT_NEAR(terms.total.item<double>(), (handCe(kS0, 1) + handCe(kS1, 2)) / 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(terms.kd.item<double>(), 0.0);
}

TEST(Dkd, SequenceLogitsEqualTheFlattenedCase) {
  const auto in = fixture();
  auto seq = in;
  seq.student_logits = in.student_logits.reshape({1, 2, 3});
  seq.teacher_logits = in.teacher_logits.reshape({1, 2, 3});
  seq.targets = in.targets.reshape({1, 2});
  const DkdLoss loss(2.0, 1.0, 8.0, 0.0);
  EXPECT_NEAR(loss.compute(in).total.item<double>(), loss.compute(seq).total.item<double>(), 1e-14);
}

TEST(Dkd, GradientMatchesFiniteDifferences) {
  auto in = fixture();
  in.epoch = 0.5;
  testing::expectGradientMatchesFiniteDifferences(DkdLoss(4.0, 1.0, 8.0, /*warmup_epochs=*/2.0), in);
}

}  // namespace
}  // namespace distill
