// Crash safety: a run killed with SIGKILL mid-training leaves a sound database, shows as
// interrupted, and resumes from its last epoch checkpoint to the same final numbers as an
// uninterrupted run with the same seed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/errors.h"
#include "core/store/run_files.h"
#include "core/store/run_store.h"
#include "core/train/experiment_runner.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

std::vector<std::string> toyOverrides(const std::string& folder) {
  return {"dataset.name=idx", "dataset.path=" + folder, "teacher.hidden=[64]", "teacher.dropout=0.1",
          "teacher.epochs=3", "student.hidden=[32]", "student.dropout=0.1", "train.epochs=4",
          "train.batch_size=32", "seed=11"};
}

pid_t spawn(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::string integrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  std::string result;
  sqlite3_exec(
      db, "PRAGMA integrity_check",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) += values[0] ? values[0] : "";
        return 0;
      },
      &result, nullptr);
  sqlite3_close(db);
  return result;
}

class Quiet : public TrainingObserver {};

// A new run of `overrides` in `db`, trained to its end (or its stop).
RunResult runExperiment(const std::vector<std::string>& overrides, const std::string& db, TrainingObserver& observer,
                        RunControl& control) {
  ExperimentRunner runner(parseConfigWithOverrides("", overrides), db, observer, control);
  runner.createRun();
  return runner.run();
}

TEST(Resume, AfterSigkillTheRunContinuesToTheSameFinalNumbers) {
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  testing::writeToyIdxDataset(data, 640, 160, 4, false);
  const auto overrides = toyOverrides(data);

  // The uninterrupted reference.
  Quiet quiet;
  RunControl control;
  const RunResult reference = runExperiment(overrides, dir.file("reference.db"), quiet, control);
  ASSERT_EQ(reference.outcome, RunOutcome::Completed) << reference.error;

  // The same run in another process, killed with SIGKILL after its second student epoch.
  const std::string db = dir.file("killed.db");
  std::vector<std::string> args{RUN_EXPERIMENT_PATH, db, "--slow-ms", "400"};
  args.insert(args.end(), overrides.begin(), overrides.end());
  const pid_t child = spawn(args);
  ASSERT_GT(child, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool killed = false;
  while (!killed && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!std::filesystem::exists(db)) continue;
    try {
      RunStore store(db, RunStore::Mode::ReadOnly);
      for (const auto& c : store.checkpoints(1))
        if (c.role == "student" && c.epoch >= 2) {
          kill(child, SIGKILL);
          killed = true;
        }
    } catch (const StoreError&) {
      // not created yet
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(killed) << "the child never reached its second student epoch";
  ASSERT_TRUE(WIFSIGNALED(status));

  EXPECT_EQ(integrityCheck(db), "ok");
  {
    RunStore store(db);
    // Its lock went with the killed process: readers see it interrupted before anything is written.
    EXPECT_EQ(store.getRun(1)->status, RunStatus::Interrupted);
    EXPECT_EQ(store.markInterruptedRuns(), 1);
    EXPECT_EQ(store.getRun(1)->status, RunStatus::Interrupted);
    EXPECT_EQ(store.metrics(1, "eval/teacher_acc").size(), 3u) << "points flushed before the kill are kept";
  }

  ExperimentRunner resumed(ResumeRun{1}, db, quiet, control);
  EXPECT_EQ(resumed.createRun(), 1);
  const auto result = resumed.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  for (const char* key : {"eval/student_acc", "eval/agreement", "eval/teacher_acc"})
    EXPECT_DOUBLE_EQ(result.final.at(key), reference.final.at(key)) << key;
  EXPECT_NEAR(result.final.at("eval/kl"), reference.final.at("eval/kl"), 1e-6);

  RunStore store(db);
  EXPECT_EQ(store.getRun(1)->status, RunStatus::Completed);
  RunStore reference_store(dir.file("reference.db"));
  for (const char* key : {"eval/agreement", "train/student_loss", "eval/teacher_acc"}) {
    const auto points = store.metrics(1, key);
    const auto expected = reference_store.metrics(1, key);
    ASSERT_EQ(points.size(), expected.size()) << key << ": the curve continues without gaps or duplicates";
    for (size_t i = 0; i < points.size(); ++i) EXPECT_EQ(points[i].step, expected[i].step) << key;
  }
}

// Stops the run once the student's first epoch checkpoint is written (the state a crash or a
// Stop would leave to resume from).
class StopAfterFirstStudentCheckpoint : public TrainingObserver {
 public:
  explicit StopAfterFirstStudentCheckpoint(RunControl& control) : control_(control) {}
  void onCheckpoint(const CheckpointInfo& checkpoint) override {
    if (checkpoint.role == "student") control_.requestStop();
  }

 private:
  RunControl& control_;
};

// A FitNet run resumed in its student phase continues with the hint regressor it had learned
// (it restarted from random weights: the trainer read `fitnet` before setting it), so it ends
// at the same numbers as the uninterrupted run.
TEST(Resume, AFitnetRunKeepsItsHintRegressor) {
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  testing::writeToyIdxDataset(data, 320, 80, 4, false);
  auto overrides = toyOverrides(data);
  overrides.insert(overrides.end(), {"distill.method=fitnet", "teacher.epochs=1", "train.epochs=3", "teacher.dropout=0",
                                     "student.dropout=0"});
  Quiet quiet;
  RunControl reference_control;
  const RunResult reference = runExperiment(overrides, dir.file("reference.db"), quiet, reference_control);
  ASSERT_EQ(reference.outcome, RunOutcome::Completed) << reference.error;
  const std::string db = dir.file("stopped.db");
  {
    RunControl control;
    StopAfterFirstStudentCheckpoint stopper(control);
    ASSERT_EQ(runExperiment(overrides, db, stopper, control).outcome, RunOutcome::Stopped);
  }
  RunControl control;
  ExperimentRunner resumed(ResumeRun{1}, db, quiet, control);
  resumed.createRun();
  const auto result = resumed.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  for (const char* key : {"eval/student_acc", "eval/agreement"})
    EXPECT_DOUBLE_EQ(result.final.at(key), reference.final.at(key)) << key;
  EXPECT_NEAR(result.final.at("train/hint_loss"), reference.final.at("train/hint_loss"), 1e-6);
}

// The one rule the runner and the window's Resume button share (checkResume).
TEST(Resume, OneRuleSaysWhichRunsResumeAndWhy) {
  TempDir dir;
  const std::string db = dir.file("runs.db");
  RunStore store(db);
  auto make = [&](RunStatus status) {
    const int64_t id = store.createRun(NewRun{"r", "name: r\n", {}, std::nullopt});
    if (status != RunStatus::Running) store.finishRun(id, status);
    return id;
  };
  using Verdict = ResumeCheck::Verdict;
  EXPECT_EQ(checkResume(store, 42).verdict, Verdict::NotFound);
  EXPECT_EQ(checkResume(store, make(RunStatus::Completed)).verdict, Verdict::Completed);
  const int64_t early = make(RunStatus::Failed);
  EXPECT_EQ(checkResume(store, early).verdict, Verdict::NoCheckpoint);
  EXPECT_NE(checkResume(store, early).why.find("run " + std::to_string(early)), std::string::npos);
  const int64_t stopped = make(RunStatus::Stopped);
  store.addCheckpoint(stopped, {"state", dir.file("state.pt"), 30, 2.0});
  const ResumeCheck possible = checkResume(store, stopped);
  EXPECT_TRUE(possible.possible());
  EXPECT_EQ(possible.epoch, 2.0);

  const int64_t live = make(RunStatus::Running);
  {
    RunLock lock(store.lockPath(store.getRun(live)->uuid));
    EXPECT_EQ(checkResume(store, live).verdict, Verdict::StillRunning);
  }
  // The lock is free now: provably dead, so it reads as interrupted (no checkpoint yet).
  EXPECT_EQ(checkResume(store, live).verdict, Verdict::NoCheckpoint);
  // No lock file and another host: nothing here can tell.
  const int64_t foreign = make(RunStatus::Running);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, ("UPDATE runs SET host = 'elsewhere' WHERE id = " + std::to_string(foreign)).c_str(), nullptr, nullptr,
               nullptr);
  sqlite3_close(raw);
  EXPECT_EQ(checkResume(store, foreign).verdict, Verdict::Undecidable);
  EXPECT_NE(checkResume(store, foreign).why.find("--take-over"), std::string::npos);
}

TEST(Resume, RefusesCompletedUnknownAndCheckpointlessRuns) {
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  testing::writeToyIdxDataset(data, 64, 32, 3, false);
  auto config = parseConfigWithOverrides("", toyOverrides(data));
  config.teacher.epochs = 1;
  config.train.epochs = 1;
  Quiet quiet;
  RunControl control;
  const std::string db = dir.file("runs.db");
  {
    ExperimentRunner runner(config, db, quiet, control);
    runner.createRun();
    ASSERT_EQ(runner.run().outcome, RunOutcome::Completed);
  }
  EXPECT_THROW(ExperimentRunner(ResumeRun{1}, db, quiet, control), ConfigError);  // completed
  EXPECT_THROW(ExperimentRunner(ResumeRun{9}, db, quiet, control), StoreError);   // unknown
  {
    RunStore store(db);
    NewRun bare{"bare", toYaml(config), flatten(config), std::nullopt};
    const int64_t id = store.createRun(bare);
    store.finishRun(id, RunStatus::Failed, "x");
  }
  EXPECT_THROW(ExperimentRunner(ResumeRun{2}, db, quiet, control), ConfigError);  // no checkpoint
}

}  // namespace
}  // namespace distill
