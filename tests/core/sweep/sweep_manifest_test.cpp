// A sweep's folder and manifest (core/sweep/sweep_manifest.h) and the local backend's process
// pool (core/sweep/local_backend.h), with small shell commands standing in for workers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/sweep/local_backend.h"
#include "core/sweep/process.h"
#include "core/sweep/sweep_manifest.h"
#include "core/sweep/sweep_plan.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace distill {
namespace {

SweepPlan plan(const std::string& text) { return planSweep(parseSweep(text, "test.yaml", "/tmp")); }

TEST(SweepManifest, ARePlannedSweepKeepsItsIdTasksAndStates) {
  testing::TempDir dir;
  const std::string root = dir.path().string();
  EXPECT_FALSE(readManifest(root));
  SweepManifest first = applyPlan(root, std::nullopt, plan("name: t\naxes:\n  distill.temperature: [2, 4]\n"), "local");
  EXPECT_EQ(first.id.rfind("t-", 0), 0u);
  ASSERT_EQ(first.tasks.size(), 2u);
  EXPECT_EQ(first.teacher, "shared");
  EXPECT_EQ(first.teacher_task, first.tasks[0].hash);
  EXPECT_TRUE(fs::exists(taskConfigPath(root, first.tasks[1].hash)));
  first.tasks[0].state = "completed";
  first.tasks[0].slurm_job = "7_0";
  writeManifest(root, first);

  // The grid extended: the old tasks keep their hash, state and job; a new one joins.
  const SweepManifest second =
      applyPlan(root, readManifest(root), plan("name: t\naxes:\n  distill.temperature: [2, 4, 8]\n"), "local");
  EXPECT_EQ(second.id, first.id);
  ASSERT_EQ(second.tasks.size(), 3u);
  EXPECT_EQ(second.tasks[0].hash, first.tasks[0].hash);
  EXPECT_EQ(second.tasks[0].state, "completed");
  EXPECT_EQ(second.tasks[0].slurm_job, "7_0");
  EXPECT_EQ(second.tasks[2].index, 2);
  EXPECT_EQ(second.tasks[2].tags.front(), "sweep:" + first.id);

  // A value dropped: its task stays in the manifest, out of the plan (index -1).
  const SweepManifest third = applyPlan(root, readManifest(root), plan("name: t\naxes:\n  distill.temperature: [2, 8]\n"), "local");
  ASSERT_EQ(third.tasks.size(), 3u);
  EXPECT_EQ(third.tasks[2].hash, first.tasks[1].hash);
  EXPECT_EQ(third.tasks[2].index, -1);
  const auto read = readManifest(root);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->tasks.size(), 3u);
  EXPECT_EQ(read->tasks[0].axis_values, third.tasks[0].axis_values);
}

TEST(SweepManifest, ADependantsConfigSaysWhereItsTeacherComesFrom) {
  testing::TempDir dir;
  const SweepManifest manifest = applyPlan(dir.path().string(), std::nullopt, plan("axes:\n  seed: [0, 1]\n"), "local");
  std::ifstream in(taskConfigPath(dir.path().string(), manifest.tasks[1].hash));
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("# teacher.source is filled in when the run starts"), std::string::npos) << text.str();
  EXPECT_EQ(readTaskRun(taskDatabase(dir.path().string(), manifest.tasks[1].hash)).status, "");
}

TEST(SweepManifest, LogTailShowsWhatATerminalWouldShow) {
  testing::TempDir dir;
  std::ofstream(dir.file("log.txt")) << "one\ntwo\nbar 10%\rbar 50%\rbar 100%\nthree\nfour\n";
  EXPECT_EQ(fileTail(dir.file("log.txt"), 3), "bar 100%\nthree\nfour");
  EXPECT_EQ(fileTail(dir.file("log.txt"), 10), "one\ntwo\nbar 100%\nthree\nfour");
  EXPECT_EQ(fileTail(dir.file("missing.txt"), 3), "");
}

TEST(SweepProcess, RunsAProgramWithItsOutput) {
  const ProgramResult echo = runProgram({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(echo.exit_code, 3);
  EXPECT_EQ(echo.output, "out\n");
  EXPECT_EQ(echo.errors, "err\n");
  EXPECT_EQ(runProgram({"no-such-program-here"}).exit_code, 127);
}

LocalJob shellJob(const std::string& id, const std::string& script, const std::string& log) {
  return LocalJob{id, {"/bin/sh", "-c", script}, log, false, false};
}

TEST(LocalBackend, RunsTheFirstJobAloneAndSkipsItsDependantsWhenItFails) {
  testing::TempDir dir;
  std::vector<LocalJob> jobs{shellJob("teacher", "echo teacher; exit 1", dir.file("t.log")),
                             shellJob("a", "echo a", dir.file("a.log")), shellJob("b", "echo b", dir.file("b.log")),
                             shellJob("own", "echo own", dir.file("own.log"))};
  jobs[0].first = true;
  jobs[1].needs_first = jobs[2].needs_first = true;
  std::atomic<int> stops{0};
  std::vector<std::string> events;
  const int ok = runLocal(jobs, 2, stops, [&](const LocalEvent& e) {
    const char* kind = e.kind == LocalEvent::Kind::Started ? "start" : e.kind == LocalEvent::Kind::Skipped ? "skip" : "end";
    events.push_back(std::string(kind) + " " + e.job->id + (e.kind == LocalEvent::Kind::Finished ? " " + std::to_string(e.exit_code) : ""));
  });
  EXPECT_EQ(ok, 1);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0], "start teacher");
  EXPECT_EQ(events[1], "end teacher 1");
  EXPECT_NE(std::find(events.begin(), events.end(), "skip a"), events.end());
  EXPECT_NE(std::find(events.begin(), events.end(), "skip b"), events.end());
  EXPECT_NE(std::find(events.begin(), events.end(), "end own 0"), events.end());
  std::ifstream log(dir.file("own.log"));
  std::string line;
  std::getline(log, line);
  EXPECT_EQ(line, "own");
}

TEST(LocalBackend, AStopTerminatesRunningWorkersAndStartsNoMore) {
  testing::TempDir dir;
  // Each worker records the SIGTERM it gets, as `distill sweep task` stops its run on it.
  const std::string script = "sleep 30 & trap 'echo stopped; kill $!; exit 130' TERM; wait";
  std::vector<LocalJob> jobs;
  for (const char* id : {"a", "b", "c"}) jobs.push_back(shellJob(id, script, dir.file(std::string(id) + ".log")));
  std::atomic<int> stops{0};
  int started = 0, skipped = 0;
  std::vector<int> codes;
  const auto begin = std::chrono::steady_clock::now();
  runLocal(jobs, 2, stops, [&](const LocalEvent& e) {
    if (e.kind == LocalEvent::Kind::Started && ++started == 2) {
      std::thread([&stops] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        stops.fetch_add(1);
      }).detach();
    }
    if (e.kind == LocalEvent::Kind::Skipped) ++skipped;
    if (e.kind == LocalEvent::Kind::Finished) codes.push_back(e.exit_code);
  });
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(10));
  EXPECT_EQ(started, 2);
  EXPECT_EQ(skipped, 1);
  EXPECT_EQ(codes, (std::vector<int>{130, 130}));
}

}  // namespace
}  // namespace distill
