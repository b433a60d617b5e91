#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/losses/loss.h"
#include "support/loss_test_support.h"

namespace distill {
namespace {

torch::TensorOptions f64() { return torch::TensorOptions().dtype(torch::kFloat64); }

// Hand computation of KL(softmax(t/T) || softmax(s/T)) for one row.
double handKl(std::vector<double> t, std::vector<double> s, double T) {
  auto softmax = [T](std::vector<double> v) {
    double m = *std::max_element(v.begin(), v.end()), z = 0;
    for (auto& x : v) z += std::exp((x - m) / T);
    for (auto& x : v) x = std::exp((x - m) / T) / z;
    return v;
  };
  const auto p = softmax(t), q = softmax(s);
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) kl += p[i] * std::log(p[i] / q[i]);
  return kl;
}

double handCe(std::vector<double> s, int y) {
  double m = *std::max_element(s.begin(), s.end()), z = 0;
  for (auto x : s) z += std::exp(x - m);
  return -(s[y] - m - std::log(z));
}

const std::vector<double> kT0{2.0, 0.5, -1.0}, kT1{0.1, 0.2, 3.0};
const std::vector<double> kS0{1.0, 1.5, -0.5}, kS1{-0.3, 0.4, 1.0};

// White-box inputs for the loss (no epoch, default access).
LossInputs logitsOnly(torch::Tensor student, torch::Tensor teacher, torch::Tensor targets) {
  LossInputs in;
  in.student_logits = std::move(student);
  in.teacher_logits = std::move(teacher);
  in.targets = std::move(targets);
  return in;
}

struct Fixture {
  torch::Tensor teacher = torch::tensor({2.0, 0.5, -1.0, 0.1, 0.2, 3.0}, f64()).reshape({2, 3});
  torch::Tensor student = torch::tensor({1.0, 1.5, -0.5, -0.3, 0.4, 1.0}, f64()).reshape({2, 3});
  torch::Tensor targets = torch::tensor({0, 2}, torch::kInt64);
};

TEST(HintonKd, MatchesHandComputationWithTSquaredScaling) {
  Fixture f;
  for (double T : {1.0, 2.0, 4.0}) {
    const double alpha = 0.7;
    const auto terms = HintonKdLoss(T, alpha).compute(logitsOnly(f.student, f.teacher, f.targets));
    const double kl = (handKl(kT0, kS0, T) + handKl(kT1, kS1, T)) / 2.0;
    const double ce = (handCe(kS0, 0) + handCe(kS1, 2)) / 2.0;
    EXPECT_NEAR(terms.kd.item<double>(), T * T * kl, 1e-12) << "T=" << T;
    EXPECT_NEAR(terms.ce.item<double>(), ce, 1e-12);
    EXPECT_NEAR(terms.total.item<double>(), alpha * T * T * kl + (1 - alpha) * ce, 1e-12);
  }
}

TEST(HintonKd, AlphaZeroIsPlainCrossEntropyAndNeedsNoTeacher) {
  Fixture f;
  HintonKdLoss loss(4.0, 0.0);
  EXPECT_FALSE(loss.needsTeacher());
  const auto terms = loss.compute(logitsOnly(f.student, torch::Tensor(), f.targets));
  EXPECT_NEAR(terms.total.item<double>(), (handCe(kS0, 0) + handCe(kS1, 2)) / 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(terms.kd.item<double>(), 0.0);
}

TEST(HintonKd, AlphaOneIgnoresLabels) {
  Fixture f;
  const auto a = HintonKdLoss(3.0, 1.0).compute(logitsOnly(f.student, f.teacher, f.targets));
  const auto b = HintonKdLoss(3.0, 1.0).compute(logitsOnly(f.student, f.teacher, torch::tensor({1, 1}, torch::kInt64)));
  EXPECT_NEAR(a.total.item<double>(), b.total.item<double>(), 1e-15);
  EXPECT_NEAR(a.total.item<double>(), a.kd.item<double>(), 1e-15);
}

TEST(HintonKd, IdenticalLogitsGiveZeroKd) {
  Fixture f;
  const auto terms = HintonKdLoss(4.0, 0.9).compute(logitsOnly(f.teacher, f.teacher, f.targets));
  EXPECT_NEAR(terms.kd.item<double>(), 0.0, 1e-14);
}

TEST(HintonKd, SequenceLogitsAverageOverPositions) {
  // [B=2, L=1, C=3] must equal the [2, 3] case.
  Fixture f;
  const auto flat = HintonKdLoss(2.0, 0.5).compute(logitsOnly(f.student, f.teacher, f.targets));
  const auto seq = HintonKdLoss(2.0, 0.5).compute(logitsOnly(f.student.reshape({2, 1, 3}), f.teacher.reshape({2, 1, 3}),
                                                   f.targets.reshape({2, 1})));
  EXPECT_NEAR(flat.total.item<double>(), seq.total.item<double>(), 1e-14);
}

TEST(HintonKd, GradientMatchesFiniteDifferences) {
  Fixture f;
  testing::expectGradientMatchesFiniteDifferences(HintonKdLoss(4.0, 0.9), logitsOnly(f.student, f.teacher, f.targets));
}

TEST(HintonKd, TeacherReceivesNoGradient) {
  Fixture f;
  auto teacher = f.teacher.clone().requires_grad_(true);
  auto student = f.student.clone().requires_grad_(true);
  // The trainer passes detached teacher logits; the loss itself must still be differentiable
  // in the student alone.
  HintonKdLoss(2.0, 0.5).compute(logitsOnly(student, teacher.detach(), f.targets)).total.backward();
  EXPECT_TRUE(student.grad().defined());
  EXPECT_FALSE(teacher.grad().defined());
}

TEST(LossRegistry, BuildsTheConfiguredMethod) {
  DistillConfig config;
  config.method = "kd";
  EXPECT_NE(makeLoss(config), nullptr);
  config.method = "nope";
  EXPECT_THROW(makeLoss(config), std::invalid_argument);
}

}  // namespace
}  // namespace distill
