// `distill sweep` and `distill import` end to end on a toy IDX dataset: a plan and its
// refusals, a local sweep of 4 runs sharing one teacher (2 workers at a time, one database
// each), a second submission that runs nothing, the import with tags and lineage (twice:
// the second changes nothing), Ctrl-C stopping the workers cleanly, whose runs the next
// submission resumes, and `sweep resubmit --failed` running again only the runs that failed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/errors.h"
#include "core/store/run_store.h"
#include "support/cli_support.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace distill {
namespace {

using testing::distillCli;
using testing::quote;
using testing::TempDir;

// A sweep file over a toy dataset: every run takes a second or two.
std::string sweepFile(const TempDir& dir, const std::string& name, const std::string& axes, int epochs,
                      const std::string& extra = "") {
  const fs::path data = dir.path() / "data";
  if (!fs::exists(data)) testing::writeToyIdxDataset(data, /*train_count=*/600, /*test_count=*/150, /*classes=*/4, /*gzip=*/false);
  const std::string file = dir.file(name + ".yaml");
  std::ofstream(file) << "name: " << name << "\n"
                      << "base:\n  dataset: {name: idx, path: '" << data.string() << "', mean: 0.1, std: 0.3}\n"
                      << "  teacher: {hidden: [32], epochs: 1}\n  student: {hidden: [16]}\n"
                      << "  train: {epochs: " << epochs << ", batch_size: 64, eval_every: 0}\n  threads: 1\n"
                      << extra << "axes:\n" << axes;
  return file;
}

nlohmann::json statusJson(const std::string& dir) {
  const auto status = distillCli("sweep status --json " + quote(dir));
  EXPECT_EQ(status.exit_code, 0) << status.err;
  return nlohmann::json::parse(status.out);
}

TEST(SweepCli, PlanPrintsTheRunsAndRefusesBadAxesNamingTheKey) {
  TempDir dir;
  const std::string file = sweepFile(dir, "temps", "  distill.temperature: [2, 4]\n  seed: [0, 1]\n", 1);
  const auto plan = distillCli("sweep plan " + quote(file));
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("sweep temps: 4 run(s) over distill.temperature, seed"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("run 0 trains the teacher"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("temps/3 temperature=4 seed=1"), std::string::npos) << plan.out;
  const auto json = nlohmann::json::parse(distillCli("sweep plan --json " + quote(file)).out);
  ASSERT_EQ(json["runs"].size(), 4u);
  EXPECT_EQ(json["runs"][2]["axes"]["distill.temperature"], "4");
  EXPECT_EQ(json["runs"][0]["trains_teacher"], true);

  const std::string bad = sweepFile(dir, "bad", "  distill.temperature: [2, 0]\n", 1);
  const auto refused = distillCli("sweep run " + quote(bad) + " --out " + quote(dir.file("never")));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("error: axes.distill.temperature: value '0'"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir.file("never")));  // refused before anything was written
}

TEST(SweepCli, ALocalSweepSharesItsTeacherRunsEachConfigOnceAndImports) {
  TempDir dir;
  const std::string file = sweepFile(dir, "temps", "  distill.temperature: [2, 4]\n  seed: [0, 1]\n", 1);
  const std::string out = dir.file("sweep");
  const auto run = distillCli("sweep run " + quote(file) + " --jobs 2 --out " + quote(out));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("sweep temps-"), std::string::npos);
  EXPECT_NE(run.out.find(": 4 completed"), std::string::npos) << run.out;

  const auto status = statusJson(out);
  ASSERT_EQ(status["tasks"].size(), 4u);
  std::set<double> teacher_accuracies;
  for (const auto& task : status["tasks"]) {
    EXPECT_EQ(task["state"], "completed") << task.dump();
    EXPECT_TRUE(fs::exists(task["database"].get<std::string>()));
    teacher_accuracies.insert(task["final"]["eval/teacher_acc"].get<double>());
  }
  EXPECT_EQ(teacher_accuracies.size(), 1u) << "one teacher, trained once, for every run";

  // Submitted again: nothing to run, no new run in any task's database.
  const auto again = distillCli("sweep run " + quote(file) + " --jobs 2 --out " + quote(out));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("4 completed, 0 queued or running, 0 to run"), std::string::npos) << again.out;
  for (const auto& task : status["tasks"]) {
    RunStore store(task["database"].get<std::string>(), RunStore::Mode::ReadOnly);
    EXPECT_EQ(store.listRuns().size(), 1u);
  }

  const std::string db = dir.file("main.db");
  const auto imported = distillCli("sweep import " + quote(out) + " --db " + quote(db));
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.out.find("4 added, 0 updated, 0 unchanged"), std::string::npos) << imported.out;
  RunStore store(db);
  const auto runs = store.listRuns();
  ASSERT_EQ(runs.size(), 4u);
  const std::string sweep_tag = "sweep:" + status["id"].get<std::string>();
  int64_t teacher_run = 0;
  for (const auto& r : runs)
    if (std::count(r.tags.begin(), r.tags.end(), "sweep-teacher")) teacher_run = r.id;
  ASSERT_GT(teacher_run, 0);
  for (const auto& r : runs) {
    EXPECT_EQ(r.status, RunStatus::Completed);
    EXPECT_NE(std::find(r.tags.begin(), r.tags.end(), sweep_tag), r.tags.end());
    const std::string temperature = r.name.find("temperature=2") != std::string::npos ? "2" : "4";
    EXPECT_NE(std::find(r.tags.begin(), r.tags.end(), "distill.temperature=" + temperature), r.tags.end()) << r.name;
    if (r.id != teacher_run) {
      EXPECT_EQ(r.teacher_run_id.value_or(0), teacher_run) << r.name;
    }
  }
  const auto filtered = distillCli("list --json --db " + quote(db) + " --filter " + quote("tag:\"distill.temperature=4\""));
  EXPECT_EQ(nlohmann::json::parse(filtered.out).size(), 2u) << filtered.out;

  const auto twice = distillCli("import --json " + quote(out) + " --db " + quote(db));
  ASSERT_EQ(twice.exit_code, 0) << twice.err;
  const nlohmann::json second = nlohmann::json::parse(twice.out);
  ASSERT_EQ(second["runs"].size(), 4u);
  for (const auto& r : second["runs"]) EXPECT_EQ(r["action"], "unchanged");
}

TEST(SweepCli, CtrlCStopsTheWorkersCleanlyAndTheNextSubmissionResumesThem) {
  TempDir dir;
  const std::string file = sweepFile(dir, "long", "  seed: [0, 1]\n", 100, "teacher: per-task\n");
  const std::string out = dir.file("sweep");
  const pid_t child = fork();
  if (child == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl(DISTILL_CLI_PATH, DISTILL_CLI_PATH, "sweep", "run", file.c_str(), "--jobs", "2", "--out", out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Ctrl-C once each run has a student checkpoint to resume from.
  bool interrupted = false;
  for (int i = 0; i < 3000 && !interrupted; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    int ready = 0;  // tasks whose run has one
    for (const auto& task : fs::exists(out + "/tasks") ? fs::directory_iterator(out + "/tasks") : fs::directory_iterator()) {
      try {
        RunStore store((task.path() / "runs.db").string(), RunStore::Mode::ReadOnly);
        const auto checkpoints = store.checkpoints(1);
        ready += std::any_of(checkpoints.begin(), checkpoints.end(), [](const CheckpointRecord& c) { return c.role == "student"; });
      } catch (const StoreError&) {
      }
    }
    if (ready >= 2) interrupted = kill(child, SIGINT) == 0;
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(interrupted);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  int stopped = 0;
  const nlohmann::json after_stop = statusJson(out);
  for (const auto& task : after_stop["tasks"]) {
    const std::string state = task["state"];
    EXPECT_TRUE(state == "stopped" || state == "completed") << task.dump();  // a fast run may have ended first
    stopped += state == "stopped";
  }
  EXPECT_GE(stopped, 1) << after_stop.dump(1);

  const auto resumed = distillCli("sweep run " + quote(file) + " --jobs 2 --out " + quote(out));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  const nlohmann::json after_resume = statusJson(out);
  for (const auto& task : after_resume["tasks"]) {
    EXPECT_EQ(task["state"], "completed");
    RunStore store(task["database"].get<std::string>(), RunStore::Mode::ReadOnly);
    EXPECT_EQ(store.listRuns().size(), 1u) << "resumed, not started again";
    std::ifstream log(task["log"].get<std::string>());
    std::stringstream text;
    text << log.rdbuf();
    if (stopped == 2) {
      EXPECT_NE(text.str().find("continue run 1 from its last checkpoint"), std::string::npos) << text.str();
    }
  }
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SweepCli, ResubmitFailedRunsAgainOnlyTheRunsThatFailed) {
  TempDir dir;
  // A learning rate of 1e30 passes the plan (a number > 0) and diverges in the first steps.
  const std::string file = sweepFile(dir, "lrs", "  train.lr: [0.05, 1e30]\n  seed: [0, 1]\n", 1);
  const std::string out = dir.file("sweep");
  const auto without_flag = distillCli("sweep resubmit " + quote(out));
  EXPECT_EQ(without_flag.exit_code, 2);
  const auto run = distillCli("sweep run " + quote(file) + " --jobs 2 --out " + quote(out));
  ASSERT_EQ(run.exit_code, 1) << run.out << run.err;  // not every run completed
  EXPECT_NE(run.out.find(": 2 completed, 2 failed"), std::string::npos) << run.out;
  const auto status = statusJson(out);
  ASSERT_EQ(status["tasks"].size(), 4u);
  std::map<std::string, std::string> logs_before;
  for (const auto& task : status["tasks"]) {
    const bool diverging = task["axes"]["train.lr"] != "0.05";
    EXPECT_EQ(task["state"], diverging ? "failed" : "completed") << task.dump();
    if (diverging) {
      EXPECT_NE(task["error"].get<std::string>().find("diverged"), std::string::npos) << task.dump();
      EXPECT_NE(task["log_tail"].get<std::string>().find("diverged"), std::string::npos) << task.dump();
    }
    logs_before[task["hash"]] = readText(task["log"]);
  }

  const auto again = distillCli("sweep resubmit " + quote(out) + " --failed --jobs 2");
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;  // they diverge again
  EXPECT_NE(again.out.find("2 completed, 2 failed; resubmitting 2 run(s) (local)"), std::string::npos) << again.out;
  for (const auto& task : status["tasks"]) {
    const bool diverging = task["axes"]["train.lr"] != "0.05";
    const std::string log = readText(task["log"]);
    // A finished configuration never runs again: its log and its database are as they were.
    if (!diverging) {
      EXPECT_EQ(log, logs_before[task["hash"]]) << task["name"];
      RunStore store(task["database"].get<std::string>(), RunStore::Mode::ReadOnly);
      EXPECT_EQ(store.listRuns().size(), 1u);
    } else {
      EXPECT_EQ(count(log, "diverged"), 2 * count(logs_before[task["hash"]], "diverged")) << log;
      EXPECT_NE(again.out.find("  run   " + std::to_string(task["index"].get<int>()) + " failed"), std::string::npos)
          << again.out;
    }
  }

  // The diverging value dropped from the file: its runs leave the sweep, nothing to resubmit.
  const std::string fixed = sweepFile(dir, "lrs", "  train.lr: [0.05]\n  seed: [0, 1]\n", 1);
  ASSERT_EQ(distillCli("sweep run " + quote(fixed) + " --out " + quote(out)).exit_code, 0);
  const auto nothing = distillCli("sweep resubmit " + quote(out) + " --failed");
  EXPECT_EQ(nothing.exit_code, 0) << nothing.err;
  EXPECT_NE(nothing.out.find("nothing to resubmit"), std::string::npos) << nothing.out;
  EXPECT_NE(nothing.out.find("(2 completed)"), std::string::npos) << nothing.out;
}

}  // namespace
}  // namespace distill
