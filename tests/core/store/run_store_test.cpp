#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <tuple>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/store/run_store.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

void rawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

NewRun sampleRun() {
  const auto config = parseConfigWithOverrides("", {"distill.temperature=2", "name=round trip"});
  return {"round trip", toYaml(config), flatten(config), std::nullopt};
}

std::string storeError(const std::string& path, RunStore::Mode mode = RunStore::Mode::ReadWrite) {
  try {
    RunStore store(path, mode);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

TEST(RunStore, CreatesSchemaInANewFileAndFolder) {
  TempDir dir;
  const std::string path = dir.file("deep/er/runs.db");
  RunStore store(path);
  EXPECT_EQ(store.schemaVersion(), RunStore::kSchemaVersion);
  EXPECT_TRUE(store.listRuns().empty());
  RunStore again(path);  // reopening does not migrate twice
  EXPECT_EQ(again.schemaVersion(), RunStore::kSchemaVersion);
}

TEST(RunStore, MigratesAnEmptyFile) {
  TempDir dir;
  std::ofstream(dir.file("empty.db")).close();
  RunStore store(dir.file("empty.db"));
  EXPECT_EQ(store.schemaVersion(), RunStore::kSchemaVersion);
  EXPECT_GT(store.createRun(sampleRun()), 0);
}

TEST(RunStore, RoundTripsConfigParamsMetricsCheckpointsAndStatus) {
  TempDir dir;
  RunStore store(dir.file("runs.db"));
  const NewRun run = sampleRun();
  const int64_t id = store.createRun(run);
  store.setEnvironment(id, {{"device", "cpu"}, {"torch_version", "1.13.0"}});
  std::vector<MetricPoint> points;
  for (int i = 1; i <= 500; ++i) points.push_back({"train/student_loss", i, i / 100.0, 1.7e9 + i, 1.0 / i});
  points.push_back({"eval/agreement", 100, 1.0, 1.7e9 + 100, 0.91});
  points.push_back({"eval/agreement", 200, 2.0, 1.7e9 + 200, 0.95});
  store.appendMetrics(id, points);
  store.addCheckpoint(id, {"student", dir.file("student.pt"), 200, 2.0});
  store.addCheckpoint(id, {"student", dir.file("student.pt"), 300, 3.0});  // replaces
  store.finishRun(id, RunStatus::Completed);

  const auto record = store.getRun(id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->name, "round trip");
  EXPECT_EQ(record->status, RunStatus::Completed);
  EXPECT_FALSE(record->finished_at.empty());
  EXPECT_EQ(record->config_yaml, run.config_yaml);
  EXPECT_EQ(parseConfig(record->config_yaml).distill.temperature, 2.0);
  EXPECT_EQ(record->params, run.params);
  EXPECT_EQ(record->environment.at("device"), "cpu");
  EXPECT_DOUBLE_EQ(record->final_metrics.at("eval/agreement"), 0.95);
  EXPECT_DOUBLE_EQ(record->final_metrics.at("train/student_loss"), 1.0 / 500);

  const auto loss = store.metrics(id, "train/student_loss");
  ASSERT_EQ(loss.size(), 500u);
  for (size_t i = 0; i < loss.size(); ++i) {
    EXPECT_EQ(loss[i].step, static_cast<int64_t>(i + 1));
    EXPECT_DOUBLE_EQ(loss[i].value, points[i].value);
    EXPECT_DOUBLE_EQ(loss[i].epoch, points[i].epoch);
    EXPECT_DOUBLE_EQ(loss[i].wall_time, points[i].wall_time);
  }
  EXPECT_EQ(store.metricKeys(id), (std::vector<std::string>{"eval/agreement", "train/student_loss"}));
  EXPECT_EQ(store.metrics(id).size(), 502u);

  const auto checkpoints = store.checkpoints(id);
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].step, 300);

  const auto runs = store.listRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_DOUBLE_EQ(runs[0].final_metrics.at("eval/agreement"), 0.95);
}

// metrics() orders by key name, then step, then write order (equal steps keep theirs), even
// when the keys were created in another order and points came out of step order; metricSeries
// holds the same points as columns.
TEST(RunStore, MetricsAndSeriesOrderByNameStepAndWriteOrder) {
  TempDir dir;
  RunStore store(dir.file("runs.db"));
  const int64_t id = store.createRun(sampleRun());
  const int64_t other = store.createRun(sampleRun());
  store.appendMetrics(id, {{"z/last", 2, 0.2, 10.0, 1.0}, {"a/first", 3, 0.3, 11.0, 2.0}, {"z/last", 1, 0.1, 12.0, 3.0}});
  store.appendMetrics(other, {{"a/first", 1, 0.1, 13.0, 9.0}});
  store.appendMetrics(id, {{"a/first", 3, 0.3, 14.0, 4.0}, {"a/first", 1, 0.1, 15.0, 5.0}});

  const auto points = store.metrics(id);
  std::vector<std::tuple<std::string, int64_t, double>> got;
  for (const auto& p : points) got.emplace_back(p.key, p.step, p.value);
  EXPECT_EQ(got, (std::vector<std::tuple<std::string, int64_t, double>>{
                     {"a/first", 1, 5.0}, {"a/first", 3, 2.0}, {"a/first", 3, 4.0}, {"z/last", 1, 3.0}, {"z/last", 2, 1.0}}));
  EXPECT_EQ(store.metrics(id, "z/last").size(), 2u);
  EXPECT_TRUE(store.metrics(id, "no/such_key").empty());

  const auto series = store.metricSeries(id);
  ASSERT_EQ(series.size(), 2u);
  const MetricSeries& first = series.at("a/first");
  EXPECT_EQ(first.steps, (std::vector<int64_t>{1, 3, 3}));
  EXPECT_EQ(first.values, (std::vector<double>{5.0, 2.0, 4.0}));
  EXPECT_EQ(first.epochs, (std::vector<double>{0.1, 0.3, 0.3}));
  EXPECT_EQ(first.wall_times, (std::vector<double>{15.0, 11.0, 14.0}));
  EXPECT_EQ(series.at("z/last").steps, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(store.metricSeries(other + 1).empty());
}

// The packed copy (schema 2) a finished run is read from holds exactly its rows, in the same
// order; any change to the rows (resume, more points, points removed) drops it, and a copy
// that does not match its own count is ignored in favour of the rows.
std::map<std::string, MetricSeries> seriesOfRows(RunStore& store, int64_t run_id) {
  std::map<std::string, MetricSeries> series;
  for (const auto& p : store.metrics(run_id)) {
    auto& one = series[p.key];
    one.steps.push_back(p.step);
    one.epochs.push_back(p.epoch);
    one.wall_times.push_back(p.wall_time);
    one.values.push_back(p.value);
  }
  return series;
}

void expectSameSeries(const std::map<std::string, MetricSeries>& got, const std::map<std::string, MetricSeries>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [key, one] : want) {
    ASSERT_TRUE(got.count(key)) << key;
    EXPECT_EQ(got.at(key).steps, one.steps) << key;
    EXPECT_EQ(got.at(key).epochs, one.epochs) << key;
    EXPECT_EQ(got.at(key).wall_times, one.wall_times) << key;
    EXPECT_EQ(got.at(key).values, one.values) << key;
  }
}

TEST(RunStore, FinishedRunsArePackedAndReadBackIdenticallyToTheirRows) {
  TempDir dir;
  RunStore store(dir.file("runs.db"));
  const int64_t id = store.createRun(sampleRun());
  std::vector<MetricPoint> points;
  for (int i = 0; i < 3000; ++i) points.push_back({i % 3 ? "train/kd_loss" : "eval/agreement", (i * 7919) % 1000, i / 1000.0, 1e9 + i, std::sin(i)});
  store.appendMetrics(id, points);
  EXPECT_FALSE(store.hasPackedSeries(id));  // running: rows only
  const auto rows = seriesOfRows(store, id);
  expectSameSeries(store.metricSeries(id), rows);
  EXPECT_FALSE(store.hasPackedSeries(id));

  store.finishRun(id, RunStatus::Completed);
  EXPECT_TRUE(store.hasPackedSeries(id));
  expectSameSeries(store.metricSeries(id), rows);
  RunStore reader(dir.file("runs.db"), RunStore::Mode::ReadOnly);
  expectSameSeries(reader.metricSeries(id), rows);

  // Resuming drops the copy; the rows are read while it runs, and it is packed again at the end.
  store.reopenRun(id);
  EXPECT_FALSE(store.hasPackedSeries(id));
  store.appendMetrics(id, {{"eval/agreement", 5000, 9.0, 2e9, 0.97}});
  auto grown = seriesOfRows(store, id);
  expectSameSeries(reader.metricSeries(id), grown);
  store.finishRun(id, RunStatus::Completed);
  ASSERT_TRUE(store.hasPackedSeries(id));
  expectSameSeries(reader.metricSeries(id), grown);
  EXPECT_EQ(reader.metricSeries(id).at("eval/agreement").values.back(), 0.97);

  // Points removed (a resume from an earlier checkpoint) drop the copy too.
  store.deletePointsAfter(id, 1e9 + 1499.5);
  EXPECT_FALSE(store.hasPackedSeries(id));
  expectSameSeries(store.metricSeries(id), seriesOfRows(store, id));
  EXPECT_EQ(store.metrics(id).size(), 1500u);
}

TEST(RunStore, APackedCopyThatDisagreesWithItsCountIsIgnored) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  int64_t id = 0;
  {
    RunStore store(path);
    id = store.createRun(sampleRun());
    store.appendMetrics(id, {{"eval/kl", 1, 0.1, 1.0, 0.5}, {"eval/kl", 2, 0.2, 2.0, 0.25}});
    store.finishRun(id, RunStatus::Completed);
    ASSERT_TRUE(store.hasPackedSeries(id));
  }
  rawExec(path, "UPDATE metric_series SET points = 3");
  RunStore reader(path, RunStore::Mode::ReadOnly);
  const auto series = reader.metricSeries(id);
  ASSERT_EQ(series.count("eval/kl"), 1u);
  EXPECT_EQ(series.at("eval/kl").values, (std::vector<double>{0.5, 0.25}));
}

TEST(RunStore, Version1DatabasesMigrateAndArePackedOnFirstRead) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  int64_t id = 0;
  {
    RunStore store(path);
    id = store.createRun(sampleRun());
    store.appendMetrics(id, {{"eval/kl", 1, 0.1, 1.0, 0.5}, {"train/kd_loss", 1, 0.1, 1.0, 2.0}});
    store.finishRun(id, RunStatus::Completed);
  }
  // What a version-1 workbench left: no metric_series table.
  rawExec(path, "DROP TABLE metric_series; PRAGMA user_version = 1");
  {
    RunStore reader(path, RunStore::Mode::ReadOnly);  // browsing an old file does not write
    EXPECT_EQ(reader.metricSeries(id).at("eval/kl").values, (std::vector<double>{0.5}));
  }
  RunStore store(path);
  EXPECT_EQ(store.schemaVersion(), 2);
  EXPECT_FALSE(store.hasPackedSeries(id));
  const auto rows = seriesOfRows(store, id);
  expectSameSeries(store.metricSeries(id), rows);
  EXPECT_TRUE(store.hasPackedSeries(id));
  expectSameSeries(store.metricSeries(id), rows);
}

TEST(RunStore, TagsNotesStarsRenameAndDelete) {
  TempDir dir;
  RunStore store(dir.file("runs.db"));
  const int64_t keep = store.createRun(sampleRun());
  const int64_t drop = store.createRun(sampleRun());
  store.appendMetrics(drop, {{"eval/kl", 1, 1.0, 1.0, 0.5}});
  store.addTag(keep, "baseline");
  store.addTag(keep, "baseline");
  store.addTag(keep, "T2");
  store.setNotes(keep, "the one to cite");
  store.setStarred(keep, true);
  store.rename(keep, "renamed");
  store.deleteRun(drop);
  const auto record = store.getRun(keep);
  EXPECT_EQ(record->tags, (std::vector<std::string>{"T2", "baseline"}));
  EXPECT_EQ(record->notes, "the one to cite");
  EXPECT_TRUE(record->starred);
  EXPECT_EQ(record->name, "renamed");
  EXPECT_FALSE(store.getRun(drop));
  EXPECT_TRUE(store.metrics(drop).empty());  // points went with the run
  EXPECT_THROW(store.rename(drop, "x"), StoreError);
}

TEST(RunStore, RefusesADatabaseFromANewerSchema) {
  TempDir dir;
  { RunStore store(dir.file("runs.db")); }
  rawExec(dir.file("runs.db"), "PRAGMA user_version = 99");
  const auto message = storeError(dir.file("runs.db"));
  EXPECT_NE(message.find("newer"), std::string::npos) << message;
  EXPECT_NE(message.find("99"), std::string::npos) << message;
}

TEST(RunStore, RefusesFilesThatAreNotOurs) {
  TempDir dir;
  std::ofstream(dir.file("notes.txt")) << "this is not a database, just some text that is long enough to look like a header";
  EXPECT_NE(storeError(dir.file("notes.txt")).find("notes.txt"), std::string::npos);
  rawExec(dir.file("other.db"), "CREATE TABLE t (x)");
  EXPECT_NE(storeError(dir.file("other.db")).find("not a Distill Workbench database"), std::string::npos);
}

TEST(RunStore, UnwritablePathIsReported) {
  if (geteuid() == 0) {
    // root can write anywhere; a path under a regular file still cannot be created.
  }
  TempDir dir;
  std::ofstream(dir.file("file")) << "x";
  EXPECT_NE(storeError(dir.file("file/runs.db")).find("file/runs.db"), std::string::npos);
}

TEST(RunStore, RunsOfDeadProcessesBecomeInterrupted) {
  TempDir dir;
  RunStore store(dir.file("runs.db"));
  const int64_t mine = store.createRun(sampleRun());  // this process: alive
  const pid_t child = fork();
  if (child == 0) {
    RunStore child_store(dir.file("runs.db"));
    child_store.createRun(sampleRun());
    _exit(0);  // dies with its run still 'running'
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(store.markInterruptedRuns(), 1);
  EXPECT_EQ(store.getRun(mine)->status, RunStatus::Running);
  EXPECT_EQ(store.getRun(mine + 1)->status, RunStatus::Interrupted);
}

TEST(StoreRecorder, FlushesBufferedPointsOnCheckpointAndDestruction) {
  TempDir dir;
  RunStore store(dir.file("runs.db"));
  const int64_t id = store.createRun(sampleRun());
  {
    StoreRecorder recorder(store, id);
    recorder.onStarted({{"device", "cpu"}});
    recorder.onMetrics({{"train/teacher_loss", 1, 0.1, 1.0, 2.0}});
    recorder.onCheckpoint({"teacher", dir.file("t.pt"), 1, 0.1});
    EXPECT_EQ(store.metrics(id).size(), 1u);
    recorder.onMetrics({{"train/teacher_loss", 2, 0.2, 2.0, 1.5}});
  }
  EXPECT_EQ(store.metrics(id).size(), 2u);
  EXPECT_EQ(store.checkpoints(id).size(), 1u);
}

TEST(RunStore, DefaultPathFollowsXdg) {
  const char* old_db = std::getenv("DISTILL_WORKBENCH_DB");
  const std::string saved_db = old_db ? old_db : "";
  unsetenv("DISTILL_WORKBENCH_DB");
  setenv("XDG_DATA_HOME", "/tmp/xdg-test", 1);
  EXPECT_EQ(defaultDatabasePath(), "/tmp/xdg-test/distill-workbench/runs.db");
  setenv("DISTILL_WORKBENCH_DB", "/tmp/elsewhere.db", 1);
  EXPECT_EQ(defaultDatabasePath(), "/tmp/elsewhere.db");
  if (old_db) setenv("DISTILL_WORKBENCH_DB", saved_db.c_str(), 1); else unsetenv("DISTILL_WORKBENCH_DB");
  unsetenv("XDG_DATA_HOME");
}

}  // namespace
}  // namespace distill
