// A sweep's task states when Slurm cannot tell (core/sweep/sweep_status.h): Slurm's commands
// missing, no client at all, or only sacct answering (its RUNNING may be stale). A task whose
// run its database still marks running is then judged by its heartbeat, the newest metric point
// written to its database: younger than the limit, running; older, lost. A run whose lock a
// live process holds is running whatever its heartbeat's age, and Slurm's word, when the
// controller gives it, wins. And cancelling (core/sweep/sweep_control.h): scancel for the
// arrays with unfinished tasks, SIGTERM for the process that runs a local sweep's workers.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/config/config.h"
#include "core/store/run_files.h"
#include "core/store/run_store.h"
#include "core/sweep/slurm.h"
#include "core/sweep/sweep_control.h"
#include "core/sweep/sweep_manifest.h"
#include "core/sweep/sweep_status.h"
#include "support/test_support.h"

namespace distill {
namespace {

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

ManifestTask task(int index, const std::string& hash, const std::string& job = "") {
  ManifestTask t;
  t.index = index;
  t.hash = hash;
  t.slurm_job = job;
  return t;
}

// Writes the task's database as its worker would have: a run with training points, the newest
// `heartbeat_age_s` seconds ago, then `status` (Running: left running, with no lock file, as a
// worker on another node leaves it seen from here). Returns the run's UUID.
std::string writeRun(const std::string& dir, const std::string& hash, double heartbeat_age_s,
                     RunStatus status = RunStatus::Running) {
  RunStore store(taskDatabase(dir, hash));
  NewRun run;
  run.name = "run-" + hash;
  const int64_t id = store.createRun(run);
  const double last = unixNow() - heartbeat_age_s;
  store.appendMetrics(id, {{"train/student_loss", 10, 0.5, last - 30, 0.9}, {"train/student_loss", 20, 1.0, last, 0.7}});
  if (status != RunStatus::Running) store.finishRun(id, status);
  return store.getRun(id)->uuid;
}

// Slurm's commands not installed here (or not answering): every one exits 127.
ProgramResult noSlurm(const std::vector<std::string>& argv) { return {127, "", argv[0] + ": command not found\n"}; }

const TaskStatus& of(const std::vector<TaskStatus>& statuses, const std::string& hash) {
  for (const auto& status : statuses)
    if (status.task.hash == hash) return status;
  throw std::runtime_error("no task " + hash);
}

TEST(SweepHeartbeat, WithoutSlurmAFreshHeartbeatIsRunningAndAnOldOneIsLost) {
  testing::TempDir dir;
  const std::string root = dir.path().string();
  SweepManifest manifest;
  manifest.id = "t-1";
  manifest.tasks = {task(0, "fresh", "5_0"), task(1, "old", "5_1"), task(2, "done", "5_2"), task(3, "queued", "5_3")};
  writeRun(root, "fresh", /*heartbeat_age_s=*/120);
  writeRun(root, "old", /*heartbeat_age_s=*/40 * 60);
  writeRun(root, "done", /*heartbeat_age_s=*/3 * 3600, RunStatus::Completed);
  SlurmClient slurm(noSlurm);
  std::string source;
  const auto statuses = sweepStatus(root, manifest, &slurm, &source);
  EXPECT_NE(source.find("sacct unavailable"), std::string::npos) << source;

  const TaskStatus& fresh = of(statuses, "fresh");
  EXPECT_EQ(fresh.state, "running");
  EXPECT_EQ(fresh.source, "heartbeat");
  EXPECT_NEAR(fresh.heartbeat_age_s, 120, 30);
  EXPECT_EQ(fresh.note, "");

  const TaskStatus& old = of(statuses, "old");
  EXPECT_EQ(old.state, "lost");
  EXPECT_EQ(old.source, "heartbeat");
  EXPECT_EQ(old.note, "no heartbeat for 40 min");
  EXPECT_NEAR(old.heartbeat_age_s, 40 * 60, 30);
  // Lost is its own state: not failed (resubmit does not take it), not final (a heartbeat may
  // come back, or Slurm may say how it ended).
  EXPECT_FALSE(isFailedState(old.state));
  EXPECT_FALSE(isFinalState(old.state));

  EXPECT_EQ(of(statuses, "done").state, "completed");  // its database says so: no heartbeat needed
  EXPECT_EQ(of(statuses, "done").source, "database");
  EXPECT_EQ(of(statuses, "done").heartbeat_age_s, -1.0);
  EXPECT_EQ(of(statuses, "queued").state, "pending");
  EXPECT_EQ(of(statuses, "queued").source, "");

  // The limit is the caller's: an hour keeps the 40-minute silence running.
  EXPECT_EQ(of(sweepStatus(root, manifest, &slurm, nullptr, /*lost_after_s=*/3600), "old").state, "running");
}

TEST(SweepHeartbeat, NotAskingSlurmJudgesByTheHeartbeatToo) {
  // A local sweep's folder seen from another machine, or a quick look without a client.
  testing::TempDir dir;
  const std::string root = dir.path().string();
  SweepManifest manifest;
  manifest.id = "t-1";
  manifest.tasks = {task(0, "local-old"), task(1, "slurm-old", "9_0"), task(2, "local-fresh")};
  writeRun(root, "local-old", 20 * 60);
  writeRun(root, "slurm-old", 20 * 60);
  writeRun(root, "local-fresh", 5);
  const auto statuses = sweepStatus(root, manifest, nullptr);
  EXPECT_EQ(of(statuses, "local-old").state, "lost");
  EXPECT_EQ(of(statuses, "slurm-old").state, "lost");
  EXPECT_EQ(of(statuses, "slurm-old").note, "no heartbeat for 20 min");
  EXPECT_EQ(of(statuses, "local-fresh").state, "running");
  EXPECT_EQ(of(statuses, "local-fresh").source, "heartbeat");
}

TEST(SweepHeartbeat, ARunWithoutAPointYetIsJudgedByItsStart) {
  testing::TempDir dir;
  const std::string root = dir.path().string();
  {
    RunStore store(taskDatabase(root, "new"));
    store.createRun(NewRun{"just started", "", {}, std::nullopt});
  }
  SweepManifest manifest;
  manifest.tasks = {task(0, "new", "3_0")};
  const auto statuses = sweepStatus(root, manifest, nullptr);
  EXPECT_EQ(statuses[0].state, "running");
  EXPECT_EQ(statuses[0].source, "heartbeat");
  EXPECT_GE(statuses[0].heartbeat_age_s, 0.0);  // its created_at read as Unix time
  EXPECT_LT(statuses[0].heartbeat_age_s, 60.0);
}

TEST(SweepHeartbeat, ARunWhoseLockALiveProcessHoldsIsRunningWhateverItsHeartbeat) {
  testing::TempDir dir;
  const std::string root = dir.path().string();
  const std::string uuid = writeRun(root, "slow", 50 * 60);
  SweepManifest manifest;
  manifest.tasks = {task(0, "slow", "5_0")};
  SlurmClient slurm(noSlurm);
  {
    RunStore store(taskDatabase(root, "slow"), RunStore::Mode::ReadOnly);
    RunLock lock(store.lockPath(uuid));  // this process drives it (a long evaluation, say)
    const auto statuses = sweepStatus(root, manifest, &slurm);
    EXPECT_EQ(statuses[0].state, "running");
    EXPECT_TRUE(statuses[0].run.driven);
    // Taking the lock is a sign of life: the heartbeat is now, not the 50-minute-old point.
    EXPECT_LT(statuses[0].heartbeat_age_s, 60.0);
  }
}

TEST(SweepHeartbeat, SacctAloneIsStaleButTheControllersWordWins) {
  testing::TempDir dir;
  const std::string root = dir.path().string();
  SweepManifest manifest;
  manifest.id = "t-1";
  manifest.tasks = {task(0, "old", "6_0"), task(1, "fresh", "6_1"), task(2, "ended", "6_2")};
  writeRun(root, "old", 30 * 60);
  writeRun(root, "fresh", 10);
  writeRun(root, "ended", 30 * 60);
  // The controller down: slurmdbd still has the jobs as RUNNING; the last one it saw fail.
  SlurmClient accounting_only([](const std::vector<std::string>& argv) {
    if (argv[0] == "sacct") return ProgramResult{0, "6_0|RUNNING\n6_1|RUNNING\n6_2|FAILED\n", ""};
    return ProgramResult{1, "", "Unable to contact slurm controller (connect failure)\n"};
  });
  auto statuses = sweepStatus(root, manifest, &accounting_only);
  EXPECT_EQ(of(statuses, "old").state, "lost");
  EXPECT_EQ(of(statuses, "old").slurm, "RUNNING");
  EXPECT_NE(of(statuses, "old").note.find("sacct's RUNNING is stale"), std::string::npos) << of(statuses, "old").note;
  EXPECT_EQ(of(statuses, "fresh").state, "running");
  EXPECT_EQ(of(statuses, "fresh").source, "heartbeat");
  EXPECT_EQ(of(statuses, "ended").state, "failed");  // an end Slurm recorded is not stale
  EXPECT_EQ(of(statuses, "ended").source, "slurm");

  // The controller answers: its RUNNING stands, however quiet the run (a hung step is for the
  // user to judge; `sweep status` shows the heartbeat's age).
  SlurmClient controller([](const std::vector<std::string>& argv) {
    if (argv[0] == "squeue") return ProgramResult{0, "6_0|RUNNING\n6_1|RUNNING\n", ""};
    return ProgramResult{1, "", "accounting storage is disabled\n"};
  });
  statuses = sweepStatus(root, manifest, &controller);
  EXPECT_EQ(of(statuses, "old").state, "running");
  EXPECT_EQ(of(statuses, "old").source, "slurm");
  EXPECT_NEAR(of(statuses, "old").heartbeat_age_s, 30 * 60, 30);
  // Slurm no longer knows 6_2 and its run is still marked running: the heartbeat says lost.
  EXPECT_EQ(of(statuses, "ended").state, "lost");
}

TEST(SweepHeartbeat, AControllerThatCannotBeReachedIsAskedOnce) {
  // Each of scontrol and squeue retries for about 18 s against a controller that is down: one
  // try tells, not one per array job and then squeue.
  testing::TempDir dir;
  SweepManifest manifest;
  manifest.tasks = {task(0, "a", "6_0"), task(1, "b", "7_0"), task(2, "c", "8_0")};
  std::vector<std::string> asked;
  SlurmClient down([&](const std::vector<std::string>& argv) {
    asked.push_back(argv[0]);
    if (argv[0] == "sacct") return ProgramResult{1, "", "sacct: error: Problem talking to the database: Connection refused\n"};
    return ProgramResult{1, "", "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n"};
  });
  std::string source;
  sweepStatus(dir.path().string(), manifest, &down, &source);
  EXPECT_EQ(asked, (std::vector<std::string>{"sacct", "scontrol"}));
  EXPECT_NE(source.find("controller unreachable (slurm_load_jobs error: Unable to contact slurm controller"), std::string::npos)
      << source;

  // A job the controller has forgotten is no sign of it being down: the next is asked.
  asked.clear();
  SlurmClient forgetful([&](const std::vector<std::string>& argv) {
    asked.push_back(argv[0]);
    return ProgramResult{1, "", "slurm_load_jobs error: Invalid job id specified\n"};
  });
  sweepStatus(dir.path().string(), manifest, &forgetful);
  EXPECT_EQ(asked, (std::vector<std::string>{"sacct", "scontrol", "scontrol", "scontrol", "squeue"}));
}

TEST(SweepCancel, ScancelTakesTheArraysWithUnfinishedTasksAndResubmitTheFailedOnes) {
  testing::TempDir dir;
  SweepManifest manifest;
  manifest.tasks = {task(0, "a", "5_0"), task(1, "b", "5_1"), task(2, "c", "6_0"), task(-1, "d", "4_0")};
  manifest.slurm_jobs = {"4", "5", "6"};
  std::vector<std::vector<std::string>> calls;
  SlurmClient slurm([&](const std::vector<std::string>& argv) {
    calls.push_back(argv);
    if (argv[0] == "sacct") return ProgramResult{0, "5_0|FAILED\n5_1|RUNNING\n6_0|TIMEOUT\n4_0|CANCELLED by 0\n", ""};
    if (argv[0] == "scancel") return ProgramResult{0, "", ""};
    return ProgramResult{1, "", "no"};
  });
  const auto statuses = sweepStatus(dir.path().string(), manifest, &slurm);
  EXPECT_EQ(failedTasks(statuses), (std::vector<std::string>{"a", "c"}));  // d was dropped from the sweep file
  calls.clear();
  const CancelResult result = cancelSweep(dir.path().string(), manifest, statuses, slurm);
  EXPECT_EQ(result.slurm_jobs, std::vector<std::string>{"5"});  // b still runs; 4 and 6 have ended
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], (std::vector<std::string>{"scancel", "5"}));
  EXPECT_EQ(result.local_runner, 0);
  EXPECT_EQ(result.message, "cancelled job array 5");

  // A local sweep nobody runs: nothing to cancel, said so, and nothing run.
  SweepManifest local;
  local.tasks = {task(0, "a")};
  calls.clear();
  EXPECT_EQ(cancelSweep(dir.path().string(), local, sweepStatus(dir.path().string(), local, &slurm), slurm).message,
            "nothing to cancel: no `distill sweep run` of this sweep is running here");
  EXPECT_TRUE(calls.empty());
}

TEST(SweepCancel, TheLocalRunnerGetsSigtermAndASecondRunnerIsRefused) {
  testing::TempDir dir;
  const std::string root = dir.path().string();
  EXPECT_EQ(localRunner(root).pid, 0);
  // The runner: a child that holds the lock, as `distill sweep run` does while its workers run.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    LocalRunnerLock lock(root);
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) ::_exit(2);
    ::pause();  // until a signal ends it
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(localRunner(root).pid, child);
  try {
    LocalRunnerLock second(root);
    ADD_FAILURE() << "a second runner took the lock";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("is being run by process " + std::to_string(child)), std::string::npos) << e.what();
  }

  SweepManifest manifest;
  manifest.tasks = {task(0, "a")};
  SlurmClient slurm(noSlurm);
  const CancelResult result = cancelSweep(root, manifest, sweepStatus(root, manifest, nullptr), slurm);
  EXPECT_EQ(result.local_runner, child);
  EXPECT_NE(result.message.find("stopped the local runner (process " + std::to_string(child) + ")"), std::string::npos);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  EXPECT_EQ(localRunner(root).pid, 0);  // the kernel released its lock
}

}  // namespace
}  // namespace distill
