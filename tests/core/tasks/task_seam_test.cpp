// The task seam (core/tasks/task.h): a toy second task that copies token sequences runs
// through the same trainer, evaluator driver, checkpointer and store as image classification,
// none of which names it; masks reach the loss; streaming sums equal whole-split metrics.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/config/config.h"
#include "core/fidelity/fidelity.h"
#include "core/metrics/metric_keys.h"
#include "core/metrics/metrics.h"
#include "core/metrics/streaming.h"
#include "core/store/run_store.h"
#include "core/tasks/task_registry.h"
#include "core/train/experiment_runner.h"
#include "core/train/step_runner.h"
#include "support/test_support.h"
#include "support/toy_sequence_task.h"

namespace distill {
namespace {

using testing::TempDir;

ExperimentConfig toyCopyConfig(std::vector<std::string> more = {}) {
  std::vector<std::string> overrides = {"task=toy_copy",     "teacher.hidden=[128]", "teacher.epochs=8",
                                        "student.hidden=[48]", "train.epochs=8",     "train.batch_size=32",
                                        "train.optimizer=adam", "train.lr=0.01",        "train.log_every=4",
                                        "seed=3"};
  overrides.insert(overrides.end(), more.begin(), more.end());
  return parseConfigWithOverrides("", overrides, "toy");
}

class Silent : public TrainingObserver {};

TEST(TaskSeam, AToySequenceTaskRunsThroughTheTrainerAndTheStoreUnchanged) {
  testing::registerToyTask();
  TempDir dir;
  const auto db = (dir.path() / "runs.db").string();
  Silent observer;
  RunControl control;
  ExperimentRunner runner(toyCopyConfig(), db, observer, control);
  const int64_t id = runner.createRun();
  const auto result = runner.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;

  RunStore store(db);
  const auto run = store.getRun(id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->status, RunStatus::Completed);
  EXPECT_EQ(run->environment.at("task"), "toy_copy");
  EXPECT_EQ(run->environment.at("train_sequences"), "512");
  // It learned to copy: chance is 1/11 per token.
  EXPECT_GT(run->final_metrics.at(testing::kToyTeacherAccuracy), 0.9);
  EXPECT_GT(run->final_metrics.at(testing::kToyStudentAccuracy), 0.8);
  EXPECT_GT(run->final_metrics.at(testing::kToyAgreement), 0.8);
  // The trainer's own metrics, counted in the task's units.
  EXPECT_GT(run->final_metrics.at(metric_key::kTokensPerSecond), 0.0);
  EXPECT_EQ(run->final_metrics.count(metric_key::kSamplesPerSecond), 0u);
  EXPECT_GT(run->final_metrics.at(metric_key::kKdLoss), 0.0);
  // Every key it stored is declared (by the trainer or by the task), so charts and tables
  // know its label, unit and direction.
  for (const auto& [key, value] : run->final_metrics) EXPECT_TRUE(isDeclaredMetric(key)) << key;
  EXPECT_EQ(metricInfo(testing::kToyStudentAccuracy).label, "Student token accuracy");
  // Per-evaluation points, one per epoch of each phase plus the student's starting point.
  EXPECT_EQ(store.metrics(id, testing::kToyTeacherAccuracy).size(), 8u);
  EXPECT_EQ(store.metrics(id, testing::kToyStudentAccuracy).size(), 9u);
  // Checkpoints written and owned like an image run's.
  EXPECT_FALSE(store.checkpointFile(id, "student").empty());
  EXPECT_TRUE(std::filesystem::exists(store.checkpointFile(id, "state")));
}

TEST(TaskSeam, AnUnknownTaskIsRefusedNamingTheKeyAndTheKnownTasks) {
  TempDir dir;
  Silent observer;
  RunControl control;
  try {
    ExperimentRunner runner(toyCopyConfig({"task=no_such_task"}), (dir.path() / "r.db").string(), observer, control);
    FAIL() << "an unknown task was accepted";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u);
    EXPECT_EQ(e.issues()[0].key, "task");
    EXPECT_NE(e.issues()[0].message.find("no_such_task"), std::string::npos) << e.what();
    EXPECT_NE(e.issues()[0].message.find("image"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parseConfigWithOverrides("", {"task=Not A Name"}), ConfigError);
}

// A model whose logits are the parameter broadcast over the batch: the loss's value is then
// a known function of which positions it sees.
class PerPositionLogits : public ModelImpl {
 public:
  PerPositionLogits() : logits_(register_parameter("logits", torch::randn({3, 5}))) {}
  torch::Tensor forward(torch::Tensor inputs) override { return logits_.unsqueeze(0).expand({inputs.size(0), 3, 5}); }
  std::string summary() const override { return "per-position logits"; }
  torch::Tensor logits_;
};

TEST(TaskSeam, TheLossSeesOnlyThePositionsTheMaskKeeps) {
  torch::manual_seed(1);
  auto model = std::make_shared<PerPositionLogits>();
  ExperimentConfig config = defaultConfig();
  config.train.optimizer = "sgd";
  config.train.momentum = 0.0;
  config.train.weight_decay = 0.0;
  StepRunner runner(*model, nullptr, nullptr, config, {}, /*reference_loop=*/true);
  Batch batch;
  batch.inputs = torch::zeros({2, 3});
  batch.targets = torch::tensor({{1, 2, 4}, {0, 3, 3}}, torch::kInt64);
  batch.mask = torch::tensor({{true, true, false}, {true, false, false}});
  const auto before = model->logits_.detach().clone();
  const auto terms = runner.step(batch, {}, 0.0, /*lr=*/0.0);
  // The mean cross-entropy over the three kept positions only.
  const auto log_probs = torch::log_softmax(before, -1);
  const double expected =
      -(log_probs[0][1].item<double>() + log_probs[1][2].item<double>() + log_probs[0][0].item<double>()) / 3.0;
  EXPECT_NEAR(terms.total.item<double>(), expected, 1e-6);
  // A masked position gets no gradient: its row of logits is only in batch 0's position 2
  // and batch 1's positions 1 and 2, all masked.
  EXPECT_EQ(model->logits_.grad()[2].abs().sum().item<double>(), 0.0);
  EXPECT_GT(model->logits_.grad()[0].abs().sum().item<double>(), 0.0);
}

TEST(TaskSeam, ChunkedSumsEqualTheWholeSplitMetrics) {
  torch::manual_seed(7);
  const auto teacher = torch::randn({300, 10}) * 3, student = torch::randn({300, 10}) * 2;
  const auto targets = torch::randint(0, 10, {300}, torch::kInt64);
  PredictionSums sums(15);
  AgreementSums agreement(5);
  for (int64_t begin = 0; begin < 300; begin += 64) {
    const int64_t end = std::min<int64_t>(begin + 64, 300);
    sums.add(student.slice(0, begin, end), targets.slice(0, begin, end));
    agreement.add(teacher.slice(0, begin, end), student.slice(0, begin, end));
  }
  EXPECT_EQ(sums.positions(), 300);
  EXPECT_DOUBLE_EQ(sums.accuracy(), accuracy(student, targets));
  EXPECT_NEAR(sums.crossEntropy(), crossEntropy(student, targets), 1e-12);
  EXPECT_NEAR(sums.calibrationError(), expectedCalibrationError(student, targets, 15), 1e-12);
  EXPECT_DOUBLE_EQ(agreement.agreement(), topOneAgreement(teacher, student));
  EXPECT_NEAR(agreement.kl(), predictiveKl(teacher, student), 1e-12);
  EXPECT_NEAR(agreement.topKOverlap(), topKOverlap(teacher, student, 5), 1e-12);
  EXPECT_NEAR(agreement.js(), jsDivergence(teacher, student), 1e-12);

  // With a mask: the same as the metrics of the kept rows alone.
  const auto mask = torch::arange(300) % 3 != 0;
  PredictionSums masked(15);
  masked.add(student, targets, mask);
  EXPECT_EQ(masked.positions(), 200);
  EXPECT_DOUBLE_EQ(masked.accuracy(), accuracy(student.index({mask}), targets.index({mask})));
}

}  // namespace
}  // namespace distill
