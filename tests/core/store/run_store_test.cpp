#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/store/run_files.h"
#include "core/store/run_store.h"
#include "core/train/store_recorder.h"
#include "support/read_only_file.h"
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

// The schema as workbenches of versions 1 and 2 wrote it (run_store.cpp's kSchemaV1 and
// kSchemaV2 at the time, copied so that these tests keep describing the old files whatever
// the store's current schema is): metric_points with foreign keys to runs and metric_keys.
const char* kOldSchemaV1 = R"sql(
CREATE TABLE runs (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  name           TEXT    NOT NULL,
  status         TEXT    NOT NULL CHECK (status IN ('running','completed','stopped','failed','interrupted')),
  created_at     TEXT    NOT NULL,
  finished_at    TEXT,
  duration_s     REAL,
  error          TEXT    NOT NULL DEFAULT '',
  notes          TEXT    NOT NULL DEFAULT '',
  starred        INTEGER NOT NULL DEFAULT 0,
  teacher_run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  config_yaml    TEXT    NOT NULL,
  host           TEXT    NOT NULL DEFAULT '',
  pid            INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE params (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key    TEXT    NOT NULL,
  value  TEXT    NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE environment (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key    TEXT    NOT NULL,
  value  TEXT    NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE metric_keys (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE metric_points (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key_id    INTEGER NOT NULL REFERENCES metric_keys(id),
  step      INTEGER NOT NULL,
  epoch     REAL    NOT NULL,
  wall_time REAL    NOT NULL,
  value     REAL    NOT NULL
);
CREATE INDEX metric_points_by_run_key ON metric_points (run_id, key_id, step);
CREATE VIEW metrics AS
  SELECT p.run_id, k.name AS key, p.step, p.epoch, p.wall_time, p.value
  FROM metric_points p JOIN metric_keys k ON k.id = p.key_id;
CREATE TABLE checkpoints (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  role       TEXT    NOT NULL,
  path       TEXT    NOT NULL,
  step       INTEGER NOT NULL,
  epoch      REAL    NOT NULL,
  created_at TEXT    NOT NULL
);
CREATE INDEX checkpoints_by_run ON checkpoints (run_id);
CREATE TABLE tags (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  tag    TEXT    NOT NULL,
  PRIMARY KEY (run_id, tag)
) WITHOUT ROWID;
)sql";

const char* kOldSchemaV2 = R"sql(
CREATE TABLE metric_series (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key_id        INTEGER NOT NULL REFERENCES metric_keys(id),
  points        INTEGER NOT NULL,
  steps         BLOB    NOT NULL,
  epochs        BLOB    NOT NULL,
  wall_times    BLOB    NOT NULL,
  metric_values BLOB    NOT NULL,
  PRIMARY KEY (run_id, key_id)
);
)sql";

// Versions 3 and 4 as they were written (metric_points rebuilt without foreign keys and its
// trigger; each run's uuid and files folder), for the files of the workbenches before 5.
const char* kOldSchemaV3 = R"sql(
PRAGMA legacy_alter_table = ON;
ALTER TABLE metric_points RENAME TO metric_points_v2;
CREATE TABLE metric_points (
  run_id    INTEGER NOT NULL,
  key_id    INTEGER NOT NULL,
  step      INTEGER NOT NULL,
  epoch     REAL    NOT NULL,
  wall_time REAL    NOT NULL,
  value     REAL    NOT NULL
);
DROP TABLE metric_points_v2;
CREATE INDEX metric_points_by_run_key ON metric_points (run_id, key_id, step);
CREATE TRIGGER runs_delete_points AFTER DELETE ON runs BEGIN
  DELETE FROM metric_points WHERE run_id = OLD.id;
END;
PRAGMA legacy_alter_table = OFF;
)sql";

const char* kOldSchemaV4 = R"sql(
ALTER TABLE runs ADD COLUMN uuid TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN files_dir TEXT NOT NULL DEFAULT '';
)sql";

// A database as an older workbench left it (WAL mode, like every file it wrote): run 1
// completed, with params, a tag, a checkpoint and two keys whose points include equal steps
// written out of step order; run 2 still running. A file of version 2 or later also holds run
// 1's packed copy of "eval/kl" (what those workbenches wrote when the run finished); one of
// version 4 gives each run a UUID and its own files folder.
void writeOldDatabase(const std::string& path, int version) {
  std::string sql = std::string("PRAGMA journal_mode = WAL; PRAGMA application_id = 1146569265;") + kOldSchemaV1 +
                    (version >= 2 ? kOldSchemaV2 : "") + (version >= 3 ? kOldSchemaV3 : "") +
                    (version >= 4 ? kOldSchemaV4 : "") + "PRAGMA user_version = " + std::to_string(version) + R"sql(;
INSERT INTO runs (id, name, status, created_at, finished_at, duration_s, config_yaml)
  VALUES (1, 'old', 'completed', '2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', 60.0, 'name: old\n'),
         (2, 'still going', 'running', '2026-01-02T00:00:00.000Z', NULL, NULL, 'name: going\n');
INSERT INTO params VALUES (1, 'distill.temperature', '4');
INSERT INTO tags VALUES (1, 'baseline');
INSERT INTO checkpoints (run_id, role, path, step, epoch, created_at) VALUES (1, 'student', '/x/student.pt', 4, 1.0, 'now');
INSERT INTO metric_keys (id, name) VALUES (1, 'train/kd_loss'), (2, 'eval/kl');
INSERT INTO metric_points (run_id, key_id, step, epoch, wall_time, value) VALUES
  (1, 1, 2, 0.5, 10.0, 0.9), (1, 2, 2, 0.5, 10.0, 0.30), (1, 1, 1, 0.25, 11.0, 1.2),
  (1, 2, 2, 0.5, 12.0, 0.25), (1, 1, 2, 0.5, 13.0, 0.8), (2, 1, 1, 0.1, 20.0, 3.0);
)sql";
  if (version >= 4)
    sql += "UPDATE runs SET uuid = printf('00000000-0000-4000-8000-%012d', id), "
           "files_dir = printf('runs.files/run-%d-00000000', id); CREATE UNIQUE INDEX runs_by_uuid ON runs (uuid);";
  rawExec(path, sql);
  if (version < 2) return;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::vector<int64_t> steps{2, 2};
  const std::vector<double> epochs{0.5, 0.5}, wall_times{10.0, 12.0}, values{0.30, 0.25};
  sqlite3_stmt* insert = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO metric_series (run_id, key_id, points, steps, epochs, wall_times, metric_values) "
                               "VALUES (1, 2, 2, ?, ?, ?, ?)",
                               -1, &insert, nullptr),
            SQLITE_OK);
  sqlite3_bind_blob(insert, 1, steps.data(), 16, SQLITE_STATIC);
  sqlite3_bind_blob(insert, 2, epochs.data(), 16, SQLITE_STATIC);
  sqlite3_bind_blob(insert, 3, wall_times.data(), 16, SQLITE_STATIC);
  sqlite3_bind_blob(insert, 4, values.data(), 16, SQLITE_STATIC);
  EXPECT_EQ(sqlite3_step(insert), SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(insert);
  sqlite3_close(db);
}

// One value from a query of one row and column, through a plain connection (foreign keys
// off, as in the sqlite3 shell or Python's sqlite3).
std::string rawValue(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string result = "<error>";
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK) {
      const int rc = sqlite3_step(statement);
      if (rc == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
        result = text ? text : "<null>";
      } else if (rc == SQLITE_DONE) {
        result = "<no row>";
      }
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return result;
}

std::string fileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// (key, step, value) of a run's points, in metrics()' order.
std::vector<std::tuple<std::string, int64_t, double>> keyStepValues(RunStore& store, int64_t run_id) {
  std::vector<std::tuple<std::string, int64_t, double>> got;
  for (const auto& p : store.metrics(run_id)) got.emplace_back(p.key, p.step, p.value);
  return got;
}

const std::vector<std::tuple<std::string, int64_t, double>> kOldRunPoints{
    {"eval/kl", 2, 0.30}, {"eval/kl", 2, 0.25}, {"train/kd_loss", 1, 1.2}, {"train/kd_loss", 2, 0.9}, {"train/kd_loss", 2, 0.8}};

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
  writeOldDatabase(path, 1);
  {
    RunStore reader(path, RunStore::Mode::ReadOnly);  // browsing an old file does not write
    EXPECT_EQ(reader.schemaVersion(), 1);
    EXPECT_EQ(reader.metricSeries(1).at("eval/kl").values, (std::vector<double>{0.30, 0.25}));
  }
  RunStore store(path);
  EXPECT_EQ(store.schemaVersion(), RunStore::kSchemaVersion);
  EXPECT_EQ(keyStepValues(store, 1), kOldRunPoints);
  EXPECT_FALSE(store.hasPackedSeries(1));
  const auto rows = seriesOfRows(store, 1);
  expectSameSeries(store.metricSeries(1), rows);
  EXPECT_TRUE(store.hasPackedSeries(1));
  expectSameSeries(store.metricSeries(1), rows);
}

// Version 2 to 3 rebuilds metric_points without its foreign keys, in place: every row keeps
// its values and rowid (equal steps stay in write order), the packed copies, the metrics view,
// the other tables and the index are as they were; a read-only open browses the old file
// without writing a byte.
TEST(RunStore, Version2DatabasesMigrateInPlaceKeepingEveryPoint) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  writeOldDatabase(path, 2);
  const std::string rowids_before =
      rawValue(path, "SELECT group_concat(rowid || ':' || value, ',') FROM (SELECT rowid, value FROM metric_points ORDER BY rowid)");
  const std::string bytes_before = fileBytes(path);
  {
    RunStore reader(path, RunStore::Mode::ReadOnly);
    EXPECT_EQ(reader.schemaVersion(), 2);
    EXPECT_EQ(keyStepValues(reader, 1), kOldRunPoints);
    EXPECT_EQ(reader.metricSeries(1).at("eval/kl").wall_times, (std::vector<double>{10.0, 12.0}));
    EXPECT_EQ(reader.listRuns().size(), 2u);
  }
  EXPECT_EQ(fileBytes(path), bytes_before);

  {
    RunStore store(path);
    EXPECT_EQ(store.schemaVersion(), RunStore::kSchemaVersion);
    EXPECT_EQ(keyStepValues(store, 1), kOldRunPoints);
    EXPECT_TRUE(store.hasPackedSeries(1));  // the packed copy written by version 2 is kept
    EXPECT_EQ(store.metricSeries(1).at("eval/kl").values, (std::vector<double>{0.30, 0.25}));
    const auto run = store.getRun(1);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->params.at("distill.temperature"), "4");
    EXPECT_EQ(run->tags, (std::vector<std::string>{"baseline"}));
    EXPECT_EQ(run->final_metrics.at("train/kd_loss"), 0.8);  // last of the equal steps
    EXPECT_EQ(store.checkpoints(1).size(), 1u);
    store.appendMetrics(2, {{"train/kd_loss", 2, 0.2, 21.0, 2.5}, {"eval/agreement", 2, 0.2, 21.0, 0.7}});
    EXPECT_EQ(store.metrics(2).size(), 3u);
  }
  EXPECT_EQ(rawValue(path, "SELECT group_concat(rowid || ':' || value, ',') FROM (SELECT rowid, value FROM metric_points "
                           "WHERE run_id = 1 ORDER BY rowid)"),
            rowids_before.substr(0, rowids_before.rfind(',')));  // run 2's point was the last row
  const std::string table_sql = rawValue(path, "SELECT sql FROM sqlite_schema WHERE name = 'metric_points'");
  EXPECT_EQ(table_sql.find("REFERENCES"), std::string::npos) << table_sql;
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM sqlite_schema WHERE name IN ('metric_points_by_run_key', 'runs_delete_points')"), "2");
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'metric_points_v%'"), "0");
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metrics WHERE run_id = 1 AND key = 'train/kd_loss'"), "3");
  EXPECT_EQ(rawValue(path, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(rawValue(path, "PRAGMA foreign_key_check"), "<no row>");

  // Deleting the migrated run removes its points and packed copy; the other run keeps its own.
  RunStore store(path);
  store.deleteRun(1);
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_points WHERE run_id = 1"), "0");
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_series WHERE run_id = 1"), "0");
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_points WHERE run_id = 2"), "3");
}

// The upgrade is one transaction: when it fails half-way (here a table left in the way of
// the rebuild), opening for writing says so and the file is still the version-2 database.
TEST(RunStore, AFailedUpgradeLeavesTheOldFileAsItWas) {
  for (int version : {1, 2}) {
    SCOPED_TRACE("version " + std::to_string(version));
    TempDir dir;
    const std::string path = dir.file("runs.db");
    writeOldDatabase(path, version);
    rawExec(path, "CREATE TABLE metric_points_v2 (x)");
    const std::string message = storeError(path);
    EXPECT_NE(message.find("cannot upgrade the database from schema version " + std::to_string(version) + " to " +
                           std::to_string(RunStore::kSchemaVersion)),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("unchanged"), std::string::npos) << message;
    EXPECT_EQ(rawValue(path, "PRAGMA user_version"), std::to_string(version));
    EXPECT_NE(rawValue(path, "SELECT sql FROM sqlite_schema WHERE name = 'metric_points'").find("REFERENCES runs(id)"),
              std::string::npos);
    EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_points"), "6");
    // Version 1 does not get version 2's table either: all steps or none.
    EXPECT_EQ(rawValue(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'metric_series'"), version >= 2 ? "1" : "0");
    EXPECT_EQ(rawValue(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"), "0");
    RunStore reader(path, RunStore::Mode::ReadOnly);
    EXPECT_EQ(keyStepValues(reader, 1), kOldRunPoints);
  }
}

// Several processes (the window and a `distill run`, say) opening one old file at once: one
// upgrades it, the others find it upgraded once they get the write lock, and all open.
TEST(RunStore, ConnectionsOpeningAnOldFileAtOnceAllOpenIt) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  writeOldDatabase(path, 2);
  // Enough rows that the rebuild takes a while, so that the others read version 2 first.
  rawExec(path,
          "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000) "
          "INSERT INTO metric_points (run_id, key_id, step, epoch, wall_time, value) SELECT 2, 1, i, 0, 0, i FROM c");
  std::atomic<bool> go{false};
  std::vector<std::string> errors(4);
  std::vector<std::thread> openers;
  for (size_t i = 0; i < errors.size(); ++i)
    openers.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      try {
        RunStore store(path);
        if (store.schemaVersion() != RunStore::kSchemaVersion) errors[i] = "opened at version " + std::to_string(store.schemaVersion());
      } catch (const StoreError& e) {
        errors[i] = e.what();
      }
    });
  go = true;
  for (auto& opener : openers) opener.join();
  for (const auto& error : errors) EXPECT_EQ(error, "");
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_points"), "200006");
  EXPECT_EQ(rawValue(path, "PRAGMA integrity_check"), "ok");
}

// Without foreign keys on metric_points, appendMetrics checks the run itself, and a key id
// from a rolled-back batch is never reused for later points.
TEST(RunStore, AppendingToAnUnknownRunIsAnErrorNamingTheRun) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  RunStore store(path);
  const int64_t id = store.createRun(sampleRun());
  try {
    store.appendMetrics(id + 41, {{"eval/kl", 1, 0.1, 1.0, 0.5}});
    FAIL() << "no error for an unknown run";
  } catch (const StoreError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("run " + std::to_string(id + 41) + " not found"), std::string::npos) << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
  }
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_points"), "0");
  store.deleteRun(id);
  EXPECT_THROW(store.appendMetrics(id, {{"eval/kl", 1, 0.1, 1.0, 0.5}}), StoreError);
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_points"), "0");
}

TEST(RunStore, AKeyFromARolledBackBatchIsNotReused) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  RunStore store(path);
  const int64_t id = store.createRun(sampleRun());
  // NaN is stored as NULL, which value's NOT NULL refuses: the batch, and the key it
  // introduced, roll back.
  EXPECT_THROW(store.appendMetrics(id, {{"eval/new", 1, 0.1, 1.0, 0.5}, {"eval/other", 1, 0.1, 1.0, std::nan("")}}),
               StoreError);
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_keys"), "0");
  store.appendMetrics(id, {{"eval/new", 2, 0.2, 2.0, 0.25}});
  EXPECT_EQ(store.metrics(id, "eval/new").size(), 1u);
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_points WHERE key_id NOT IN (SELECT id FROM metric_keys)"), "0");
}

// Batches go in grouped by key (schema 3's appendMetrics): points of one key at equal steps
// still come back in the order they were written, across and within batches.
TEST(RunStore, EqualStepsKeepTheirWriteOrderInLargeInterleavedBatches) {
  TempDir dir;
  RunStore store(dir.file("runs.db"));
  const int64_t id = store.createRun(sampleRun());
  const char* keys[] = {"train/kd_loss", "eval/kl", "perf/samples_per_s"};
  for (int batch = 0; batch < 2; ++batch) {
    std::vector<MetricPoint> points;
    for (int i = 0; i < 3001; ++i) points.push_back({keys[i % 3], (3001 - i) / 300, 0.0, 0.0, batch * 10000.0 + i});
    store.appendMetrics(id, points);
  }
  const auto series = store.metricSeries(id);
  ASSERT_EQ(series.size(), 3u);
  for (const auto& [key, one] : series) {
    ASSERT_EQ(one.values.size(), key == "train/kd_loss" ? 2002u : 2000u) << key;
    for (size_t i = 1; i < one.values.size(); ++i) {
      ASSERT_LE(one.steps[i - 1], one.steps[i]) << key;
      if (one.steps[i - 1] == one.steps[i]) {
        ASSERT_LT(one.values[i - 1], one.values[i]) << key << " at " << i;
      }
    }
  }
}

// Deleting a run removes its points, through the store and through plain SQL (a connection
// with foreign keys off, as in the sqlite3 shell): a trigger does it, not a foreign key.
TEST(RunStore, DeletingARunRemovesItsPoints) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  RunStore store(path);
  const int64_t a = store.createRun(sampleRun());
  const int64_t b = store.createRun(sampleRun());
  const int64_t c = store.createRun(sampleRun());
  for (int64_t id : {a, b, c}) store.appendMetrics(id, {{"eval/kl", 1, 0.1, 1.0, 0.5}, {"train/kd_loss", 1, 0.1, 1.0, 2.0}});
  store.finishRun(b, RunStatus::Completed);
  ASSERT_TRUE(store.hasPackedSeries(b));
  store.deleteRun(a);
  store.deleteRuns({b});
  EXPECT_EQ(rawValue(path, "SELECT group_concat(DISTINCT run_id) FROM metric_points"), std::to_string(c));
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_series"), "0");
  rawExec(path, "DELETE FROM runs WHERE id = " + std::to_string(c));
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM metric_points"), "0");
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

// ---- a run's files belong to its database -------------------------------------------------

namespace fs = std::filesystem;

// A fake checkpoint file the run "wrote" into its own folder, tagged and recorded.
std::string writeOwnedCheckpoint(RunStore& store, int64_t run_id, const std::string& role, const std::string& bytes) {
  const auto run = store.getRun(run_id);
  fs::create_directories(run->files_dir);
  const std::string path = (fs::path(run->files_dir) / (role + ".pt")).string();
  std::ofstream(path) << bytes;
  store.addOwnedCheckpoint(run_id, {role, path, 10, 1.0});
  return path;
}

std::string checkpointError(RunStore& store, int64_t run_id, const std::string& role) {
  try {
    store.checkpointFile(run_id, role);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

TEST(RunFiles, TwoDatabasesInOneFolderGiveTheirRunsFoldersOfTheirOwn) {
  TempDir dir;
  RunStore runs(dir.file("runs.db")), ablation(dir.file("ablation.db"));
  const int64_t a = runs.createRun(sampleRun()), b = ablation.createRun(sampleRun());
  ASSERT_EQ(a, 1);
  ASSERT_EQ(b, 1);  // the same id in both: what used to share checkpoints/run-1/
  const auto run_a = runs.getRun(a), run_b = ablation.getRun(b);
  EXPECT_EQ(run_a->uuid.size(), 36u);
  EXPECT_NE(run_a->uuid, run_b->uuid);
  EXPECT_EQ(fs::path(run_a->files_dir).parent_path(), dir.path() / "runs.files");
  EXPECT_EQ(fs::path(run_b->files_dir).parent_path(), dir.path() / "ablation.files");
  const std::string file_a = writeOwnedCheckpoint(runs, a, "student", "model of runs.db");
  const std::string file_b = writeOwnedCheckpoint(ablation, b, "student", "model of ablation.db");
  EXPECT_NE(file_a, file_b);
  EXPECT_EQ(runs.checkpointFile(a, "student"), file_a);
  EXPECT_EQ(fileBytes(ablation.checkpointFile(b, "student")), "model of ablation.db");
  // Stored relative to the database's folder, so the pair can move together.
  EXPECT_EQ(rawValue(dir.file("runs.db"), "SELECT path FROM checkpoints"),
            (fs::path("runs.files") / fs::path(run_a->files_dir).filename() / "student.pt").string());

  // Deleting run 1 of one database removes its folder and nothing of the other's.
  runs.deleteRun(a);
  EXPECT_FALSE(fs::exists(run_a->files_dir));
  EXPECT_TRUE(fs::exists(file_b));
  EXPECT_EQ(ablation.checkpointFile(b, "student"), file_b);
}

TEST(RunFiles, AnotherRunsCheckpointIsRefusedNamingTheRunAndTheFile) {
  TempDir dir;
  RunStore runs(dir.file("runs.db")), ablation(dir.file("ablation.db"));
  const int64_t a = runs.createRun(sampleRun()), b = ablation.createRun(sampleRun());
  const std::string file_a = writeOwnedCheckpoint(runs, a, "student", "a");
  const std::string file_b = writeOwnedCheckpoint(ablation, b, "student", "b");
  fs::copy_file(file_b, file_a, fs::copy_options::overwrite_existing);
  fs::copy_file(ownerTagPath(file_b), ownerTagPath(file_a), fs::copy_options::overwrite_existing);
  const std::string error = checkpointError(runs, a, "student");
  EXPECT_NE(error.find("run 1 of " + dir.file("runs.db")), std::string::npos) << error;
  EXPECT_NE(error.find(file_a), std::string::npos) << error;
  EXPECT_NE(error.find("not this run's own"), std::string::npos) << error;
  EXPECT_NE(error.find(dir.file("ablation.db")), std::string::npos) << "names whose it is: " << error;

  // A role's file in another role's place, and a file with no tag at all, are refused too.
  const std::string teacher = (fs::path(runs.getRun(a)->files_dir) / "teacher.pt").string();
  fs::copy_file(file_b, teacher);
  runs.addCheckpoint(a, {"teacher", teacher, 10, 1.0});
  EXPECT_NE(checkpointError(runs, a, "teacher").find("no owner tag"), std::string::npos);
  fs::remove(file_a);
  EXPECT_NE(checkpointError(runs, a, "student").find("is missing"), std::string::npos);
  EXPECT_EQ(runs.checkpointFile(a, "state"), "") << "no such checkpoint: empty, not an error";
}

TEST(RunFiles, OldDatabasesMigrateAndFindTheirCheckpointsWhereTheyAre) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  writeOldDatabase(path, 2);
  // As an older workbench run with `--db runs.db` from this folder left it: a path relative
  // to its working directory under the shared checkpoints/run-<id>/.
  fs::create_directories(dir.path() / "checkpoints" / "run-1");
  std::ofstream(dir.path() / "checkpoints" / "run-1" / "student.pt") << "old weights";
  rawExec(path,
          "UPDATE checkpoints SET path = 'checkpoints/run-1/student.pt', created_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')");
  {
    RunStore store(path);
    EXPECT_EQ(store.schemaVersion(), RunStore::kSchemaVersion);
    const auto old = store.getRun(1);
    EXPECT_EQ(old->uuid.size(), 36u) << "old runs get a UUID";
    EXPECT_NE(old->uuid, store.getRun(2)->uuid);
    EXPECT_TRUE(old->legacy_files);
    EXPECT_EQ(old->files_dir, (dir.path() / "checkpoints" / "run-1").string());
    EXPECT_EQ(store.checkpointFile(1, "student"), (dir.path() / "checkpoints" / "run-1" / "student.pt").string());
    // Deleting an old run leaves the shared legacy folder: it may hold another database's run 1.
    store.deleteRun(1);
    EXPECT_TRUE(fs::exists(dir.path() / "checkpoints" / "run-1" / "student.pt"));
  }
}

TEST(RunFiles, AnOldRunsCheckpointRewrittenByAnotherDatabaseIsRefused) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  writeOldDatabase(path, 2);
  fs::create_directories(dir.path() / "checkpoints" / "run-1");
  const auto file = dir.path() / "checkpoints" / "run-1" / "student.pt";
  std::ofstream(file) << "another database's run 1";
  // Stored an hour before the file was last written: someone overwrote it since.
  rawExec(path, "UPDATE checkpoints SET path = '" + file.string() +
                    "', created_at = strftime('%Y-%m-%dT%H:%M:%fZ','now','-1 hour')");
  RunStore store(path);
  const std::string error = checkpointError(store, 1, "student");
  EXPECT_NE(error.find("was rewritten after this run stored it"), std::string::npos) << error;
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
}

TEST(RunFiles, ARunIsAliveWhileItsLockIsHeldWhateverHostAndPidSay) {
  TempDir dir;
  RunStore store(dir.file("runs.db"));
  const int64_t id = store.createRun(sampleRun());
  const std::string uuid = store.getRun(id)->uuid;
  {
    RunLock lock(store.lockPath(uuid));
    // After a reboot or in another container: host and pid mean nothing any more.
    rawExec(dir.file("runs.db"), "UPDATE runs SET host = 'another-host', pid = 999999");
    EXPECT_TRUE(store.isRunAlive(id));
    EXPECT_EQ(store.getRun(id)->status, RunStatus::Running);
    EXPECT_THROW(RunLock second(store.lockPath(uuid)), std::runtime_error) << "no second driver";
  }
  // The lock is free: provably dead, though its host is not this one (the old rule said
  // "cannot tell" and kept it running forever).
  EXPECT_FALSE(store.isRunAlive(id));
  EXPECT_EQ(store.getRun(id)->status, RunStatus::Interrupted) << "readers see it without writing";
  EXPECT_EQ(rawValue(dir.file("runs.db"), "SELECT status FROM runs"), "running") << "reading wrote nothing";
  EXPECT_EQ(store.markInterruptedRuns(), 1);
  EXPECT_EQ(rawValue(dir.file("runs.db"), "SELECT status FROM runs"), "interrupted");

  // Its own pid alive (this test process) does not keep a run with a free lock alive either.
  const int64_t reused = store.createRun(sampleRun());
  { RunLock lock(store.lockPath(store.getRun(reused)->uuid)); }
  EXPECT_FALSE(store.isRunAlive(reused));
}

TEST(RunFiles, ADeadRunEndsAtItsLastSignOfLifeWithTheReasonItLeft) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  RunStore store(path);
  const int64_t id = store.createRun(sampleRun());
  const double created = std::stod(rawValue(path, "SELECT (julianday(created_at) - 2440587.5) * 86400.0 FROM runs"));
  store.appendMetrics(id, {{"train/loss", 1, 0.1, created + 30.0, 1.0}});
  {
    RunLock lock(store.lockPath(store.getRun(id)->uuid));
    lock.recordEnd("cannot store the run's metric points (database or disk is full)");
  }
  rawExec(path, "UPDATE runs SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', " + std::to_string(created) +
                    ", 'unixepoch')");
  const auto seen = store.getRun(id);
  EXPECT_EQ(seen->status, RunStatus::Failed);
  EXPECT_EQ(seen->error, "cannot store the run's metric points (database or disk is full)") << "not 'crash or kill'";
  EXPECT_EQ(store.markInterruptedRuns(), 1);
  const auto stored = store.getRun(id);
  EXPECT_EQ(stored->status, RunStatus::Failed);
  EXPECT_NE(stored->error.find("disk is full"), std::string::npos);
  EXPECT_NEAR(stored->duration_s, 30.0, 2.0) << "ends at its last point, not at the next list";
}

TEST(RunFiles, ADatabaseInAReadOnlyFolderIsBrowsedReadOnly) {
  TempDir dir;
  fs::create_directories(dir.path() / "shared");
  const std::string path = (dir.path() / "shared" / "runs.db").string();
  {
    RunStore store(path);
    store.createRun(sampleRun());
    store.finishRun(1, RunStatus::Completed);
  }
  testing::ReadOnlyFile read_only_folder((dir.path() / "shared").string());
  if (!read_only_folder.ok()) GTEST_SKIP() << "cannot make a folder read-only here";
  RunStore store(path);
  EXPECT_TRUE(store.readOnly());
  EXPECT_NE(store.readOnlyReason().find("the folder " + (dir.path() / "shared").string() + " is read-only"),
            std::string::npos)
      << store.readOnlyReason();
  ASSERT_EQ(store.listRuns().size(), 1u);
  EXPECT_EQ(store.getRun(1)->status, RunStatus::Completed);
  try {
    store.requireWritable();
    ADD_FAILURE() << "a read-only folder cannot take a new run";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("is read-only"), std::string::npos) << e.what();
  }
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

// ---- generated texts (schema 5) ---------------------------------------------------------

// A completion of prompt `prompt_index` written by `role` at `step` of `phase`.
GeneratedText generated(const std::string& phase, int64_t step, const std::string& role, const std::string& decoding,
                        int64_t prompt_index, const std::string& completion, const std::string& purpose = "eval") {
  GeneratedText text;
  text.step = step;
  text.epoch = step / 100.0;
  text.phase = phase;
  text.purpose = purpose;
  text.role = role;
  text.decoding = decoding;
  text.prompt_index = prompt_index;
  text.prompt = "prompt " + std::to_string(prompt_index);
  text.completion = completion;
  text.wall_time = 1e9 + step + (phase == "student" ? 1000 : 0);
  return text;
}

std::vector<std::string> completions(const std::vector<GeneratedText>& texts) {
  std::vector<std::string> got;
  for (const auto& text : texts) got.push_back(text.completion);
  return got;
}

using Strings = std::vector<std::string>;

TEST(GeneratedTexts, RoundTripInWriteOrderAndByPurposePhaseStepAndRole) {
  TempDir dir;
  RunStore store(dir.file("runs.db"));
  const int64_t id = store.createRun(sampleRun());
  const int64_t other = store.createRun(sampleRun());
  GeneratedText first = generated("teacher", 100, "teacher", "greedy", 0, " sat on the mat.");
  first.tokens_json = R"([{"t":" sat","p":0.91,"q":0.42}])";
  store.appendGenerated(id, {first, generated("teacher", 100, "teacher", "sampled", 0, " sat on a log.")});
  store.appendGenerated(other, {generated("student", 100, "student", "greedy", 0, "another run's")});
  // Step 100 again, of the student phase: (phase, step) names an evaluation, step alone does not.
  store.appendGenerated(id, {generated("student", 100, "teacher", "greedy", 1, "t100"),
                             generated("student", 100, "student", "greedy", 1, "s100"),
                             generated("student", 200, "student", "greedy", 1, "s200"),
                             generated("student", 200, "student", "sampled", 3, "row 3", "train")});

  const auto all = store.generatedTexts(id);
  EXPECT_EQ(completions(all), (Strings{" sat on the mat.", " sat on a log.", "t100", "s100", "s200", "row 3"}));
  const GeneratedText& back = all.front();
  EXPECT_EQ(back.step, 100);
  EXPECT_EQ(back.epoch, 1.0);
  EXPECT_EQ(back.phase, "teacher");
  EXPECT_EQ(back.purpose, "eval");
  EXPECT_EQ(back.role, "teacher");
  EXPECT_EQ(back.decoding, "greedy");
  EXPECT_EQ(back.prompt_index, 0);
  EXPECT_EQ(back.prompt, "prompt 0");
  EXPECT_EQ(back.tokens_json, first.tokens_json);
  EXPECT_EQ(back.wall_time, first.wall_time);
  EXPECT_EQ(all[5].purpose, "train");

  EXPECT_EQ(completions(store.generatedTexts(id, {"eval", "", 100, ""})),
            (Strings{" sat on the mat.", " sat on a log.", "t100", "s100"}));
  EXPECT_EQ(completions(store.generatedTexts(id, {"eval", "student", 100, ""})), (Strings{"t100", "s100"}));
  EXPECT_EQ(completions(store.generatedTexts(id, {"eval", "", std::nullopt, "student"})), (Strings{"s100", "s200"}));
  EXPECT_EQ(completions(store.generatedTexts(id, {"train", "", std::nullopt, ""})), (Strings{"row 3"}));
  EXPECT_TRUE(store.generatedTexts(id, {"eval", "", 300, ""}).empty());

  const auto points = store.generatedPoints(id, "eval");
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(std::make_tuple(points[0].phase, points[0].step, points[0].texts), std::make_tuple(std::string("teacher"), int64_t{100}, int64_t{2}));
  EXPECT_EQ(std::make_tuple(points[1].phase, points[1].step, points[1].texts), std::make_tuple(std::string("student"), int64_t{100}, int64_t{2}));
  EXPECT_EQ(std::make_tuple(points[2].phase, points[2].step, points[2].texts), std::make_tuple(std::string("student"), int64_t{200}, int64_t{1}));
  EXPECT_EQ(points[2].epoch, 2.0);
  EXPECT_EQ(store.generatedPoints(id, "train").size(), 1u);
  EXPECT_EQ(store.generatedPoints(id).back().texts, 2) << "any purpose: the training text joins step 200";

  try {
    store.appendGenerated(other + 40, {generated("student", 1, "student", "greedy", 0, "x")});
    ADD_FAILURE() << "no error for an unknown run";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("run " + std::to_string(other + 40) + " not found"), std::string::npos) << e.what();
  }
  EXPECT_EQ(store.generatedTexts(other).size(), 1u);
}

// A model writes tokens, not characters: text cut inside a character is stored with U+FFFD in
// place of the broken bytes, so that readers and JSON output get valid UTF-8.
TEST(GeneratedTexts, InvalidUtf8IsStoredWithReplacementCharacters) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  RunStore store(path);
  const int64_t id = store.createRun(sampleRun());
  GeneratedText text = generated("student", 10, "student", "sampled", 0, "ok \xff\xfe end");
  text.prompt = "caf\xc3";  // the first byte of an e-acute, cut
  text.tokens_json = "[{\"t\":\"\xe2\x82\",\"p\":0.5}]";
  store.appendGenerated(id, {text});
  const GeneratedText back = store.generatedTexts(id).at(0);
  EXPECT_EQ(back.prompt, "caf\xef\xbf\xbd");
  EXPECT_EQ(back.completion, "ok \xef\xbf\xbd\xef\xbf\xbd end");
  EXPECT_EQ(back.tokens_json, "[{\"t\":\"\xef\xbf\xbd\",\"p\":0.5}]");
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM generated_texts WHERE completion = 'ok ' || char(65533, 65533) || ' end'"), "1")
      << "stored repaired, not only read back so";
}

TEST(GeneratedTexts, GoWithTheirRunThroughTheStoreAndPlainSql) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  RunStore store(path);
  const int64_t a = store.createRun(sampleRun());
  const int64_t b = store.createRun(sampleRun());
  const int64_t c = store.createRun(sampleRun());
  for (int64_t id : {a, b, c}) store.appendGenerated(id, {generated("student", 1, "student", "greedy", 0, "x")});
  store.deleteRun(a);
  store.deleteRuns({b});
  EXPECT_EQ(rawValue(path, "SELECT group_concat(DISTINCT run_id) FROM generated_texts"), std::to_string(c));
  rawExec(path, "DELETE FROM runs WHERE id = " + std::to_string(c));  // foreign keys off: the trigger
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM generated_texts"), "0");
}

// A resume from a checkpoint evaluates again after it: the texts written after the
// checkpoint go, as its metric points do, and those before it stay.
TEST(GeneratedTexts, AResumeDropsTheTextsWrittenAfterItsCheckpoint) {
  TempDir dir;
  RunStore store(dir.file("runs.db"));
  const int64_t id = store.createRun(sampleRun());
  store.appendGenerated(id, {generated("teacher", 100, "teacher", "greedy", 0, "before"),
                             generated("student", 100, "student", "greedy", 0, "after")});
  store.deletePointsAfter(id, 1e9 + 500);
  EXPECT_EQ(completions(store.generatedTexts(id)), (Strings{"before"}));
}

// A version-4 file (written before texts were kept) is browsed as it is, with no texts, and
// gets the table when it is opened for writing, every run and point kept.
TEST(GeneratedTexts, Version4DatabasesAreBrowsedWithoutTextsAndMigrateInPlace) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  writeOldDatabase(path, 4);
  const std::string bytes_before = fileBytes(path);
  {
    RunStore reader(path, RunStore::Mode::ReadOnly);
    EXPECT_EQ(reader.schemaVersion(), 4);
    EXPECT_EQ(reader.listRuns().size(), 2u);
    EXPECT_EQ(keyStepValues(reader, 1), kOldRunPoints);
    EXPECT_TRUE(reader.generatedTexts(1).empty());
    EXPECT_TRUE(reader.generatedPoints(1).empty());
    EXPECT_THROW(reader.appendGenerated(1, {generated("student", 1, "student", "greedy", 0, "x")}), StoreError);
  }
  EXPECT_EQ(fileBytes(path), bytes_before);
  {
    RunStore store(path);
    EXPECT_EQ(store.schemaVersion(), RunStore::kSchemaVersion);
    EXPECT_EQ(keyStepValues(store, 1), kOldRunPoints);
    EXPECT_EQ(store.getRun(1)->uuid, "00000000-0000-4000-8000-000000000001");
    EXPECT_FALSE(store.getRun(1)->legacy_files);
    EXPECT_TRUE(store.generatedTexts(1).empty());
    store.appendGenerated(2, {generated("student", 1, "student", "greedy", 0, "new")});
    EXPECT_EQ(completions(store.generatedTexts(2)), (Strings{"new"}));
  }
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM sqlite_schema WHERE name IN ('generated_texts', "
                           "'generated_texts_by_run', 'runs_delete_generated_texts')"),
            "3");
  EXPECT_EQ(rawValue(path, "PRAGMA integrity_check"), "ok");
}

// How the window and the CLI open a file (read-write): in a folder they cannot write, a
// version-4 file is browsed read-only, not upgraded, and has no texts to show.
TEST(GeneratedTexts, AVersion4DatabaseInAReadOnlyFolderIsBrowsedWithoutTexts) {
  TempDir dir;
  fs::create_directories(dir.path() / "shared");
  const std::string path = (dir.path() / "shared" / "runs.db").string();
  writeOldDatabase(path, 4);
  testing::ReadOnlyFile read_only_folder((dir.path() / "shared").string());
  if (!read_only_folder.ok()) GTEST_SKIP() << "cannot make a folder read-only here";
  RunStore store(path);
  EXPECT_TRUE(store.readOnly());
  EXPECT_EQ(store.schemaVersion(), 4);
  ASSERT_EQ(store.listRuns().size(), 2u);
  EXPECT_EQ(keyStepValues(store, 1), kOldRunPoints);
  EXPECT_TRUE(store.generatedTexts(1).empty());
  EXPECT_TRUE(store.generatedPoints(1, "eval").empty());
}

TEST(GeneratedTexts, AFailedUpgradeFromVersion4LeavesTheFileAsItWas) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  writeOldDatabase(path, 4);
  rawExec(path, "CREATE TABLE generated_texts (x)");  // in the way of version 5's table
  const std::string message = storeError(path);
  EXPECT_NE(message.find("cannot upgrade the database from schema version 4 to 5"), std::string::npos) << message;
  EXPECT_NE(message.find("unchanged"), std::string::npos) << message;
  EXPECT_EQ(rawValue(path, "PRAGMA user_version"), "4");
  EXPECT_EQ(rawValue(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'runs_delete_generated_texts'"), "0");
}

// The recorder stamps a text with the time it arrives, not the time it is flushed: a checkpoint
// written between the two must keep the text on a resume from it.
TEST(StoreRecorder, StoresGeneratedTextsWithTheTimeTheyCameAndSaysWhenItCannot) {
  TempDir dir;
  const std::string path = dir.file("runs.db");
  RunStore store(path);
  const int64_t id = store.createRun(sampleRun());
  const auto now = [] { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); };
  {
    StoreRecorder recorder(store, id);
    recorder.onStarted({{"device", "cpu"}});
    GeneratedText unstamped = generated("student", 5, "student", "greedy", 0, "unstamped");
    unstamped.wall_time = 0.0;
    const double before = now();
    recorder.onGenerated({unstamped, generated("student", 5, "teacher", "greedy", 0, "stamped")});
    const double after = now();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    recorder.onCheckpoint({"state", dir.file("state.pt"), 5, 0.05});
    const auto texts = store.generatedTexts(id);
    ASSERT_EQ(completions(texts), (Strings{"unstamped", "stamped"}));
    EXPECT_GE(texts[0].wall_time, before);
    EXPECT_LE(texts[0].wall_time, after);
    EXPECT_EQ(texts[1].wall_time, 1e9 + 1005);
  }

  const int64_t gone = store.createRun(sampleRun());
  StoreRecorder recorder(store, gone);
  recorder.onStarted({});
  store.deleteRun(gone);
  recorder.onGenerated({generated("student", 1, "student", "greedy", 0, "x")});
  try {
    recorder.flush();
    ADD_FAILURE() << "no error for texts that cannot be stored";
  } catch (const StoreError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(path + ": cannot store the run's generated texts", 0), 0u) << message;
    EXPECT_NE(message.find("what was stored before is kept"), std::string::npos) << message;
  }
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
