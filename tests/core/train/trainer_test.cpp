#include <gtest/gtest.h>

#include <thread>

#include "core/config/config.h"
#include "core/tasks/image/image_task.h"
#include "core/data/dataset.h"
#include "core/errors.h"
#include "core/metrics/metric_info.h"
#include "core/tasks/task_registry.h"
#include "core/store/run_store.h"
#include "core/train/experiment_runner.h"
#include "core/train/trainer.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

// Records everything a trainer reports.
class Recorder : public TrainingObserver {
 public:
  std::map<std::string, std::vector<MetricPoint>> series;
  std::vector<CheckpointInfo> checkpoints;
  std::map<std::string, std::string> environment;
  int progress_calls = 0;
  std::atomic<int> point_count{0};
  std::function<void(const ProgressInfo&)> on_progress;
  void onStarted(const std::map<std::string, std::string>& env) override { environment = env; }
  void onMetrics(const std::vector<MetricPoint>& points) override {
    for (const auto& p : points) series[p.key].push_back(p);
    point_count += static_cast<int>(points.size());
  }
  void onProgress(const ProgressInfo& p) override {
    ++progress_calls;
    if (on_progress) on_progress(p);
  }
  void onCheckpoint(const CheckpointInfo& c) override { checkpoints.push_back(c); }
};

ExperimentConfig toyConfig(const std::string& folder) {
  return parseConfigWithOverrides(
      "", {"dataset.name=idx", "dataset.path=" + folder, "dataset.mean=0.2", "dataset.std=0.3", "teacher.hidden=[64]",
           "teacher.dropout=0", "teacher.epochs=3", "student.hidden=[16]", "train.epochs=3", "train.batch_size=32",
           "train.log_every=5", "seed=5"});
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::writeToyIdxDataset(dir.path() / "data", 600, 200, 4, false);
    config = toyConfig((dir.path() / "data").string());
    data = loadDataset(config.dataset);
  }
  TempDir dir;
  ExperimentConfig config;
  DatasetSplits data;
};

TEST_F(TrainerTest, TwoPhasesLearnTheToyTaskAndReportEveryMetric) {
  Recorder recorder;
  RunControl control;
  ImageTask task(config, data);
  Trainer trainer(config, task, {(dir.path() / "artifacts").string(), "", ""}, recorder, control);
  const auto result = trainer.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  for (const char* key : {"train/teacher_loss", "train/student_loss", "train/kd_loss", "train/ce_loss",
                          "perf/samples_per_s", "eval/teacher_acc", "eval/teacher_loss", "eval/student_acc",
                          "eval/student_loss", "eval/agreement", "eval/kl"})
    EXPECT_FALSE(recorder.series[key].empty()) << key;
  // Every key it logs is declared (label, unit, bounds, direction), none left to a guess.
  for (const auto& [key, points] : recorder.series)
    if (!points.empty()) EXPECT_TRUE(isDeclaredMetric(key)) << key << " is logged but declared neither by the trainer (core/metrics/metric_info.cpp) nor by its task";
  EXPECT_GT(result.final.at("eval/teacher_acc"), 0.9);
  EXPECT_GT(result.final.at("eval/student_acc"), 0.9);
  EXPECT_GT(result.final.at("eval/agreement"), 0.9);
  // 600 samples / 32 = 19 steps per epoch: teacher evaluations at steps 19, 38, 57.
  const auto& teacher_eval = recorder.series["eval/teacher_acc"];
  ASSERT_EQ(teacher_eval.size(), 3u);
  EXPECT_EQ(teacher_eval[2].step, 57);
  EXPECT_DOUBLE_EQ(teacher_eval[2].epoch, 3.0);
  // Student: an evaluation before training, then one per epoch.
  EXPECT_EQ(recorder.series["eval/agreement"].size(), 4u);
  EXPECT_EQ(recorder.series["eval/agreement"].front().step, 0);
  EXPECT_GT(recorder.series["eval/kl"].front().value, recorder.series["eval/kl"].back().value);
  EXPECT_EQ(recorder.environment.at("device"), "cpu");
  EXPECT_EQ(recorder.environment.at("seed"), "5");
  // The linear layers' library is stored with the run (auto: oneDNN on Debian's LibTorch).
  EXPECT_NE(recorder.environment.at("gemm").find("oneDNN"), std::string::npos) << recorder.environment.at("gemm");
  ASSERT_GE(recorder.checkpoints.size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(recorder.checkpoints.back().path));
  EXPECT_GT(recorder.progress_calls, 0);
}

// gemm: blas multiplies through LibTorch's matmul: the same run to float32 rounding, stored as such.
TEST_F(TrainerTest, GemmBlasTrainsTheSameRunThroughLibTorchsMatmul) {
  std::map<std::string, double> finals[2];
  for (const std::string gemm : {"auto", "blas"}) {
    config.gemm = gemm;
    Recorder recorder;
    RunControl control;
    ImageTask task(config, data);
    Trainer trainer(config, task, {}, recorder, control);
    const auto result = trainer.run();
    ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
    EXPECT_NE(recorder.environment.at("gemm").find(gemm == "blas" ? "LibTorch matmul" : "oneDNN"), std::string::npos)
        << recorder.environment.at("gemm");
    finals[gemm == "blas"] = result.final;
  }
  for (const char* key : {"eval/teacher_acc", "eval/student_acc", "eval/agreement"})
    EXPECT_NEAR(finals[0].at(key), finals[1].at(key), 0.03) << key;
}

TEST_F(TrainerTest, CnnTeacherDistilsIntoMlpStudentWithAdamW) {
  config.teacher.model.arch = "cnn";
  config.teacher.model.channels = {4, 8};
  config.teacher.model.hidden = {16};
  config.teacher.epochs = 1;
  config.train.epochs = 2;
  config.train.optimizer = "adamw";
  config.train.lr = 0.003;
  config.train.schedule = "step";
  config.train.step_size = 1;
  Recorder recorder;
  RunControl control;
  ImageTask task(config, data);
  Trainer trainer(config, task, {}, recorder, control);
  const auto result = trainer.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  EXPECT_GT(result.final.at("eval/teacher_acc"), 0.5);
  EXPECT_GT(result.final.at("eval/agreement"), 0.5);
  EXPECT_NE(recorder.environment.at("teacher_summary").find("CNN"), std::string::npos);
}

TEST_F(TrainerTest, AugmentationTurnsTheLogitCacheOffAndStillLearns) {
  config.dataset.augment = true;
  class Logs : public Recorder {
   public:
    std::vector<std::string> lines;
    void onLog(LogLevel, const std::string& message) override { lines.push_back(message); }
  } recorder;
  RunControl control;
  ImageTask task(config, data);
  Trainer trainer(config, task, {}, recorder, control);
  const auto result = trainer.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  bool cache_off = false;
  for (const auto& line : recorder.lines) cache_off = cache_off || line.find("cache off") != std::string::npos;
  EXPECT_TRUE(cache_off);
  EXPECT_GT(result.final.at("eval/student_acc"), 0.6);
}

TEST_F(TrainerTest, SameSeedGivesTheSameRun) {
  std::vector<double> finals;
  for (int i = 0; i < 2; ++i) {
    Recorder recorder;
    RunControl control;
    ImageTask task(config, data);
    Trainer trainer(config, task, {}, recorder, control);
    finals.push_back(trainer.run().final.at("eval/kl"));
  }
  EXPECT_DOUBLE_EQ(finals[0], finals[1]);
}

TEST_F(TrainerTest, TeacherLogitCacheGivesTheSameStudent) {
  std::vector<double> finals;
  for (bool cache : {true, false}) {
    config.distill.teacher_cache = cache ? "logits" : "off";
    Recorder recorder;
    RunControl control;
    ImageTask task(config, data);
    Trainer trainer(config, task, {}, recorder, control);
    finals.push_back(trainer.run().final.at("eval/student_loss"));
  }
  EXPECT_NEAR(finals[0], finals[1], 1e-5);
}

TEST_F(TrainerTest, StopRequestEndsTheRunBetweenSteps) {
  Recorder recorder;
  RunControl control;
  recorder.on_progress = [&](const ProgressInfo& p) {
    if (p.phase == Phase::Student) control.requestStop();
  };
  ImageTask task(config, data);
  Trainer trainer(config, task, {}, recorder, control);
  const auto result = trainer.run();
  EXPECT_EQ(result.outcome, RunOutcome::Stopped);
  EXPECT_LT(recorder.series["eval/agreement"].size(), 4u);
}

TEST_F(TrainerTest, PauseHoldsTheRunUntilResumed) {
  Recorder recorder;
  RunControl control;
  std::atomic<int64_t> steps_when_paused{-1};
  recorder.on_progress = [&](const ProgressInfo& p) {
    if (steps_when_paused < 0) {
      steps_when_paused = p.done_steps;
      control.setPaused(true);
    }
  };
  std::thread resumer([&] {
    while (steps_when_paused < 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const int points_at_pause = recorder.point_count;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(recorder.point_count, points_at_pause) << "no step may run while paused";
    control.setPaused(false);
  });
  ImageTask task(config, data);
  Trainer trainer(config, task, {}, recorder, control);
  EXPECT_EQ(trainer.run().outcome, RunOutcome::Completed);
  resumer.join();
  // The pause (600 ms) is not counted as training time: no logged interval (at most 5 steps of
  // 32 samples) reports a speed that would mean it took 0.3 s or more.
  ASSERT_FALSE(recorder.series["perf/samples_per_s"].empty());
  for (const auto& p : recorder.series["perf/samples_per_s"])
    EXPECT_GT(p.value, 160 / 0.3) << "step " << p.step << ": the pause counted as training time";
}

TEST_F(TrainerTest, DivergenceFailsTheRunWithTheStep) {
  config.train.lr = 1e30;
  config.train.schedule = "constant";
  Recorder recorder;
  RunControl control;
  ImageTask task(config, data);
  Trainer trainer(config, task, {}, recorder, control);
  const auto result = trainer.run();
  EXPECT_EQ(result.outcome, RunOutcome::Failed);
  EXPECT_NE(result.error.find("diverged at step"), std::string::npos) << result.error;
}

TEST_F(TrainerTest, ExperimentRunnerStoresTheRunAndReusesItsTeacher) {
  const std::string db = dir.file("runs.db");
  Recorder recorder;
  RunControl control;
  int64_t first_id = 0;
  {
    ExperimentRunner runner(config, db, recorder, control);
    first_id = runner.createRun();
    ASSERT_EQ(runner.run().outcome, RunOutcome::Completed);
  }
  RunStore store(db);
  const auto first = store.getRun(first_id);
  EXPECT_EQ(first->status, RunStatus::Completed);
  EXPECT_EQ(first->environment.at("train_samples"), "600");
  EXPECT_EQ(store.metrics(first_id, "eval/teacher_acc").size(), 3u);
  EXPECT_EQ(store.checkpoints(first_id).size(), 3u);  // teacher, student, training state

  // Reuse that teacher without retraining: same teacher accuracy, lineage recorded.
  auto reuse = config;
  reuse.teacher.source = "run:" + std::to_string(first_id);
  reuse.teacher.model.hidden = {999};  // ignored: the architecture comes from the source run
  Recorder second_recorder;
  ExperimentRunner runner(reuse, db, second_recorder, control);
  const int64_t second_id = runner.createRun();
  const auto result = runner.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  EXPECT_TRUE(second_recorder.series["train/teacher_loss"].empty());
  EXPECT_DOUBLE_EQ(result.final.at("eval/teacher_acc"), first->final_metrics.at("eval/teacher_acc"));
  EXPECT_EQ(*store.getRun(second_id)->teacher_run_id, first_id);
}

TEST_F(TrainerTest, ExperimentRunnerRejectsAMissingTeacherRunBeforeRecording) {
  const std::string db = dir.file("runs.db");
  config.teacher.source = "run:42";
  Recorder recorder;
  RunControl control;
  EXPECT_THROW(ExperimentRunner(config, db, recorder, control), ConfigError);
  EXPECT_TRUE(RunStore(db).listRuns().empty());
}

// The status line's count of the run in its units: compact, with the units named.
TEST(ProgressUnits, CountsAreCompactAndNameTheirUnits) {
  ProgressInfo p;
  p.units = "tokens";
  EXPECT_EQ(progressUnitsText(p), "") << "nothing counted yet";
  p.done_units = 1'234'567, p.total_units = 9'800'000;
  EXPECT_EQ(progressUnitsText(p), "1.2M / 9.8M tokens");
  p.units = "samples", p.done_units = 950, p.total_units = 128'000;
  EXPECT_EQ(progressUnitsText(p), "950 / 128k samples");
  p.done_units = 12'800, p.total_units = 3.4e9;
  EXPECT_EQ(progressUnitsText(p), "12.8k / 3.4G samples");
}

}  // namespace
}  // namespace distill
