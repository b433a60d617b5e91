#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/config/config.h"
#include "core/tasks/image/image_task.h"
#include "core/data/dataset.h"
#include "core/errors.h"
#include "core/losses/fitnet.h"
#include "core/train/trainer.h"
#include "support/test_support.h"

namespace distill {
namespace {

TEST(HintRegressor, UsesA1x1ConvolutionForMapsOfTheSameSize) {
  HintRegressor regressor(std::vector<int64_t>{8, 7, 7}, std::vector<int64_t>{16, 7, 7});
  EXPECT_EQ(regressor->forward(torch::randn({3, 8, 7, 7})).sizes(), (std::vector<int64_t>{3, 16, 7, 7}));
  EXPECT_EQ(regressor->parameters()[0].sizes(), (std::vector<int64_t>{16, 8, 1, 1}));
}

TEST(HintRegressor, UsesALinearMapOtherwise) {
  HintRegressor vectors(std::vector<int64_t>{32}, std::vector<int64_t>{64});
  EXPECT_EQ(vectors->forward(torch::randn({5, 32})).sizes(), (std::vector<int64_t>{5, 64}));
  HintRegressor mixed(std::vector<int64_t>{4, 14, 14}, std::vector<int64_t>{1200});
  EXPECT_EQ(mixed->forward(torch::randn({2, 4, 14, 14})).sizes(), (std::vector<int64_t>{2, 1200}));
}

TEST(HintLoss, IsTheMeanSquaredDistance) {
  const auto a = torch::tensor({{1.0, 2.0}, {3.0, 4.0}}, torch::kFloat64);
  const auto b = torch::tensor({{1.0, 0.0}, {0.0, 4.0}}, torch::kFloat64);
  EXPECT_DOUBLE_EQ(hintLoss(a, b).item<double>(), (0.0 + 4.0 + 9.0 + 0.0) / 4.0);
  EXPECT_DOUBLE_EQ(hintLoss(a, a).item<double>(), 0.0);
}

TEST(HintLoss, GradientMatchesFiniteDifferences) {
  torch::manual_seed(2);
  const auto teacher = torch::randn({2, 3}, torch::kFloat64);
  auto student = torch::randn({2, 3}, torch::kFloat64).requires_grad_(true);
  hintLoss(student, teacher).backward();
  const double h = 1e-6;
  for (int64_t i = 0; i < student.numel(); ++i) {
    auto plus = student.detach().clone(), minus = student.detach().clone();
    plus.view({-1})[i] += h;
    minus.view({-1})[i] -= h;
    const double numeric = (hintLoss(plus, teacher).item<double>() - hintLoss(minus, teacher).item<double>()) / (2 * h);
    EXPECT_NEAR(student.grad().view({-1})[i].item<double>(), numeric, 1e-8);
  }
}

class FitNetRun : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::writeToyIdxDataset(dir.path() / "data", 320, 80, 4, false);
    config = parseConfigWithOverrides("", {"dataset.name=idx", "dataset.path=" + (dir.path() / "data").string(),
                                           "teacher.hidden=[64, 48]", "teacher.dropout=0", "teacher.epochs=2",
                                           "student.hidden=[16]", "train.epochs=3", "train.batch_size=32",
                                           "distill.method=fitnet", "train.log_every=5"});
    data = loadDataset(config.dataset);
  }
  testing::TempDir dir;
  ExperimentConfig config;
  DatasetSplits data;
};

class HintSeries : public TrainingObserver {
 public:
  std::vector<double> hint, kd;
  void onMetrics(const std::vector<MetricPoint>& points) override {
    for (const auto& p : points) {
      if (p.key == "train/hint_loss") hint.push_back(p.value);
      if (p.key == "train/kd_loss") kd.push_back(p.value);
    }
  }
};

TEST_F(FitNetRun, HintTermIsLearnedBesideKd) {
  HintSeries series;
  RunControl control;
  ImageTask task(config, data);
  Trainer trainer(config, task, {}, series, control);
  const auto result = trainer.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  ASSERT_GE(series.hint.size(), 4u);
  EXPECT_LT(series.hint.back(), series.hint.front()) << "the regressor and student learn the teacher's features";
  EXPECT_GT(result.final.at("eval/agreement"), 0.8);
}

TEST_F(FitNetRun, HintStageComesFirstWhenConfigured) {
  config.distill.hint_epochs = 1;
  config.distill.hint_teacher_layer = 0;  // the teacher's first hidden layer (64 wide)
  HintSeries series;
  RunControl control;
  ImageTask task(config, data);
  Trainer trainer(config, task, {}, series, control);
  ASSERT_EQ(trainer.run().outcome, RunOutcome::Completed);
  EXPECT_FALSE(series.hint.empty());
}

TEST_F(FitNetRun, AMissingLayerIsRefusedBeforeTraining) {
  config.distill.hint_student_layer = 5;
  HintSeries series;
  RunControl control;
  ImageTask task(config, data);
  EXPECT_THROW(Trainer(config, task, {}, series, control), ModelError);
}

}  // namespace
}  // namespace distill
