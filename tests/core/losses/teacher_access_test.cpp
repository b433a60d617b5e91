#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

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

// ---- the teacher as its top K (the trainer's top-k cache, core/train/teacher_cache.h) ---------

struct Rows {
  torch::Tensor teacher, student, targets;
};

Rows randomRows(int64_t rows, int64_t classes, uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({rows, classes}) * 3.0, torch::randn({rows, classes}) * 2.0,
          torch::randint(classes, {rows}, torch::kInt64)};
}

double lossWith(const Rows& rows, const DistillConfig& config, int64_t cached_k) {
  LossInputs in;
  in.student_logits = rows.student;
  in.targets = rows.targets;
  in.access = {config.teacher_access, config.topk, config.topk_renormalize};
  if (cached_k == 0) {
    in.teacher_logits = rows.teacher;
  } else {
    std::tie(in.teacher_topk_log_probs, in.teacher_topk_indices) = topkLogProbs(rows.teacher, cached_k);
  }
  return makeLoss(config)->compute(in).total.item<double>();
}

DistillConfig lossConfig(const std::string& method, const std::string& access, double temperature) {
  DistillConfig config;
  config.method = method;
  config.teacher_access = access;
  config.temperature = temperature;
  config.alpha = 0.7;
  config.topk = 5;
  return config;
}

const char* const kDistributionMethods[] = {"kd", "reverse_kl", "jsd", "tvd", "skew_kl", "skew_reverse_kl"};

TEST(TeacherTopkLoss, TopkAndLabelAccessGiveExactlyTheLossTheyGiveFromTheLogits) {
  const auto rows = randomRows(/*rows=*/40, /*classes=*/64, /*seed=*/3);
  for (const char* method : kDistributionMethods) {
    for (const bool renormalize : {false, true}) {
      if (renormalize && std::string(method) == "reverse_kl") continue;  // refused: infinite
      auto config = lossConfig(method, "topk", 2.0);
      config.topk_renormalize = renormalize;
      // The cache keeps 20; the access reads its first 5, the numbers topk(5) gives.
      EXPECT_EQ(lossWith(rows, config, 0), lossWith(rows, config, 20)) << method << " renormalize " << renormalize;
      config.topk = 20;
      EXPECT_EQ(lossWith(rows, config, 0), lossWith(rows, config, 20)) << method << " k = K";
    }
  }
  for (const char* method : {"kd", "jsd", "tvd"}) {
    const auto config = lossConfig(method, "label", 1.0);
    EXPECT_EQ(lossWith(rows, config, 0), lossWith(rows, config, 20)) << method << " label";
  }
  // A k the cache does not keep is an error, not a silent smaller k.
  auto config = lossConfig("kd", "topk", 1.0);
  config.topk = 21;
  EXPECT_THROW(lossWith(rows, config, 20), std::invalid_argument);
}

TEST(TeacherTopkLoss, LogitsAccessFromATopkThatKeepsEveryClassIsTheExactLoss) {
  const auto rows = randomRows(/*rows=*/40, /*classes=*/64, /*seed=*/4);
  for (const char* method : kDistributionMethods) {
    for (const double temperature : {1.0, 2.0, 4.0}) {
      const auto config = lossConfig(method, "logits", temperature);
      const double exact = lossWith(rows, config, 0);
      const double cached = lossWith(rows, config, /*cached_k=*/64);
      EXPECT_NEAR(cached, exact, 1e-5 * std::max(1.0, std::abs(exact))) << method << " T " << temperature;
    }
  }
}

TEST(TeacherTopkLoss, LogitsAccessFromTheTopKSpreadsTheRestEvenly) {
  const auto rows = randomRows(/*rows=*/6, /*classes=*/10, /*seed=*/5);
  LossInputs in;
  in.student_logits = rows.student;
  std::tie(in.teacher_topk_log_probs, in.teacher_topk_indices) = topkLogProbs(rows.teacher, 3);
  for (const double temperature : {1.0, 2.0}) {
    const auto teacher = temperedDistributions(in, temperature).teacher_log_probs.exp();
    // At T = 1: the top 3 as they are, each of the other 7 a seventh of the rest.
    const auto exact = torch::softmax(rows.teacher, -1);
    const auto [top, classes] = exact.topk(3, -1);
    const auto rest = (1.0 - top.sum(-1, /*keepdim=*/true)) / 7.0;
    auto expected = rest.expand({6, 10}).clone().scatter_(-1, classes, top);
    // At T: p^(1/T), renormalised over the 10 classes.
    expected = expected.pow(1.0 / temperature);
    expected = expected / expected.sum(-1, /*keepdim=*/true);
    EXPECT_TRUE(torch::allclose(teacher, expected, 1e-5, 1e-7)) << "T " << temperature;
  }
}

}  // namespace
}  // namespace distill
