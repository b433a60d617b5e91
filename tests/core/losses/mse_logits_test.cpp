#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/losses/loss.h"

namespace distill {
namespace {

torch::TensorOptions f64() { return torch::TensorOptions().dtype(torch::kFloat64); }

LossInputs fixture() {
  LossInputs in;
  in.teacher_logits = torch::tensor({2.0, 0.5, -1.0, 0.1, 0.2, 3.0}, f64()).reshape({2, 3});
  in.student_logits = torch::tensor({1.0, 1.5, -0.5, -0.3, 0.4, 1.0}, f64()).reshape({2, 3});
  in.targets = torch::tensor({0, 2}, torch::kInt64);
  return in;
}

TEST(MseLogits, MatchesHandComputation) {
  // Differences s - t: (-1, 1, 0.5), (-0.4, 0.2, -2); squares sum to 2.25 + 4.2 = 6.45 over 6.
  const auto in = fixture();
  const double alpha = 0.7;
  const auto terms = MseLogitsLoss(alpha).compute(in);
  const double ce = (-std::log(std::exp(1.0) / (std::exp(1.0) + std::exp(1.5) + std::exp(-0.5))) -
                     std::log(std::exp(1.0) / (std::exp(-0.3) + std::exp(0.4) + std::exp(1.0)))) /
                    2.0;
  EXPECT_NEAR(terms.kd.item<double>(), 6.45 / 6.0, 1e-14);
  EXPECT_NEAR(terms.ce.item<double>(), ce, 1e-12);
  EXPECT_NEAR(terms.total.item<double>(), alpha * 6.45 / 6.0 + (1 - alpha) * ce, 1e-12);
}

TEST(MseLogits, SeesRawLogitsNotDistributions) {
  // Shifting the student's logits by a constant leaves every softmax unchanged but not MSE:
  // mean (s + c - t)^2 grows by c^2 when s = t.
  auto in = fixture();
  in.student_logits = in.teacher_logits + 3.0;
  EXPECT_NEAR(MseLogitsLoss(1.0).compute(in).kd.item<double>(), 9.0, 1e-13);
}

TEST(MseLogits, IdenticalLogitsGiveZeroAndAZeroGradient) {
  auto in = fixture();
  in.student_logits = in.teacher_logits.clone().requires_grad_(true);
  const auto terms = MseLogitsLoss(1.0).compute(in);
  EXPECT_DOUBLE_EQ(terms.kd.item<double>(), 0.0);
  terms.total.backward();
  EXPECT_DOUBLE_EQ(in.student_logits.grad().abs().max().item<double>(), 0.0);
}

TEST(MseLogits, AlphaZeroIsPlainCrossEntropyAndNeedsNoTeacher) {
  auto in = fixture();
  MseLogitsLoss loss(0.0);
  EXPECT_FALSE(loss.needsTeacher());
  const auto expected = torch::nn::functional::cross_entropy(in.student_logits, in.targets).item<double>();
  in.teacher_logits = torch::Tensor();
  const auto terms = loss.compute(in);
  EXPECT_NEAR(terms.total.item<double>(), expected, 1e-14);
  EXPECT_DOUBLE_EQ(terms.kd.item<double>(), 0.0);
}

TEST(MseLogits, SequenceLogitsEqualTheFlattenedCase) {
  const auto in = fixture();
  auto seq = in;
  seq.student_logits = in.student_logits.reshape({1, 2, 3});
  seq.teacher_logits = in.teacher_logits.reshape({1, 2, 3});
  seq.targets = in.targets.reshape({1, 2});
  const MseLogitsLoss loss(0.5);
  EXPECT_NEAR(loss.compute(in).total.item<double>(), loss.compute(seq).total.item<double>(), 1e-14);
}

TEST(MseLogits, GradientMatchesFiniteDifferencesAndTheClosedForm) {
  const auto in = fixture();
  const MseLogitsLoss loss(1.0);
  auto with_grad = in;
  with_grad.student_logits = in.student_logits.clone().requires_grad_(true);
  loss.compute(with_grad).total.backward();
  const auto analytic = with_grad.student_logits.grad();
  // d/ds mean (s - t)^2 = 2 (s - t) / numel.
  EXPECT_TRUE(torch::allclose(analytic, 2.0 * (in.student_logits - in.teacher_logits) / 6.0, 0.0, 1e-15));
  const MseLogitsLoss mixed(0.9);
  auto mixed_grad = in;
  mixed_grad.student_logits = in.student_logits.clone().requires_grad_(true);
  mixed.compute(mixed_grad).total.backward();
  const double h = 1e-6;
  for (int64_t i = 0; i < in.student_logits.numel(); ++i) {
    auto plus = in, minus = in;
    plus.student_logits = in.student_logits.clone();
    minus.student_logits = in.student_logits.clone();
    plus.student_logits.view({-1})[i] += h;
    minus.student_logits.view({-1})[i] -= h;
    const double numeric =
        (mixed.compute(plus).total.item<double>() - mixed.compute(minus).total.item<double>()) / (2 * h);
    EXPECT_NEAR(mixed_grad.student_logits.grad().view({-1})[i].item<double>(), numeric, 1e-7) << "element " << i;
  }
}

}  // namespace
}  // namespace distill
