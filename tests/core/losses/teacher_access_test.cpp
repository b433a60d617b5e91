#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/losses/loss.h"

namespace distill {
namespace {

torch::TensorOptions f64() { return torch::TensorOptions().dtype(torch::kFloat64); }

LossInputs inputs(const std::string& mode, int64_t k = 2, bool renormalize = false) {
  LossInputs in;
  in.teacher_logits = torch::tensor({{2.0, 1.0, 0.0, -1.0}}, f64());
  in.student_logits = torch::tensor({{0.5, 1.5, -0.5, 0.0}}, f64());
  in.targets = torch::tensor({0}, torch::kInt64);
  in.access = {mode, k, renormalize};
  return in;
}

std::vector<double> probs(const torch::Tensor& log_probs) {
  const auto p = log_probs.exp().reshape({-1});
  return std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
}

TEST(TeacherAccess, LogitsIsTheTemperedSoftmax) {
  const auto d = temperedDistributions(inputs("logits"), 2.0);
  const auto expected = torch::softmax(inputs("logits").teacher_logits / 2.0, -1);
  EXPECT_TRUE(torch::allclose(d.teacher_log_probs.exp(), expected));
}

TEST(TeacherAccess, LabelIsOneHotOnTheTeachersTopClass) {
  const auto p = probs(temperedDistributions(inputs("label"), 4.0).teacher_log_probs);
  EXPECT_EQ(p, (std::vector<double>{1.0, 0.0, 0.0, 0.0}));
}

TEST(TeacherAccess, TopKWithTailBucketMatchesHandComputation) {
  // Teacher softmax at T=1: p = e^{2,1,0,-1} / Z. Top 2 = classes 0 and 1; tail = p2 + p3.
  const double z = std::exp(2.0) + std::exp(1.0) + 1.0 + std::exp(-1.0);
  const double p0 = std::exp(2.0) / z, p1 = std::exp(1.0) / z, tail = 1 - p0 - p1;
  const double T = 2.0;
  const double norm = std::pow(p0, 1 / T) + std::pow(p1, 1 / T) + std::pow(tail, 1 / T);
  const auto d = temperedDistributions(inputs("topk", 2), T);
  const auto teacher = probs(d.teacher_log_probs);
  ASSERT_EQ(teacher.size(), 3u);
  EXPECT_NEAR(teacher[0], std::pow(p0, 1 / T) / norm, 1e-12);
  EXPECT_NEAR(teacher[1], std::pow(p1, 1 / T) / norm, 1e-12);
  EXPECT_NEAR(teacher[2], std::pow(tail, 1 / T) / norm, 1e-12);
  // Student: tempered softmax at classes 0 and 1, the rest summed.
  const auto q = torch::softmax(inputs("topk").student_logits / T, -1).reshape({-1});
  const auto student = probs(d.student_log_probs);
  EXPECT_NEAR(student[0], q[0].item<double>(), 1e-12);
  EXPECT_NEAR(student[1], q[1].item<double>(), 1e-12);
  EXPECT_NEAR(student[2], q[2].item<double>() + q[3].item<double>(), 1e-12);
}

TEST(TeacherAccess, TopKRenormalisedZeroesTheOtherClasses) {
  const auto p = probs(temperedDistributions(inputs("topk", 2, true), 1.0).teacher_log_probs);
  const double e = std::exp(1.0);
  EXPECT_NEAR(p[0], e / (e + 1.0), 1e-12);
  EXPECT_NEAR(p[1], 1.0 / (e + 1.0), 1e-12);
  EXPECT_EQ(p[2], 0.0);
  EXPECT_EQ(p[3], 0.0);
}

TEST(TeacherAccess, TopKOfAllClassesEqualsWhiteBox) {
  const auto full = temperedDistributions(inputs("topk", 4), 3.0);
  const auto white = temperedDistributions(inputs("logits"), 3.0);
  EXPECT_TRUE(torch::allclose(full.teacher_log_probs, white.teacher_log_probs));
}

TEST(TeacherAccess, EveryModeGivesAFiniteKdLossAndGradient) {
  for (const auto& [mode, renormalize] : std::vector<std::pair<std::string, bool>>{
           {"logits", false}, {"topk", false}, {"topk", true}, {"label", false}}) {
    auto in = inputs(mode, 2, renormalize);
    in.student_logits = in.student_logits.clone().requires_grad_(true);
    const auto terms = HintonKdLoss(4.0, 0.9).compute(in);
    terms.total.backward();
    EXPECT_TRUE(std::isfinite(terms.total.item<double>())) << mode;
    EXPECT_GE(terms.kd.item<double>(), 0.0) << mode;
    EXPECT_TRUE(torch::isfinite(in.student_logits.grad()).all().item<bool>()) << mode;
  }
}

}  // namespace
}  // namespace distill
