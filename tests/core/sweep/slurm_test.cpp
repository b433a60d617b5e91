// The Slurm backend's text (core/sweep/slurm.h): the batch script, the commands' output read
// back into task states (arrays expanded, PREEMPTED, TIMEOUT, REQUEUED, NODE_FAIL and
// OUT_OF_MEMORY kept as their own states), MaxArraySize splitting and the submission order,
// the sweep's status and which tasks `sweep resubmit --failed` takes, with a fake
// sbatch/scontrol/sacct in place of the real ones (tests/slurm runs the real cluster).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/sweep/slurm.h"
#include "core/sweep/sweep_manifest.h"
#include "core/sweep/sweep_status.h"
#include "support/test_support.h"

namespace distill {
namespace {

TEST(Slurm, ScriptAsksForTheArrayTheSettingsAndTheSignalBeforeTheLimit) {
  SbatchScript script;
  script.sweep_dir = "/shared/sw eep";
  script.sweep_id = "temps-1";
  script.tasks_file = "/shared/sw eep/slurm/array-0.tasks";
  script.distill = "/opt/distill/bin/distill";
  script.tasks = 6;
  script.settings.partition = "gpu";
  script.settings.account = "lab";
  script.settings.time = "01:00:00";
  script.settings.mem = "8G";
  script.settings.gpus_per_task = 1;
  script.settings.cpus_per_task = 4;
  script.settings.constraint = "a100";
  script.settings.max_running = 2;
  script.settings.sbatch_lines = {"--qos=low", "#SBATCH --exclusive"};
  script.dependency = "afterok:41";
  const std::string text = sbatchScriptText(script);
  for (const char* line : {"#!/bin/bash\n", "#SBATCH --array=0-5%2\n", "#SBATCH --partition=gpu\n", "#SBATCH --account=lab\n",
                           "#SBATCH --time=01:00:00\n", "#SBATCH --mem=8G\n", "#SBATCH --gpus-per-task=1\n",
                           "#SBATCH --cpus-per-task=4\n", "#SBATCH --constraint=a100\n", "#SBATCH --qos=low\n",
                           "#SBATCH --exclusive\n", "#SBATCH --dependency=afterok:41\n", "#SBATCH --signal=B:USR1@120\n",
                           "#SBATCH --requeue\n", "#SBATCH --output=/shared/sw eep/slurm/%A_%a.out\n",
                           "sweep='/shared/sw eep'\n", "scontrol requeue \"$SLURM_JOB_ID\"",
                           "\"$distill\" sweep task \"$sweep\" \"$hash\""})
    EXPECT_NE(text.find(line), std::string::npos) << line;
  script.settings = SlurmSettings{};
  script.settings.signal_seconds = 0;
  script.dependency.clear();
  const std::string plain = sbatchScriptText(script);
  EXPECT_NE(plain.find("#SBATCH --array=0-5\n"), std::string::npos);
  for (const char* absent : {"--partition", "--gpus-per-task", "--signal", "--dependency"})
    EXPECT_EQ(plain.find(absent), std::string::npos) << absent;
}

TEST(Slurm, StatesOfEveryCommandByArrayTask) {
  const auto sacct = parseSacct("12_0|COMPLETED\n12_1|PREEMPTED\n12_2|CANCELLED by 0\n12_[3-5%2]|PENDING\n12_6.batch|FAILED\n");
  EXPECT_EQ(sacct.at("12_0"), "COMPLETED");
  EXPECT_EQ(sacct.at("12_2"), "CANCELLED by 0");
  EXPECT_EQ(sacct.at("12_4"), "PENDING");
  EXPECT_EQ(sacct.at("12_5"), "PENDING");
  EXPECT_EQ(sacct.count("12_6"), 0u);  // a step, not the task
  const auto queue = parseSqueue("13_0|RUNNING\n13_1|PENDING\n");
  EXPECT_EQ(queue.at("13_0"), "RUNNING");
  const auto shown = parseScontrolJobs(
      "JobId=20 ArrayJobId=20 ArrayTaskId=2-3%1 JobName=x JobState=PENDING Reason=JobArrayTaskLimit\n"
      "JobId=21 ArrayJobId=20 ArrayTaskId=0 JobName=x JobState=TIMEOUT Reason=TimeLimit\n"
      "JobId=22 ArrayJobId=20 ArrayTaskId=1 JobName=x JobState=OUT_OF_MEMORY\n"
      "JobId=30 JobName=single JobState=NODE_FAIL\n");
  EXPECT_EQ(shown.at("20_0"), "TIMEOUT");
  EXPECT_EQ(shown.at("20_1"), "OUT_OF_MEMORY");
  EXPECT_EQ(shown.at("20_2"), "PENDING");
  EXPECT_EQ(shown.at("20_3"), "PENDING");
  EXPECT_EQ(shown.at("30"), "NODE_FAIL");
  EXPECT_EQ(expandArrayIndices("1,3-5%2"), (std::vector<int>{1, 3, 4, 5}));
}

TEST(Slurm, TaskStatesKeepSlurmsOwnWordsAndACompletedRunWins) {
  TaskRun none, running, completed, stopped;
  running.status = "running";
  completed.status = "completed";
  stopped.status = "stopped";
  EXPECT_EQ(taskState(none, ""), "pending");
  EXPECT_EQ(taskState(none, "PENDING"), "pending");
  EXPECT_EQ(taskState(none, "RUNNING"), "starting");
  EXPECT_EQ(taskState(running, "RUNNING"), "running");
  for (const char* raw : {"PREEMPTED", "TIMEOUT", "REQUEUED", "NODE_FAIL", "OUT_OF_MEMORY"})
    EXPECT_EQ(taskState(running, raw), slurmStateName(raw)) << raw;
  EXPECT_EQ(slurmStateName("OUT_OF_MEMORY"), "out_of_memory");
  EXPECT_EQ(taskState(running, "CANCELLED by 0"), "cancelled");
  EXPECT_EQ(taskState(completed, "TIMEOUT"), "completed");   // the run finished before the limit hit
  EXPECT_EQ(taskState(completed, "RUNNING"), "completed");   // sacct stale: the database knows
  EXPECT_EQ(taskState(stopped, "COMPLETED"), "stopped");     // the job ended, the run says how
  EXPECT_EQ(taskState(none, "FAILED"), "failed");
  EXPECT_EQ(taskState(running, ""), "running");              // Slurm forgot it: the heartbeat tells
  EXPECT_TRUE(isFinalState("out_of_memory"));
  EXPECT_FALSE(isFinalState("requeued"));
}

TEST(Slurm, ArraysAreSplitAtMaxArraySize) {
  EXPECT_EQ(parseMaxArraySize("AuthType = auth/munge\nMaxArraySize            = 1001\n", 7), 1001);
  EXPECT_EQ(parseMaxArraySize("nothing\n", 7), 7);
  EXPECT_EQ(splitArray(7, 3), (std::vector<std::pair<int, int>>{{0, 3}, {3, 3}, {6, 1}}));
  EXPECT_EQ(splitArray(3, 1001), (std::vector<std::pair<int, int>>{{0, 3}}));
}

TEST(Slurm, SubmitsTheTeacherFirstThenArraysThatWaitForIt) {
  testing::TempDir dir;
  SweepManifest manifest;
  manifest.id = "t-1";
  manifest.teacher_task = "h0";
  for (int i = 0; i < 6; ++i) {
    ManifestTask task;
    task.index = i;
    task.hash = "h" + std::to_string(i);
    task.uses_shared_teacher = i > 0;
    task.trains_teacher = i == 0;
    manifest.tasks.push_back(task);
  }
  std::vector<std::vector<std::string>> calls;
  int next_job = 100;
  SlurmClient client([&](const std::vector<std::string>& argv) {
    calls.push_back(argv);
    ProgramResult result;
    result.exit_code = 0;
    if (argv[0] == "scontrol") result.output = "MaxArraySize = 2\n";  // indices 0..1
    if (argv[0] == "sbatch") result.output = std::to_string(next_job++) + ";cluster\n";
    return result;
  });
  const auto jobs = client.submit(dir.path().string(), manifest, {"h0", "h1", "h2", "h3", "h4", "h5"}, SlurmSettings{}, "/bin/distill");
  EXPECT_EQ(jobs, (std::vector<std::string>{"100", "101", "102", "103"}));  // teacher, then 5 in pieces of 2
  EXPECT_EQ(manifest.find("h0")->slurm_job, "100_0");
  EXPECT_EQ(manifest.find("h1")->slurm_job, "101_0");
  EXPECT_EQ(manifest.find("h4")->slurm_job, "102_1");
  EXPECT_EQ(manifest.find("h5")->slurm_job, "103_0");
  auto read = [&](const std::string& name) {
    std::ifstream in(dir.file("slurm/" + name));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  EXPECT_EQ(read("array-0.tasks"), "h0\n");
  EXPECT_EQ(read("array-2.tasks"), "h3\nh4\n");
  EXPECT_EQ(read("array-0.sbatch").find("--dependency"), std::string::npos);
  EXPECT_NE(read("array-1.sbatch").find("#SBATCH --dependency=afterok:100\n"), std::string::npos);
  EXPECT_NE(read("array-3.sbatch").find("#SBATCH --array=0-0\n"), std::string::npos);
  EXPECT_EQ(manifest.slurm_jobs.size(), 4u);
}

ManifestTask task(int index, const std::string& hash, const std::string& job = "") {
  ManifestTask t;
  t.index = index;
  t.hash = hash;
  t.slurm_job = job;
  return t;
}

TEST(Slurm, AFailedSbatchSaysWhy) {
  testing::TempDir dir;
  SweepManifest manifest;
  manifest.id = "t-1";
  manifest.tasks.push_back(task(0, "h0"));
  SlurmClient client([](const std::vector<std::string>& argv) {
    ProgramResult result;
    result.exit_code = argv[0] == "sbatch" ? 1 : 0;
    result.errors = "sbatch: error: invalid partition specified: gpu";
    return result;
  });
  try {
    client.submit(dir.path().string(), manifest, {"h0"}, SlurmSettings{}, "/bin/distill");
    FAIL() << "sbatch's failure was not reported";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid partition specified: gpu"), std::string::npos) << e.what();
  }
}

TEST(Slurm, CancelsOnlyArraysWithUnfinishedTasks) {
  SweepManifest manifest;
  manifest.tasks = {task(0, "a", "5_0"), task(1, "b", "6_0"), task(2, "c", "6_1")};
  std::vector<std::string> cancelled;
  SlurmClient client([&](const std::vector<std::string>& argv) {
    if (argv[0] == "scancel") cancelled.assign(argv.begin() + 1, argv.end());
    return ProgramResult{0, "", ""};
  });
  EXPECT_EQ(client.cancel(manifest, {{"a", "completed"}, {"b", "completed"}, {"c", "pending"}}), (std::vector<std::string>{"6"}));
  EXPECT_EQ(cancelled, (std::vector<std::string>{"6"}));
}

TEST(SweepStatus, EachTaskGetsSlurmsWordAndResubmissionTakesOnlyTheFailedOnes) {
  testing::TempDir dir;
  SweepManifest manifest;
  manifest.id = "t-1";
  manifest.tasks = {task(0, "a", "5_0"), task(1, "b", "5_1"), task(2, "c", "5_2"), task(3, "d", "5_3"),
                    task(4, "e"), task(5, "f"), task(-1, "g", "4_0")};
  manifest.tasks[4].state = "failed";  // a local worker that failed before its run existed
  SlurmClient client([](const std::vector<std::string>& argv) {
    if (argv[0] == "sacct")
      return ProgramResult{0, "4_0|FAILED\n5_0|FAILED\n5_1|CANCELLED by 0\n5_2|OUT_OF_MEMORY\n5_3|PENDING\n", ""};
    return ProgramResult{1, "", "not here"};
  });
  std::string source;
  const auto statuses = sweepStatus(dir.path().string(), manifest, &client, &source);
  EXPECT_EQ(source, "sacct");
  std::vector<std::string> states, resubmitted;
  for (const auto& status : statuses) {
    states.push_back(status.state);
    if (status.task.index >= 0 && isFailedState(status.state) && !activeInSlurm(status))
      resubmitted.push_back(status.task.hash);
  }
  EXPECT_EQ(states, (std::vector<std::string>{"failed", "cancelled", "out_of_memory", "pending", "failed", "pending", "failed"}));
  EXPECT_EQ(statuses[1].slurm, "CANCELLED by 0");
  EXPECT_TRUE(activeInSlurm(statuses[3]));
  EXPECT_FALSE(activeInSlurm(statuses[5]));  // pending without a job: never submitted
  EXPECT_EQ(resubmitted, (std::vector<std::string>{"a", "b", "c", "e"}));
  EXPECT_EQ(statuses[0].log, taskLogPath(dir.path().string(), "a"));  // no slurm/5_0.out yet
  for (const char* state : {"timeout", "node_fail", "preempted"}) EXPECT_TRUE(isFailedState(state)) << state;
  for (const char* state : {"completed", "stopped", "interrupted", "running", "pending", "requeued"})
    EXPECT_FALSE(isFailedState(state)) << state;

  // Without a client Slurm is not asked: the databases and the manifest tell.
  const auto quick = sweepStatus(dir.path().string(), manifest, nullptr);
  EXPECT_EQ(quick[0].state, "pending");
  EXPECT_EQ(quick[4].state, "failed");
}

TEST(SweepStatus, ATaskTakenOutOfItsPendingArrayIsCancelled) {
  // Accounting off: scancel of 7_2 while the array waits for its dependency leaves the array's
  // record without index 2, and no record of 7_2 anywhere.
  testing::TempDir dir;
  SweepManifest manifest;
  manifest.id = "t-1";
  manifest.tasks = {task(0, "a", "7_0"), task(1, "b", "7_1"), task(2, "c", "7_2"), task(3, "d", "8_0")};
  SlurmClient client([](const std::vector<std::string>& argv) {
    if (argv[0] == "scontrol" && argv.back() == "7")
      return ProgramResult{0, "JobId=7 ArrayJobId=7 ArrayTaskId=0-1%2 JobState=PENDING Reason=Dependency\n", ""};
    if (argv[0] == "squeue") return ProgramResult{0, "7_0|PENDING\n7_1|PENDING\n", ""};
    return ProgramResult{1, "", "Invalid job id specified"};  // sacct off; job 8 long forgotten
  });
  const auto statuses = sweepStatus(dir.path().string(), manifest, &client);
  ASSERT_EQ(statuses.size(), 4u);
  EXPECT_EQ(statuses[1].state, "pending");
  EXPECT_EQ(statuses[2].state, "cancelled");
  EXPECT_EQ(statuses[2].slurm, "CANCELLED (taken out of its pending array)");
  EXPECT_EQ(statuses[3].state, "pending");  // its array unknown: the database would tell
  EXPECT_EQ(statuses[3].slurm, "");
}

TEST(SweepStatus, TheLastSubmissionsSlurmSettingsAreKeptInTheManifest) {
  testing::TempDir dir;
  SweepManifest manifest;
  manifest.id = "t-1";
  manifest.tasks = {task(0, "a")};
  writeManifest(dir.path().string(), manifest);
  EXPECT_FALSE(readManifest(dir.path().string())->slurm);
  SlurmSettings settings;
  settings.partition = "gpu";
  settings.mem = "8G";
  settings.max_running = 3;
  settings.signal_seconds = 0;
  settings.sbatch_lines = {"--qos=low"};
  manifest.slurm = settings;
  writeManifest(dir.path().string(), manifest);
  const auto read = readManifest(dir.path().string());
  ASSERT_TRUE(read && read->slurm);
  EXPECT_EQ(read->slurm->partition, "gpu");
  EXPECT_EQ(read->slurm->mem, "8G");
  EXPECT_EQ(read->slurm->max_running, 3);
  EXPECT_EQ(read->slurm->signal_seconds, 0);
  EXPECT_EQ(read->slurm->sbatch_lines, std::vector<std::string>{"--qos=low"});
}

}  // namespace
}  // namespace distill
