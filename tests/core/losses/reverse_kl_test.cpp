#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/losses/loss.h"

namespace distill {
namespace {

torch::TensorOptions f64() { return torch::TensorOptions().dtype(torch::kFloat64); }

std::vector<double> softmax(std::vector<double> v, double T) {
  const double m = *std::max_element(v.begin(), v.end());
  double z = 0;
  for (auto x : v) z += std::exp((x - m) / T);
  for (auto& x : v) x = std::exp((x - m) / T) / z;
  return v;
}

double kl(const std::vector<double>& p, const std::vector<double>& q) {
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += p[i] * std::log(p[i] / q[i]);
  return sum;
}

double handCe(std::vector<double> s, int y) { return -std::log(softmax(s, 1.0)[y]); }

const std::vector<double> kT0{2.0, 0.5, -1.0}, kT1{0.1, 0.2, 3.0};
const std::vector<double> kS0{1.0, 1.5, -0.5}, kS1{-0.3, 0.4, 1.0};

LossInputs fixture() {
  LossInputs in;
  in.teacher_logits = torch::tensor({2.0, 0.5, -1.0, 0.1, 0.2, 3.0}, f64()).reshape({2, 3});
  in.student_logits = torch::tensor({1.0, 1.5, -0.5, -0.3, 0.4, 1.0}, f64()).reshape({2, 3});
  in.targets = torch::tensor({0, 2}, torch::kInt64);
  return in;
}

TEST(ReverseKl, MatchesHandComputationWithTSquaredScaling) {
  const auto in = fixture();
  for (double T : {1.0, 2.0, 4.0}) {
    const double alpha = 0.7;
    const auto terms = ReverseKlLoss(T, alpha).compute(in);
    // Student first: KL(P_s || P_t).
    const double reverse = (kl(softmax(kS0, T), softmax(kT0, T)) + kl(softmax(kS1, T), softmax(kT1, T))) / 2.0;
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
  const auto in = fixture();
  EXPECT_GT(std::abs(ReverseKlLoss(2.0, 1.0).compute(in).kd.item<double>() -
                     HintonKdLoss(2.0, 1.0).compute(in).kd.item<double>()),
            1e-3);
}

TEST(ReverseKl, IdenticalLogitsGiveZeroAndAFiniteGradient) {
  auto in = fixture();
  in.student_logits = in.teacher_logits.clone().requires_grad_(true);
  const auto terms = ReverseKlLoss(4.0, 1.0).compute(in);
  EXPECT_NEAR(terms.kd.item<double>(), 0.0, 1e-14);
  terms.total.backward();
  EXPECT_TRUE(torch::isfinite(in.student_logits.grad()).all().item<bool>());
  EXPECT_NEAR(in.student_logits.grad().abs().max().item<double>(), 0.0, 1e-14);
}

TEST(ReverseKl, AlphaZeroIsPlainCrossEntropyAndNeedsNoTeacher) {
  auto in = fixture();
  ReverseKlLoss loss(4.0, 0.0);
  EXPECT_FALSE(loss.needsTeacher());
  in.teacher_logits = torch::Tensor();
  const auto terms = loss.compute(in);
  EXPECT_NEAR(terms.total.item<double>(), (handCe(kS0, 0) + handCe(kS1, 2)) / 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(terms.kd.item<double>(), 0.0);
}

TEST(ReverseKl, SequenceLogitsEqualTheFlattenedCase) {
  // [N=1, L=2, C=3] must equal the [2, 3] case.
  const auto in = fixture();
  auto seq = in;
  seq.student_logits = in.student_logits.reshape({1, 2, 3});
  seq.teacher_logits = in.teacher_logits.reshape({1, 2, 3});
  seq.targets = in.targets.reshape({1, 2});
  const ReverseKlLoss loss(2.0, 0.5);
  EXPECT_NEAR(loss.compute(in).total.item<double>(), loss.compute(seq).total.item<double>(), 1e-14);
}

TEST(ReverseKl, GradientMatchesFiniteDifferences) {
  const auto in = fixture();
  const ReverseKlLoss loss(4.0, 0.9);
  auto with_grad = in;
  with_grad.student_logits = in.student_logits.clone().requires_grad_(true);
  loss.compute(with_grad).total.backward();
  const auto analytic = with_grad.student_logits.grad();
  const double h = 1e-6;
  for (int64_t i = 0; i < in.student_logits.numel(); ++i) {
    auto plus = in, minus = in;
    plus.student_logits = in.student_logits.clone();
    minus.student_logits = in.student_logits.clone();
    plus.student_logits.view({-1})[i] += h;
    minus.student_logits.view({-1})[i] -= h;
    const double numeric =
        (loss.compute(plus).total.item<double>() - loss.compute(minus).total.item<double>()) / (2 * h);
    EXPECT_NEAR(analytic.view({-1})[i].item<double>(), numeric, 1e-7) << "element " << i;
  }
}

TEST(ReverseKl, EveryAccessModeGivesAFiniteLossAndGradient) {
  for (const auto& [mode, renormalize] : std::vector<std::pair<std::string, bool>>{
           {"logits", false}, {"topk", false}, {"topk", true}, {"label", false}}) {
    auto in = fixture();
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
