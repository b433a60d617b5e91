// The trainer's teacher cache (core/train/teacher_cache.h) on a tiny language model: topk
// access trains the same student with the top-k file as without it, a second run of the same
// teacher reuses the file and so does a resumed run, another teacher's or a cut file is
// rebuilt, logits access from the file is named an approximation in the run's params,
// environment and log, and with every class kept it trains the exact student. The losses' side
// is in tests/core/losses/teacher_access_test.cpp, the file's in teacher_topk_cache_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/metrics/metric_keys.h"
#include "core/tasks/lm/lm_metrics.h"
#include "core/tasks/lm/lm_task.h"
#include "core/train/experiment_runner.h"
#include "core/train/teacher_cache.h"
#include "core/train/trainer.h"
#include "support/lm_test_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::lmConfig;
using testing::runLm;
using testing::TempDir;
using testing::writeCorpus;

struct LogRecorder : TrainingObserver {
  std::vector<std::string> lines;
  std::map<std::string, std::string> environment;
  void onStarted(const std::map<std::string, std::string>& env) override { environment = env; }
  void onLog(LogLevel, const std::string& message) override { lines.push_back(message); }
  bool said(const std::string& words) const {
    for (const auto& line : lines)
      if (line.find(words) != std::string::npos) return true;
    return false;
  }
};

struct TinyRun {
  RunResult result;
  LogRecorder log;
};

TinyRun train(const ExperimentConfig& config, const std::string& folder) {
  TinyRun run;
  RunControl control;
  LmTask task(config);
  TrainerOptions options;
  options.artifacts_dir = folder;
  Trainer trainer(config, task, options, run.log, control);
  run.result = trainer.run();
  return run;
}

std::vector<std::string> tiny(std::vector<std::string> more) {
  // Short phases, no generated samples at the evaluations: seconds a run.
  std::vector<std::string> overrides = {"teacher.epochs=1", "train.epochs=1", "dataset.limit_train=96",
                                        "distill.temperature=2", "generation.eval_prompts=0"};
  overrides.insert(overrides.end(), more.begin(), more.end());
  return overrides;
}

TEST(TeacherTopkCacheRun, TopkAccessTrainsTheSameStudentWithTheCacheAsWithoutAndReusesIt) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const std::vector<std::string> access{"distill.teacher_access=topk", "distill.topk=5"};
  auto with = access, without = access;
  with.push_back("distill.teacher_cache=auto");  // topk for topk access
  without.push_back("distill.teacher_cache=off");
  const auto cached = train(lmConfig(corpus, tiny(with)), dir.file("cached"));
  const auto plain = train(lmConfig(corpus, tiny(without)), dir.file("plain"));
  ASSERT_EQ(cached.result.outcome, RunOutcome::Completed) << cached.result.error;
  ASSERT_EQ(plain.result.outcome, RunOutcome::Completed) << plain.result.error;
  EXPECT_TRUE(cached.log.said("cached the teacher's top-20 log-probabilities")) << cached.log.lines.back();
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "cached" / kTeacherTopkFile));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "plain" / kTeacherTopkFile));
  EXPECT_NE(cached.log.environment.at("teacher_cache").find("exact"), std::string::npos);
  for (const char* key : {metric_key::kStudentValLoss, metric_key::kKdLoss})
    EXPECT_NEAR(cached.result.final.at(key), plain.result.final.at(key), 1e-5) << key;

  // The same teacher again (same seed, same steps): the file is reused.
  const auto again = train(lmConfig(corpus, tiny(with)), dir.file("cached"));
  EXPECT_TRUE(again.log.said("reused the teacher's top-20 cache"));
  EXPECT_DOUBLE_EQ(again.result.final.at(metric_key::kStudentValLoss), cached.result.final.at(metric_key::kStudentValLoss));

  // Another teacher (a second epoch): the file is rebuilt.
  auto longer = with;
  longer.push_back("teacher.epochs=2");
  const auto other = train(lmConfig(corpus, tiny(longer)), dir.file("cached"));
  EXPECT_TRUE(other.log.said("rebuilding the teacher's top-k cache")) << other.log.lines.back();
  EXPECT_TRUE(other.log.said("it was made by another teacher"));
  EXPECT_TRUE(other.log.said("cached the teacher's top-20 log-probabilities"));

  // A file cut short: rebuilt, and the run is the one with a whole file.
  const auto file = dir.path() / "cached" / kTeacherTopkFile;
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  const auto cut = train(lmConfig(corpus, tiny(longer)), dir.file("cached"));
  EXPECT_TRUE(cut.log.said("it is cut short"));
  EXPECT_TRUE(cut.log.said("cached the teacher's top-20 log-probabilities"));
  EXPECT_DOUBLE_EQ(cut.result.final.at(metric_key::kStudentValLoss), other.result.final.at(metric_key::kStudentValLoss));
}

// Stops the run once the student's first epoch checkpoint is written.
struct StopAfterFirstStudentEpoch : LogRecorder {
  explicit StopAfterFirstStudentEpoch(RunControl& run_control) : control(run_control) {}
  void onCheckpoint(const CheckpointInfo& checkpoint) override {
    if (checkpoint.role == "student") control.requestStop();
  }
  RunControl& control;
};

TEST(TeacherTopkCacheRun, AResumedRunReusesItsFileAndEndsWhereTheUninterruptedRunEnds) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto config = lmConfig(corpus, tiny({"distill.teacher_access=topk", "distill.topk=5", "train.epochs=2"}));
  std::filesystem::create_directories(dir.path() / "reference");
  const auto reference = runLm(dir.path() / "reference", config);
  ASSERT_EQ(reference.result.outcome, RunOutcome::Completed) << reference.result.error;
  const std::string db = dir.file("stopped.db");
  {
    RunControl control;
    StopAfterFirstStudentEpoch stopper(control);
    ExperimentRunner first(config, db, stopper, control);
    first.createRun();
    ASSERT_EQ(first.run().outcome, RunOutcome::Stopped);
    EXPECT_TRUE(stopper.said("cached the teacher's top-20 log-probabilities"));
  }
  RunControl control;
  LogRecorder log;
  ExperimentRunner resumed(ResumeRun{1}, db, log, control);
  resumed.createRun();
  const auto result = resumed.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  EXPECT_TRUE(log.said("reused the teacher's top-20 cache"));
  EXPECT_FALSE(log.said("cached the teacher's top-20 log-probabilities"));
  EXPECT_DOUBLE_EQ(result.final.at(metric_key::kStudentValLoss),
                   reference.result.final.at(metric_key::kStudentValLoss));
}

TEST(TeacherTopkCacheRun, LogitsAccessFromTheTopkCacheIsNamedAnApproximationInTheParamsEnvironmentAndLog) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto f = runLm(dir.path(), lmConfig(corpus, tiny({"distill.teacher_cache=topk", "distill.teacher_cache_k=8"})));
  ASSERT_EQ(f.result.outcome, RunOutcome::Completed) << f.result.error;
  EXPECT_EQ(f.run.params.at("distill.teacher_cache"), "topk");
  EXPECT_EQ(f.run.params.at("distill.teacher_access"), "logits");
  EXPECT_EQ(f.run.params.at("distill.teacher_cache_k"), "8");
  const auto& described = f.run.environment.at("teacher_cache");
  EXPECT_NE(described.find("an approximation for logits access"), std::string::npos) << described;
  EXPECT_NE(described.find("top 8"), std::string::npos) << described;
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(f.run.files_dir) / kTeacherTopkFile));

  const auto run = train(lmConfig(corpus, tiny({"distill.teacher_cache=topk", "distill.teacher_cache_k=8"})),
                         dir.file("direct"));
  EXPECT_TRUE(run.log.said("logits access reads the teacher from its top-8 cache: an approximation")) << [&] {
    std::string all;
    for (const auto& line : run.log.lines) all += line + "\n";
    return all;
  }();
  // The default (auto) with logits access keeps the exact logits in memory.
  const auto exact = train(lmConfig(corpus, tiny({})), dir.file("exact"));
  EXPECT_TRUE(exact.log.said("cached the teacher's logits"));
  EXPECT_EQ(exact.log.environment.at("teacher_cache").find("approximation"), std::string::npos);
}

TEST(TeacherTopkCacheRun, LogitsAccessFromATopkOfTheWholeVocabularyTrainsTheExactStudent) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  // Byte tokens: 256 classes, all kept.
  const auto whole = train(lmConfig(corpus, tiny({"distill.teacher_cache=topk", "distill.teacher_cache_k=256"})),
                           dir.file("whole"));
  const auto exact = train(lmConfig(corpus, tiny({"distill.teacher_cache=logits"})), dir.file("exact"));
  ASSERT_EQ(whole.result.outcome, RunOutcome::Completed) << whole.result.error;
  EXPECT_TRUE(whole.log.said("which keeps every class: exact"));
  for (const char* key : {metric_key::kStudentValLoss, metric_key::kKdLoss})
    EXPECT_NEAR(whole.result.final.at(key), exact.result.final.at(key), 1e-4) << key;
}

}  // namespace
}  // namespace distill
