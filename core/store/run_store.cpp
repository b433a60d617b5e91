#include "core/store/run_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <iterator>
#include <tuple>

#include "core/errors.h"
#include "core/runtime/runtime.h"
#include "core/store/run_files.h"
#include "core/store/sqlite_statement.h"
#include "core/text/utf8.h"

namespace distill {

namespace fs = std::filesystem;

namespace {

// 'DWB1' in the SQLite header tells our files from other databases.
constexpr int kApplicationId = 0x44574231;

const char* kSchemaV1 = R"sql(
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

// Version 2: a finished run's points packed per key, so that a comparison of 20 runs of
// 100,000 points reads 80 blobs instead of 2 million rows (about 0.3 us per row). The rows
// stay the source of truth and what SQL users query; the packed copy is dropped whenever
// a run's rows change and rebuilt from them.
const char* kSchemaV2 = R"sql(
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

// Version 3: metric_points without REFERENCES clauses. With foreign keys on, every inserted
// point looked its run and its key up (two b-tree searches a row, about 10% of the ingest
// cost); appendMetrics now checks the run once per batch and takes key ids from metric_keys
// itself, and a trigger removes a deleted run's points (also for SQL users, whose connections
// have foreign keys off by default). SQLite cannot drop a constraint in place, so the table
// is rebuilt: renamed with legacy_alter_table on (the metrics view, and any view a user made,
// keep naming metric_points and so see the new table), copied row for row with its rowids
// (they order equal steps), and its index recreated.
const char* kSchemaV3 = R"sql(
ALTER TABLE metric_points RENAME TO metric_points_v2;
CREATE TABLE metric_points (
  run_id    INTEGER NOT NULL,
  key_id    INTEGER NOT NULL,
  step      INTEGER NOT NULL,
  epoch     REAL    NOT NULL,
  wall_time REAL    NOT NULL,
  value     REAL    NOT NULL
);
INSERT INTO metric_points SELECT * FROM metric_points_v2;
DROP TABLE metric_points_v2;
CREATE INDEX metric_points_by_run_key ON metric_points (run_id, key_id, step);
CREATE TRIGGER runs_delete_points AFTER DELETE ON runs BEGIN
  DELETE FROM metric_points WHERE run_id = OLD.id;
END;
)sql";

// Version 4: every run gets a UUID (filled in for older runs by migrate()) and its own folder
// for files, relative to the database's folder. Runs stored before keep files_dir empty: their
// checkpoints stay under the shared <database folder>/checkpoints/run-<id>/ they were written to.
const char* kSchemaV4 = R"sql(
ALTER TABLE runs ADD COLUMN uuid TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN files_dir TEXT NOT NULL DEFAULT '';
)sql";

// Version 5: the texts a language-model run's models wrote (core/run_records.h GeneratedText):
// fixed prompts completed at each evaluation, and generated training sequences. The id is the
// write order. Like metric_points, no foreign key: appendGenerated checks the run once a batch,
// and a trigger removes a deleted run's texts on any connection.
const char* kSchemaV5 = R"sql(
CREATE TABLE generated_texts (
  id           INTEGER PRIMARY KEY,
  run_id       INTEGER NOT NULL,
  step         INTEGER NOT NULL,
  epoch        REAL    NOT NULL,
  wall_time    REAL    NOT NULL,
  phase        TEXT    NOT NULL,
  purpose      TEXT    NOT NULL,
  role         TEXT    NOT NULL,
  decoding     TEXT    NOT NULL,
  prompt_index INTEGER NOT NULL,
  prompt       TEXT    NOT NULL,
  completion   TEXT    NOT NULL,
  tokens_json  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX generated_texts_by_run ON generated_texts (run_id, purpose, step);
CREATE TRIGGER runs_delete_generated_texts AFTER DELETE ON runs BEGIN
  DELETE FROM generated_texts WHERE run_id = OLD.id;
END;
)sql";

// Packed columns are the vectors' bytes: int64 and IEEE-754 doubles in the machine's order.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "metric_series blobs are little-endian");

const char* kNow = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

double unixNow() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

using sqlite::Statement;
using sqlite::Transaction;

}  // namespace

const char* statusName(RunStatus status) {
  switch (status) {
    case RunStatus::Running: return "running";
    case RunStatus::Completed: return "completed";
    case RunStatus::Stopped: return "stopped";
    case RunStatus::Failed: return "failed";
    case RunStatus::Interrupted: return "interrupted";
  }
  return "failed";
}

RunStatus statusFromName(const std::string& name) {
  if (name == "running") return RunStatus::Running;
  if (name == "completed") return RunStatus::Completed;
  if (name == "stopped") return RunStatus::Stopped;
  if (name == "interrupted") return RunStatus::Interrupted;
  return RunStatus::Failed;
}

void RunStore::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

namespace {
// A file name as an SQLite URI path ('?', '#' and '%' would end or escape it).
std::string uriPath(const std::string& path) {
  std::string uri = "file:";
  for (const char c : fs::absolute(path).string()) {
    if (c == '?' || c == '#' || c == '%') {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", static_cast<unsigned char>(c));
      uri += escaped;
    } else {
      uri += c;
    }
  }
  return uri;
}
}  // namespace

RunStore::RunStore(const std::string& path, Mode mode) : path_(path), read_only_(mode == Mode::ReadOnly) {
  if (read_only_) read_only_reason_ = "opened for reading only";
  {
    std::error_code ec;
    const fs::path absolute = fs::absolute(path, ec).lexically_normal();
    folder_ = absolute.parent_path().string();
    files_root_ = (absolute.parent_path() / (absolute.stem().string() + ".files")).string();
  }
  const bool read_only = read_only_;
  bool immutable = false;
  if (!read_only) {
    const fs::path folder = fs::path(path).parent_path();
    std::error_code ec;
    if (!folder.empty() && !fs::exists(folder, ec) && !fs::create_directories(folder, ec))
      throw StoreError(path + ": cannot create the database folder " + folder.string() + " (" + ec.message() + ")");
    // SQLite writes its journal (WAL, -shm) beside the file: in a folder this process cannot
    // write, even reading a WAL database fails unless it is opened read-only, and then as
    // immutable when no -wal file exists (no writer can be at work in such a folder).
    if (::access(folder_.c_str(), W_OK) != 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
      if (!fs::exists(path, ec))
        throw StoreError(path + ": cannot create the database: the folder " + folder_ + " is read-only");
      read_only_ = true;
      read_only_reason_ = "the folder " + folder_ + " is read-only";
      immutable = !fs::exists(path + "-wal", ec);
    }
  }
  sqlite3* raw = nullptr;
  int rc = SQLITE_OK;
  if (immutable) {
    rc = sqlite3_open_v2((uriPath(path) + "?immutable=1").c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                         nullptr);
  } else {
    const int flags =
        (read_only_ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  }
  db_.reset(raw);
  if (rc != SQLITE_OK)
    throw StoreError(path + ": cannot open the database (" + std::string(raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)) +
                     (read_only_reason_.empty() ? std::string() : "; " + read_only_reason_) + ")");
  sqlite3_extended_result_codes(raw, 1);
  // A key inserted into metric_keys by a transaction that then rolls back is gone again:
  // its cached id must not be used (metric_points has no foreign key to catch it).
  sqlite3_rollback_hook(
      raw, [](void* store) { static_cast<RunStore*>(store)->key_ids_.clear(); }, this);
  sqlite3_busy_timeout(raw, 15000);
  // SQLITE_OPEN_READWRITE falls back to read-only when the file is not writable.
  if (!read_only_ && sqlite3_db_readonly(raw, "main") == 1) {
    read_only_ = true;
    read_only_reason_ = "the file is read-only (no write permission)";
  }
  try {
    exec("PRAGMA foreign_keys = ON");
    int64_t application_id = 0;
    {
      Statement probe(raw, "PRAGMA application_id");
      probe.step();
      application_id = probe.integer(0);
    }
    const int version = schemaVersion();
    if (version > kSchemaVersion)
      throw StoreError(path + ": written by a newer Distill Workbench (schema version " + std::to_string(version) +
                       "; this build reads up to " + std::to_string(kSchemaVersion) +
                       "). Upgrade the workbench, or use another database with --db.");
    if (application_id != 0 && application_id != kApplicationId)
      throw StoreError(path + ": not a Distill Workbench database (another program's SQLite file)");
    if (version == 0) {
      Statement tables(raw, "SELECT count(*) FROM sqlite_schema");
      tables.step();
      const int64_t table_count = tables.integer(0);
      tables.reset();
      if (table_count > 0)
        throw StoreError(path + ": not a Distill Workbench database (it already holds other tables)");
    }
    if (!read_only && read_only_) {
      // An older schema is browsed as it is (version 1 lacks only metric_series, which
      // readers do without); upgrading it waits until the file is writable.
      if (version == 0) throw StoreError(path + ": the file is read-only and holds no runs; a new database must be writable");
    } else if (!read_only) {
      exec("PRAGMA journal_mode = WAL");
      exec("PRAGMA synchronous = NORMAL");
      try {
        migrate();
      } catch (const StoreError& e) {
        // An existing database that cannot be upgraded now for want of room or write access
        // (a full disk) is still browsed as it is; anything that would write says why it
        // cannot. A schema that does not upgrade for other reasons is an error.
        const std::string why = e.what();
        const bool environment = why.find("disk is full") != std::string::npos ||
                                 why.find("readonly") != std::string::npos || why.find("locked") != std::string::npos ||
                                 why.find("disk I/O error") != std::string::npos;
        if (version == 0 || !environment) throw;
        read_only_ = true;
        read_only_reason_ = e.what();
      }
    } else if (version == 0) {
      throw StoreError(path + ": empty database; nothing to browse");
    }
    const int opened_version = schemaVersion();
    packed_table_ = opened_version >= 2;
    has_uuid_ = opened_version >= 4;
    texts_table_ = opened_version >= 5;
  } catch (const StoreError& e) {
    const std::string message = e.what();
    if (message.rfind(path, 0) == 0) throw;
    throw StoreError(path + ": " + message);
  }
}

RunStore::~RunStore() {
  if (db_) sqlite3_rollback_hook(db_.get(), nullptr, nullptr);
}

void RunStore::requireWritable() const {
  if (read_only_)
    throw StoreError(path_ + ": the database is read-only (" + read_only_reason_ +
                     "); its runs can be browsed, but a new or resumed run needs a writable database (make it "
                     "writable, or pass another --db)");
}

void RunStore::exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StoreError("SQLite: " + message + " (" + path_ + ")");
  }
}

int RunStore::schemaVersion() const {
  Statement statement(db_.get(), "PRAGMA user_version");
  statement.step();
  return static_cast<int>(statement.integer(0));
}

void RunStore::migrate() {
  // Forward migrations, one per version step, all in one transaction: a failure anywhere
  // leaves the file as it was. legacy_alter_table (a connection setting) keeps version 3's
  // RENAME from rewriting views; the guard turns it off again on every way out.
  int version = schemaVersion();
  if (version >= kSchemaVersion) return;
  struct LegacyAlterTable {
    sqlite3* db;
    ~LegacyAlterTable() { sqlite3_exec(db, "PRAGMA legacy_alter_table = OFF", nullptr, nullptr, nullptr); }
  } legacy_alter_table{db_.get()};
  exec("PRAGMA legacy_alter_table = ON");
  try {
    Transaction transaction(db_.get());
    // Read again under the write lock: another process opening the same old file at the
    // same time may have upgraded it while this one waited.
    version = schemaVersion();
    if (version >= kSchemaVersion) {
      transaction.commit();
      return;
    }
    if (version < 1) {
      exec(kSchemaV1);
      exec("PRAGMA application_id = " + std::to_string(kApplicationId));
    }
    // Runs stored before version 2 get their packed copy on first read.
    if (version < 2) exec(kSchemaV2);
    if (version < 3) exec(kSchemaV3);
    if (version < 4) {
      exec(kSchemaV4);
      std::vector<int64_t> ids;
      {
        Statement select(db_.get(), "SELECT id FROM runs");
        while (select.step()) ids.push_back(select.integer(0));
      }
      Statement update(db_.get(), "UPDATE runs SET uuid = ? WHERE id = ?");
      for (int64_t id : ids) update.bind(1, newRunUuid()).bind(2, id).run();
      exec("CREATE UNIQUE INDEX runs_by_uuid ON runs (uuid)");
    }
    if (version < 5) exec(kSchemaV5);
    exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    transaction.commit();
  } catch (const StoreError& e) {
    throw StoreError(std::string("cannot upgrade the database from schema version ") + std::to_string(version) + " to " +
                     std::to_string(kSchemaVersion) + " (" + e.what() + "); the file is unchanged");
  }
}

void RunStore::requireRun(int64_t run_id) {
  Statement statement(db_.get(), "SELECT 1 FROM runs WHERE id = ?");
  statement.bind(1, run_id);
  if (!statement.step()) throw StoreError("run " + std::to_string(run_id) + " not found in " + path_);
}

int64_t RunStore::createRun(const NewRun& run) {
  if (!isValidUtf8(run.name)) throw StoreError("run name: " + describeInvalidUtf8(run.name) + ", not stored in " + path_);
  requireWritable();
  Transaction transaction(db_.get());
  const std::string uuid = newRunUuid();
  Statement insert(db_.get(), std::string("INSERT INTO runs (name, status, created_at, config_yaml, teacher_run_id, host, pid, "
                                          "uuid) VALUES (?, 'running', ") + kNow + ", ?, ?, ?, ?, ?)");
  insert.bind(1, run.name).bind(2, run.config_yaml);
  if (run.teacher_run_id)
    insert.bind(3, *run.teacher_run_id);
  else
    insert.bindNull(3);
  insert.bind(4, hostName()).bind(5, static_cast<int64_t>(getpid())).bind(6, uuid);
  insert.run();
  const int64_t id = sqlite3_last_insert_rowid(db_.get());
  // The UUID in the folder's name keeps it apart from a run <id> of a database that had this
  // name before (deleted and made anew); the stem's .files folder from other databases here.
  const std::string files_dir =
      (fs::path(files_root_).filename() / ("run-" + std::to_string(id) + "-" + uuid.substr(0, 8))).string();
  Statement(db_.get(), "UPDATE runs SET files_dir = ? WHERE id = ?").bind(1, files_dir).bind(2, id).run();
  Statement param(db_.get(), "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)");
  for (const auto& [key, value] : run.params) param.bind(1, id).bind(2, key).bind(3, value).run();
  transaction.commit();
  return id;
}

void RunStore::setEnvironment(int64_t run_id, const std::map<std::string, std::string>& environment) {
  Transaction transaction(db_.get());
  Statement upsert(db_.get(), "INSERT OR REPLACE INTO environment (run_id, key, value) VALUES (?, ?, ?)");
  for (const auto& [key, value] : environment) upsert.bind(1, run_id).bind(2, key).bind(3, value).run();
  transaction.commit();
}

void RunStore::finishRun(int64_t run_id, RunStatus status, const std::string& error) {
  Statement update(db_.get(), std::string("UPDATE runs SET status = ?, error = ?, finished_at = ") + kNow +
                                  ", duration_s = (julianday('now') - julianday(created_at)) * 86400.0 WHERE id = ?");
  update.bind(1, std::string(statusName(status))).bind(2, error).bind(3, run_id).run();
  if (status != RunStatus::Running) packSeries(run_id, seriesFromRows(run_id));
}

int64_t RunStore::metricKeyId(const std::string& key) {
  const auto found = key_ids_.find(key);
  if (found != key_ids_.end()) return found->second;
  Statement insert(db_.get(), "INSERT OR IGNORE INTO metric_keys (name) VALUES (?)");
  insert.bind(1, key).run();
  Statement select(db_.get(), "SELECT id FROM metric_keys WHERE name = ?");
  select.bind(1, key);
  select.step();
  const int64_t id = select.integer(0);
  key_ids_[key] = id;
  return id;
}

void RunStore::Finalizer::operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }

namespace {
// Rows per INSERT statement in appendMetrics: one statement execution writes this many rows
// through the same b-tree cursors, about 1.4x the rate of one row per statement (measured in
// tests/benchmarks/ingest_benchmark; 64 and 256 measured the same); 6 parameters a row stays
// far below SQLite's limit.
constexpr size_t kRowsPerInsert = 128;

std::string multiRowInsert(size_t rows) {
  std::string sql = "INSERT INTO metric_points (run_id, key_id, step, epoch, wall_time, value) VALUES ";
  for (size_t i = 0; i < rows; ++i) sql += i ? ",(?,?,?,?,?,?)" : "(?,?,?,?,?,?)";
  return sql;
}

// A statement kept for the connection's lifetime (the caller owns and finalizes it).
sqlite3_stmt* preparePersistent(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK)
    throw StoreError(sqlite::errorMessage(db));
  return raw;
}
}  // namespace

void RunStore::appendMetrics(int64_t run_id, const std::vector<MetricPoint>& points) {
  if (points.empty()) return;
  Transaction transaction(db_.get());
  // metric_points has no foreign keys (schema 3): the run is checked here, once a batch,
  // inside the write lock, so it cannot be deleted before the points are in.
  {
    Statement run(db_.get(), "SELECT 1 FROM runs WHERE id = ?");
    run.bind(1, run_id);
    if (!run.step())
      throw StoreError("cannot store metric points: run " + std::to_string(run_id) + " not found in " + path_);
  }
  dropPackedSeries(run_id);
  // Rows go in grouped by key: the (run_id, key_id, step) index then takes consecutive
  // inserts on the same leaf page instead of hopping between the keys' pages for every point
  // of an interleaved batch (about 1.5x the rate of write order in ingest_benchmark). The
  // sort is stable, so each key's points keep their write order and rowid still orders equal
  // steps.
  std::vector<int64_t> key_ids(points.size());
  for (size_t i = 0; i < points.size(); ++i) key_ids[i] = metricKeyId(points[i].key);
  std::vector<size_t> order(points.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key_ids[a] < key_ids[b]; });

  auto bindRow = [&](sqlite3_stmt* statement, int first, size_t index) {
    const MetricPoint& p = points[index];
    const int rc = sqlite3_bind_int64(statement, first, run_id) | sqlite3_bind_int64(statement, first + 1, key_ids[index]) |
                   sqlite3_bind_int64(statement, first + 2, p.step) | sqlite3_bind_double(statement, first + 3, p.epoch) |
                   sqlite3_bind_double(statement, first + 4, p.wall_time) | sqlite3_bind_double(statement, first + 5, p.value);
    if (rc != SQLITE_OK) throw StoreError(sqlite::errorMessage(db_.get()));
  };
  auto execute = [&](sqlite3_stmt* statement) {
    const int rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    if (rc != SQLITE_DONE) throw StoreError(sqlite::errorMessage(db_.get()));
  };
  size_t i = 0;
  if (points.size() >= kRowsPerInsert && !insert_points_)
    insert_points_.reset(preparePersistent(db_.get(), multiRowInsert(kRowsPerInsert)));
  for (; i + kRowsPerInsert <= points.size(); i += kRowsPerInsert) {
    for (size_t row = 0; row < kRowsPerInsert; ++row) bindRow(insert_points_.get(), static_cast<int>(row * 6 + 1), order[i + row]);
    execute(insert_points_.get());
  }
  if (i < points.size()) {
    // StoreRecorder's batches mostly have the same size, hence the same remainder: the
    // statement for it is kept until another size comes.
    const size_t rest = points.size() - i;
    if (!insert_rest_ || insert_rest_rows_ != rest) {
      insert_rest_.reset();
      insert_rest_rows_ = 0;
      insert_rest_.reset(preparePersistent(db_.get(), multiRowInsert(rest)));
      insert_rest_rows_ = rest;
    }
    for (size_t row = 0; row < rest; ++row) bindRow(insert_rest_.get(), static_cast<int>(row * 6 + 1), order[i + row]);
    execute(insert_rest_.get());
  }
  transaction.commit();
}

void RunStore::addCheckpoint(int64_t run_id, const CheckpointInfo& checkpoint) {
  Transaction transaction(db_.get());
  // One row per role: the newest checkpoint replaces the older one (the file is overwritten).
  Statement remove(db_.get(), "DELETE FROM checkpoints WHERE run_id = ? AND role = ?");
  remove.bind(1, run_id).bind(2, checkpoint.role).run();
  Statement insert(db_.get(), std::string("INSERT INTO checkpoints (run_id, role, path, step, epoch, created_at) "
                                          "VALUES (?, ?, ?, ?, ?, ") + kNow + ")");
  insert.bind(1, run_id).bind(2, checkpoint.role).bind(3, storablePath(checkpoint.path)).bind(4, checkpoint.step).bind(5, checkpoint.epoch);
  insert.run();
  transaction.commit();
}

void RunStore::appendGenerated(int64_t run_id, const std::vector<GeneratedText>& texts) {
  if (texts.empty()) return;
  if (!texts_table_) requireWritable();  // only a read-only older file lacks the table
  Transaction transaction(db_.get());
  {
    Statement run(db_.get(), "SELECT 1 FROM runs WHERE id = ?");
    run.bind(1, run_id);
    if (!run.step())
      throw StoreError("cannot store generated texts: run " + std::to_string(run_id) + " not found in " + path_);
  }
  Statement insert(db_.get(),
                   "INSERT INTO generated_texts (run_id, step, epoch, wall_time, phase, purpose, role, decoding, "
                   "prompt_index, prompt, completion, tokens_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const double now = unixNow();
  for (const GeneratedText& text : texts) {
    // A model writes tokens, not characters: a byte-level model can end a text in the middle
    // of a character. Stored repaired, so that every reader (and JSON) gets valid UTF-8.
    insert.bind(1, run_id).bind(2, text.step).bind(3, text.epoch).bind(4, text.wall_time > 0 ? text.wall_time : now);
    insert.bind(5, repairUtf8(text.phase)).bind(6, repairUtf8(text.purpose)).bind(7, repairUtf8(text.role));
    insert.bind(8, repairUtf8(text.decoding)).bind(9, text.prompt_index).bind(10, repairUtf8(text.prompt));
    insert.bind(11, repairUtf8(text.completion)).bind(12, repairUtf8(text.tokens_json));
    insert.run();
  }
  transaction.commit();
}

std::string RunStore::lockPath(const std::string& run_uuid) const {
  return (fs::path(files_root_) / "locks" / (run_uuid + ".lock")).string();
}

RunStore::Liveness RunStore::liveness(int64_t run_id, const std::string& uuid, const std::string& host, int64_t pid) {
  Liveness result;
  LockProbe probe;
  if (!uuid.empty()) probe = probeRunLock(lockPath(uuid));
  if (probe.state == LockProbe::State::Held) return result;
  if (probe.state == LockProbe::State::Free) {
    // Nobody holds the lock: whatever host and pid say, no process drives the run.
    result.dead = true;
    result.reason = probe.end_reason;
    result.last_alive = probe.last_alive;
  } else {
    // No lock file (a run started by an older workbench, or one whose lock is not taken
    // yet): its process on this host tells; another host's cannot be told from here.
    if (host != hostName()) return result;
    const auto process = static_cast<pid_t>(pid);
    if (process <= 0 || !(::kill(process, 0) == -1 && errno == ESRCH)) return result;
    result.dead = true;
  }
  // The last sign of life: its newest metric point (training writes one every few steps).
  Statement last(db_.get(), "SELECT max(wall_time) FROM metric_points WHERE run_id = ?");
  last.bind(1, run_id);
  if (last.step() && !last.isNull(0)) result.last_alive = std::max(result.last_alive, last.real(0));
  return result;
}

namespace {
const char* kCrashReason = "the process running it ended without finishing (crash or kill)";
}  // namespace

void RunStore::applyLiveness(RunRecord& run) {
  if (run.status != RunStatus::Running) return;
  std::string host;
  int64_t pid = 0;
  {
    Statement select(db_.get(), "SELECT host, pid, (julianday(created_at) - 2440587.5) * 86400.0 FROM runs WHERE id = ?");
    select.bind(1, run.id);
    if (!select.step()) return;
    host = select.text(0);
    pid = select.integer(1);
    const Liveness alive = liveness(run.id, run.uuid, host, pid);
    if (!alive.dead) return;
    run.status = alive.reason.empty() ? RunStatus::Interrupted : RunStatus::Failed;
    run.error = alive.reason.empty() ? kCrashReason : alive.reason;
    if (alive.last_alive > 0) run.duration_s = std::max(0.0, alive.last_alive - select.real(2));
  }
}

int RunStore::markInterruptedRuns() {
  if (read_only_) return 0;  // browsing a read-only file: readers show dead runs as they are
  struct Dead {
    int64_t id;
    Liveness liveness;
  };
  std::vector<Dead> dead;
  try {
    {
      std::vector<std::tuple<int64_t, std::string, std::string, int64_t>> running;
      Statement select(db_.get(), std::string("SELECT id, ") + (has_uuid_ ? "uuid" : "''") +
                                      ", host, pid FROM runs WHERE status = 'running'");
      while (select.step()) running.emplace_back(select.integer(0), select.text(1), select.text(2), select.integer(3));
      select.reset();
      for (const auto& [id, uuid, host, pid] : running) {
        Liveness alive = liveness(id, uuid, host, pid);
        if (alive.dead) dead.push_back({id, std::move(alive)});
      }
    }
    for (const auto& [id, alive] : dead) {
      // Ends at its last sign of life, not now: the duration stops growing where it died.
      const double end = alive.last_alive > 0 ? alive.last_alive : unixNow();
      Statement update(db_.get(),
                       "UPDATE runs SET status = ?1, error = ?2, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', ?3, "
                       "'unixepoch'), duration_s = max(0, (julianday(?3, 'unixepoch') - julianday(created_at)) * 86400.0) "
                       "WHERE id = ?4 AND status = 'running'");
      const bool recorded_reason = !alive.reason.empty();
      update.bind(1, std::string(recorded_reason ? "failed" : "interrupted"))
          .bind(2, recorded_reason ? alive.reason : std::string(kCrashReason));
      update.bind(3, end).bind(4, id);
      update.run();
      packSeries(id, seriesFromRows(id));
    }
  } catch (const StoreError&) {
    // A full disk or another writer holding the file: nothing is lost by leaving the rows as
    // they are; listRuns() and getRun() show such runs as they really are.
    return 0;
  }
  return static_cast<int>(dead.size());
}

bool RunStore::isRunAlive(int64_t run_id) {
  Statement select(db_.get(), std::string("SELECT status, host, pid, ") + (has_uuid_ ? "uuid" : "''") +
                                  " FROM runs WHERE id = ?");
  select.bind(1, run_id);
  if (!select.step() || select.text(0) != "running") return false;
  const std::string host = select.text(1), uuid = select.text(3);
  const int64_t pid = select.integer(2);
  select.reset();
  return !liveness(run_id, uuid, host, pid).dead;
}

void RunStore::reopenRun(int64_t run_id) {
  requireWritable();
  requireRun(run_id);
  Statement update(db_.get(),
                   "UPDATE runs SET status = 'running', error = '', finished_at = NULL, duration_s = NULL, host = ?, "
                   "pid = ? WHERE id = ?");
  update.bind(1, hostName()).bind(2, static_cast<int64_t>(getpid())).bind(3, run_id).run();
  dropPackedSeries(run_id);
}

int64_t RunStore::deletePointsAfter(int64_t run_id, double wall_time) {
  Transaction transaction(db_.get());
  dropPackedSeries(run_id);
  Statement remove(db_.get(), "DELETE FROM metric_points WHERE run_id = ? AND wall_time > ?");
  remove.bind(1, run_id).bind(2, wall_time).run();
  const int64_t removed = sqlite3_changes(db_.get());
  // The resumed run writes its evaluations' texts again: the old ones would be doubles.
  if (texts_table_)
    Statement(db_.get(), "DELETE FROM generated_texts WHERE run_id = ? AND wall_time > ?").bind(1, run_id).bind(2, wall_time).run();
  transaction.commit();
  return removed;
}

RunRecord RunStore::readRunRow(const void* statement) const {
  const Statement& row = *static_cast<const Statement*>(statement);
  RunRecord run;
  run.id = row.integer(0);
  run.name = row.text(1);
  run.status = statusFromName(row.text(2));
  run.created_at = row.text(3);
  run.finished_at = row.text(4);
  run.duration_s = row.isNull(5) ? 0.0 : row.real(5);
  run.error = row.text(6);
  run.notes = row.text(7);
  run.starred = row.integer(8) != 0;
  if (!row.isNull(9)) run.teacher_run_id = row.integer(9);
  run.config_yaml = row.text(10);
  run.uuid = row.text(11);
  const std::string files_dir = row.text(12);
  run.legacy_files = files_dir.empty();
  run.files_dir = files_dir.empty() ? (fs::path(folder_) / "checkpoints" / ("run-" + std::to_string(run.id))).string()
                                    : (fs::path(folder_) / files_dir).string();
  return run;
}

std::string RunStore::runColumns() const {
  return std::string("SELECT id, name, status, created_at, finished_at, duration_s, error, notes, starred, teacher_run_id, "
                     "config_yaml, ") +
         (has_uuid_ ? "uuid, files_dir" : "'', ''") + " FROM runs ";
}

std::vector<RunRecord> RunStore::listRuns() {
  std::vector<RunRecord> runs;
  {
    Statement select(db_.get(), runColumns() + "ORDER BY id DESC");
    while (select.step()) runs.push_back(readRunRow(&select));
  }
  for (auto& run : runs) applyLiveness(run);
  std::vector<std::pair<int64_t, std::string>> keys;
  {
    Statement select(db_.get(), "SELECT id, name FROM metric_keys");
    while (select.step()) keys.emplace_back(select.integer(0), select.text(1));
  }
  Statement last(db_.get(),
                 "SELECT value FROM metric_points WHERE run_id = ? AND key_id = ? ORDER BY step DESC, rowid DESC LIMIT 1");
  Statement tags(db_.get(), "SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
  for (auto& run : runs) {
    for (const auto& [key_id, name] : keys) {
      last.bind(1, run.id).bind(2, key_id);
      if (last.step()) run.final_metrics[name] = last.real(0);
      last.reset();
    }
    tags.bind(1, run.id);
    while (tags.step()) run.tags.push_back(tags.text(0));
    tags.reset();
  }
  return runs;
}

void RunStore::loadParams(std::vector<RunRecord>& runs) {
  std::map<int64_t, RunRecord*> by_id;
  for (auto& run : runs) by_id[run.id] = &run;
  Statement select(db_.get(), "SELECT run_id, key, value FROM params");
  while (select.step()) {
    auto it = by_id.find(select.integer(0));
    if (it != by_id.end()) it->second->params[select.text(1)] = select.text(2);
  }
}

std::map<int64_t, double> RunStore::bestValues(const std::string& key, bool higher_is_better) {
  std::map<int64_t, double> best;
  int64_t key_id = 0;
  {
    Statement find(db_.get(), "SELECT id FROM metric_keys WHERE name = ?");
    find.bind(1, key);
    if (!find.step()) return best;
    key_id = find.integer(0);
  }
  // Per run through the (run_id, key_id, step) index: evaluation keys hold few points each,
  // so this stays fast however many training points the runs have.
  std::vector<int64_t> ids;
  {
    Statement select(db_.get(), "SELECT id FROM runs");
    while (select.step()) ids.push_back(select.integer(0));
  }
  Statement value(db_.get(), std::string("SELECT ") + (higher_is_better ? "max" : "min") +
                                 "(value) FROM metric_points WHERE run_id = ? AND key_id = ?");
  for (int64_t id : ids) {
    value.bind(1, id).bind(2, key_id);
    if (value.step() && !value.isNull(0)) best[id] = value.real(0);
    value.reset();
  }
  return best;
}

std::optional<RunRecord> RunStore::getRun(int64_t run_id) {
  std::optional<RunRecord> found;
  {
    Statement select(db_.get(), runColumns() + "WHERE id = ?");
    select.bind(1, run_id);
    if (!select.step()) return std::nullopt;
    found = readRunRow(&select);
  }
  RunRecord& run = *found;
  applyLiveness(run);
  for (const auto& [table, target] :
       {std::pair<const char*, std::map<std::string, std::string>*>{"params", &run.params}, {"environment", &run.environment}}) {
    Statement select(db_.get(), std::string("SELECT key, value FROM ") + table + " WHERE run_id = ?");
    select.bind(1, run_id);
    while (select.step()) (*target)[select.text(0)] = select.text(1);
  }
  Statement tags(db_.get(), "SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
  tags.bind(1, run_id);
  while (tags.step()) run.tags.push_back(tags.text(0));
  for (const auto& key : metricKeys(run_id)) {
    Statement last(db_.get(),
                   "SELECT p.value FROM metric_points p JOIN metric_keys k ON k.id = p.key_id "
                   "WHERE p.run_id = ? AND k.name = ? ORDER BY p.step DESC, p.rowid DESC LIMIT 1");
    last.bind(1, run_id).bind(2, key);
    if (last.step()) run.final_metrics[key] = last.real(0);
  }
  return found;
}

std::vector<std::string> RunStore::metricKeys(int64_t run_id) {
  std::vector<std::string> keys;
  Statement select(db_.get(),
                   "SELECT k.name FROM metric_keys k WHERE EXISTS "
                   "(SELECT 1 FROM metric_points p WHERE p.run_id = ? AND p.key_id = k.id) ORDER BY k.name");
  select.bind(1, run_id);
  while (select.step()) keys.push_back(select.text(0));
  return keys;
}

namespace {
// Every point of a run (or of one key) in (key_id, step, rowid) order: the order of the
// (run_id, key_id, step) index, so SQLite walks it without a join or a sort; calls
// `on_point(key_id, step, epoch, wall_time, value)` for each.
template <typename OnPoint>
void scanPoints(sqlite3* db, int64_t run_id, std::optional<int64_t> key_id, OnPoint on_point) {
  Statement select(db, std::string("SELECT key_id, step, epoch, wall_time, value FROM metric_points WHERE run_id = ?") +
                           (key_id ? " AND key_id = ?" : "") + " ORDER BY key_id, step, rowid");
  select.bind(1, run_id);
  if (key_id) select.bind(2, *key_id);
  while (select.step())
    on_point(select.integer(0), select.integer(1), select.real(2), select.real(3), select.real(4));
}

// Metric key names by id; `only` restricts to one name (empty map when it is unknown).
std::map<int64_t, std::string> keyNames(sqlite3* db, const std::string& only = "") {
  std::map<int64_t, std::string> names;
  Statement select(db, std::string("SELECT id, name FROM metric_keys") + (only.empty() ? "" : " WHERE name = ?"));
  if (!only.empty()) select.bind(1, only);
  while (select.step()) names.emplace(select.integer(0), select.text(1));
  return names;
}
}  // namespace

std::vector<MetricPoint> RunStore::metrics(int64_t run_id, const std::string& key) {
  const auto names = keyNames(db_.get(), key);
  if (names.empty()) return {};
  // Read in key-id order, then lay the keys out by name: the order callers have always had
  // (name, step, write order), without asking SQLite to sort every point by a joined name.
  std::map<int64_t, std::vector<MetricPoint>> by_key;
  std::vector<MetricPoint>* current = nullptr;
  int64_t current_id = -1;
  const std::string* current_name = nullptr;
  scanPoints(db_.get(), run_id, key.empty() ? std::nullopt : std::optional<int64_t>(names.begin()->first),
             [&](int64_t key_id, int64_t step, double epoch, double wall_time, double value) {
               if (key_id != current_id) {
                 current_id = key_id;
                 current = &by_key[key_id];
                 const auto name = names.find(key_id);
                 current_name = name == names.end() ? nullptr : &name->second;
               }
               if (current_name) current->push_back({*current_name, step, epoch, wall_time, value});
             });
  std::vector<std::pair<const std::string*, std::vector<MetricPoint>*>> ordered;
  size_t total = 0;
  for (auto& [key_id, points] : by_key) {
    ordered.emplace_back(&names.at(key_id), &points);
    total += points.size();
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
  std::vector<MetricPoint> points;
  points.reserve(total);
  for (auto& [name, key_points] : ordered)
    points.insert(points.end(), std::make_move_iterator(key_points->begin()), std::make_move_iterator(key_points->end()));
  return points;
}

std::map<std::string, MetricSeries> RunStore::seriesFromRows(int64_t run_id) {
  const auto names = keyNames(db_.get());
  std::map<std::string, MetricSeries> series;
  MetricSeries* current = nullptr;
  int64_t current_id = -1;
  scanPoints(db_.get(), run_id, std::nullopt, [&](int64_t key_id, int64_t step, double epoch, double wall_time, double value) {
    if (key_id != current_id) {
      current_id = key_id;
      const auto name = names.find(key_id);
      current = name == names.end() ? nullptr : &series[name->second];
    }
    if (!current) return;
    current->steps.push_back(step);
    current->epochs.push_back(epoch);
    current->wall_times.push_back(wall_time);
    current->values.push_back(value);
  });
  return series;
}

bool RunStore::readPackedSeries(int64_t run_id, std::map<std::string, MetricSeries>& series) {
  if (!packed_table_) return false;
  Statement select(db_.get(),
                   "SELECT k.name, s.points, s.steps, s.epochs, s.wall_times, s.metric_values "
                   "FROM metric_series s JOIN metric_keys k ON k.id = s.key_id WHERE s.run_id = ?");
  select.bind(1, run_id);
  std::map<std::string, MetricSeries> packed;
  while (select.step()) {
    const int64_t points = select.integer(1);
    if (points < 0) return false;
    MetricSeries& one = packed[select.text(0)];
    const auto count = static_cast<size_t>(points);
    // A copy whose blobs do not match its count is not trusted: the rows are read instead.
    if (!select.blob(2, count, one.steps) || !select.blob(3, count, one.epochs) ||
        !select.blob(4, count, one.wall_times) || !select.blob(5, count, one.values))
      return false;
  }
  if (packed.empty()) return false;
  series = std::move(packed);
  return true;
}

void RunStore::packSeries(int64_t run_id, const std::map<std::string, MetricSeries>& series) {
  if (read_only_ || !packed_table_ || series.empty()) return;
  // Never keep the caller waiting on another writer for an optimisation.
  sqlite3_busy_timeout(db_.get(), 250);
  try {
    Transaction transaction(db_.get());
    // Inside the write lock: the run must still be finished and its rows exactly these.
    Statement status(db_.get(), "SELECT status FROM runs WHERE id = ?");
    status.bind(1, run_id);
    if (!status.step() || status.text(0) == "running") {
      sqlite3_busy_timeout(db_.get(), 15000);
      return;
    }
    Statement count(db_.get(), "SELECT count(*) FROM metric_points WHERE run_id = ?");
    count.bind(1, run_id);
    count.step();
    size_t total = 0;
    for (const auto& [key, one] : series) total += one.values.size();
    if (static_cast<size_t>(count.integer(0)) == total) {
      dropPackedSeries(run_id);
      Statement insert(db_.get(),
                       "INSERT INTO metric_series (run_id, key_id, points, steps, epochs, wall_times, metric_values) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)");
      for (const auto& [key, one] : series) {
        insert.bind(1, run_id).bind(2, metricKeyId(key)).bind(3, static_cast<int64_t>(one.values.size()));
        insert.bindBlob(4, one.steps).bindBlob(5, one.epochs).bindBlob(6, one.wall_times).bindBlob(7, one.values);
        insert.run();
      }
      transaction.commit();
    }
  } catch (const StoreError&) {
    // Busy, full disk or read-only file: the rows remain the one copy; readers use them.
  }
  sqlite3_busy_timeout(db_.get(), 15000);
}

void RunStore::dropPackedSeries(int64_t run_id) {
  if (!packed_table_) return;
  Statement(db_.get(), "DELETE FROM metric_series WHERE run_id = ?").bind(1, run_id).run();
}

bool RunStore::hasPackedSeries(int64_t run_id) {
  if (!packed_table_) return false;
  Statement select(db_.get(), "SELECT 1 FROM metric_series WHERE run_id = ? LIMIT 1");
  select.bind(1, run_id);
  return select.step();
}

namespace {
// " AND column = ?" for each field of a GeneratedFilter that is set, with the values to bind.
struct GeneratedWhere {
  std::string sql;
  std::vector<std::string> texts;
  std::optional<int64_t> step;
};
GeneratedWhere generatedWhere(const GeneratedFilter& filter) {
  GeneratedWhere where;
  for (const auto& [column, value] : {std::pair<const char*, const std::string*>{"purpose", &filter.purpose},
                                      {"phase", &filter.phase},
                                      {"role", &filter.role}}) {
    if (value->empty()) continue;
    where.sql += std::string(" AND ") + column + " = ?";
    where.texts.push_back(*value);
  }
  if (filter.step) where.sql += " AND step = ?";
  where.step = filter.step;
  return where;
}
void bindWhere(Statement& statement, const GeneratedWhere& where, int first) {
  for (const auto& text : where.texts) statement.bind(first++, text);
  if (where.step) statement.bind(first, *where.step);
}
}  // namespace

std::vector<GeneratedText> RunStore::generatedTexts(int64_t run_id, const GeneratedFilter& filter) {
  std::vector<GeneratedText> texts;
  if (!texts_table_) return texts;
  const GeneratedWhere where = generatedWhere(filter);
  Statement select(db_.get(),
                   "SELECT step, epoch, phase, purpose, role, decoding, prompt_index, prompt, completion, tokens_json, "
                   "wall_time FROM generated_texts WHERE run_id = ?" + where.sql + " ORDER BY id");
  select.bind(1, run_id);
  bindWhere(select, where, 2);
  while (select.step()) {
    GeneratedText text;
    text.step = select.integer(0);
    text.epoch = select.real(1);
    text.phase = select.text(2);
    text.purpose = select.text(3);
    text.role = select.text(4);
    text.decoding = select.text(5);
    text.prompt_index = select.integer(6);
    text.prompt = select.text(7);
    text.completion = select.text(8);
    text.tokens_json = select.text(9);
    text.wall_time = select.real(10);
    texts.push_back(std::move(text));
  }
  return texts;
}

std::vector<GeneratedPoint> RunStore::generatedPoints(int64_t run_id, const std::string& purpose) {
  std::vector<GeneratedPoint> points;
  if (!texts_table_) return points;
  const GeneratedWhere where = generatedWhere(GeneratedFilter{purpose, "", std::nullopt, ""});
  Statement select(db_.get(), "SELECT phase, step, min(epoch), count(*) FROM generated_texts WHERE run_id = ?" + where.sql +
                                  " GROUP BY phase, step ORDER BY min(id)");
  select.bind(1, run_id);
  bindWhere(select, where, 2);
  while (select.step()) points.push_back({select.text(0), select.integer(1), select.real(2), select.integer(3)});
  return points;
}

std::map<std::string, MetricSeries> RunStore::metricSeries(int64_t run_id) {
  std::map<std::string, MetricSeries> series;
  if (readPackedSeries(run_id, series)) return series;
  series = seriesFromRows(run_id);
  Statement status(db_.get(), "SELECT status FROM runs WHERE id = ?");
  status.bind(1, run_id);
  const bool finished = status.step() && status.text(0) != "running";
  status.reset();
  if (finished) packSeries(run_id, series);
  return series;
}

std::vector<CheckpointRecord> RunStore::checkpoints(int64_t run_id) {
  std::vector<CheckpointRecord> result;
  Statement select(db_.get(),
                   "SELECT id, role, path, step, epoch, created_at FROM checkpoints WHERE run_id = ? ORDER BY id");
  select.bind(1, run_id);
  while (select.step())
    result.push_back({select.integer(0), select.text(1), resolveStoredPath(select.text(2), run_id), select.integer(3),
                      select.real(4), select.text(5)});
  return result;
}

std::string RunStore::storablePath(const std::string& path) const {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec).lexically_normal();
  const fs::path relative = absolute.lexically_relative(folder_);
  // Inside the database's folder: relative to it, so the folder can move as a whole.
  if (!relative.empty() && *relative.begin() != "..") return relative.string();
  return absolute.string();
}

std::string RunStore::resolveStoredPath(const std::string& stored, int64_t run_id) const {
  const fs::path path(stored);
  if (path.is_absolute()) return stored;
  std::error_code ec;
  const fs::path beside = (fs::path(folder_) / path).lexically_normal();
  if (fs::exists(beside, ec)) return beside.string();
  // Before schema 4 the path was stored as the run's process wrote it, relative to its
  // working directory (`--db sub/r.db` stored sub/checkpoints/run-1/...): the file is under
  // the legacy folder beside the database, or where the path pointed from that directory.
  const fs::path legacy = fs::path(folder_) / "checkpoints" / ("run-" + std::to_string(run_id)) / path.filename();
  if (fs::exists(legacy, ec)) return legacy.string();
  if (fs::exists(path, ec)) return fs::absolute(path, ec).lexically_normal().string();
  return beside.string();
}

namespace {
double fileModifiedAt(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0.0;
  return static_cast<double>(info.st_mtim.tv_sec) + static_cast<double>(info.st_mtim.tv_nsec) * 1e-9;
}
}  // namespace

std::string RunStore::checkpointFile(int64_t run_id, const std::string& role) {
  const std::string name = "run " + std::to_string(run_id);
  // Only the run's UUID and whether its files predate schema 4 (getRun() would read its
  // params, environment, tags and final metrics too).
  std::string uuid;
  bool legacy_files = true;
  {
    Statement select(db_.get(), std::string("SELECT ") + (has_uuid_ ? "uuid, files_dir" : "'', ''") +
                                    " FROM runs WHERE id = ?");
    select.bind(1, run_id);
    if (!select.step()) throw StoreError(name + " not found in " + path_);
    uuid = select.text(0);
    legacy_files = select.text(1).empty();
  }
  std::optional<CheckpointRecord> record;
  for (auto& checkpoint : checkpoints(run_id))
    if (checkpoint.role == role) record = checkpoint;
  if (!record) return {};
  const std::string& file = record->path;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw StoreError(name + " of " + path_ + ": its " + role + " checkpoint " + file + " is missing");
  std::optional<CheckpointOwner> owner;
  try {
    owner = readCheckpointOwner(file);
  } catch (const std::exception& e) {
    throw StoreError(name + " of " + path_ + ": " + e.what());
  }
  if (owner) {
    if (owner->run_uuid != uuid || owner->role != role)
      throw StoreError(name + " of " + path_ + ": the " + role + " checkpoint " + file + " is not this run's own (it is " +
                       owner->role + " of run " + std::to_string(owner->run_id) + " " + owner->run_uuid + " in " +
                       owner->database + "); refusing to analyse another model");
    return file;
  }
  Statement created(db_.get(), "SELECT (julianday(created_at) - 2440587.5) * 86400.0 FROM checkpoints WHERE id = ?");
  created.bind(1, record->id);
  const double stored_at = created.step() ? created.real(0) : 0.0;
  if (!legacy_files)
    throw StoreError(name + " of " + path_ + ": the " + role + " checkpoint " + file +
                     " has no owner tag (" + ownerTagPath(file) + "); cannot tell whose model it is");
  // Stored before owner tags: the file is written just before its row, so a file modified
  // well after the row was stored was overwritten since, by another database's run of the
  // same id in this folder (the shared checkpoints/run-<id>/ of old versions).
  const double modified_at = fileModifiedAt(file);
  if (stored_at > 0 && modified_at > stored_at + 5.0)
    throw StoreError(name + " of " + path_ + ": the " + role + " checkpoint " + file +
                     " was rewritten after this run stored it (probably by run " + std::to_string(run_id) +
                     " of another database in the same folder); it is not this run's model");
  return file;
}

void RunStore::addOwnedCheckpoint(int64_t run_id, const CheckpointInfo& checkpoint) {
  std::string uuid;
  if (has_uuid_) {
    Statement select(db_.get(), "SELECT uuid FROM runs WHERE id = ?");
    select.bind(1, run_id);
    if (select.step()) uuid = select.text(0);
  }
  if (!uuid.empty()) {
    try {
      writeCheckpointOwner(checkpoint.path, {uuid, run_id, checkpoint.role, fs::absolute(path_).string()});
    } catch (const std::exception& e) {
      throw StoreError(e.what());
    }
  }
  addCheckpoint(run_id, checkpoint);
}

void RunStore::rename(int64_t run_id, const std::string& name) {
  if (!isValidUtf8(name)) throw StoreError("run name: " + describeInvalidUtf8(name) + ", not stored in " + path_);
  requireRun(run_id);
  Statement(db_.get(), "UPDATE runs SET name = ? WHERE id = ?").bind(1, name).bind(2, run_id).run();
}

void RunStore::setNotes(int64_t run_id, const std::string& notes) {
  requireRun(run_id);
  Statement(db_.get(), "UPDATE runs SET notes = ? WHERE id = ?").bind(1, notes).bind(2, run_id).run();
}

void RunStore::setStarred(int64_t run_id, bool starred) {
  requireRun(run_id);
  Statement(db_.get(), "UPDATE runs SET starred = ? WHERE id = ?").bind(1, int64_t{starred}).bind(2, run_id).run();
}

void RunStore::addTag(int64_t run_id, const std::string& tag) {
  requireRun(run_id);
  Statement(db_.get(), "INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?, ?)").bind(1, run_id).bind(2, tag).run();
}

void RunStore::removeTag(int64_t run_id, const std::string& tag) {
  Statement(db_.get(), "DELETE FROM tags WHERE run_id = ? AND tag = ?").bind(1, run_id).bind(2, tag).run();
}

void RunStore::deleteRun(int64_t run_id) { deleteRuns({run_id}); }

void RunStore::deleteRuns(const std::vector<int64_t>& run_ids) {
  for (int64_t id : run_ids) requireRun(id);
  // The runs' own folders and locks (schema 4); a legacy checkpoints/run-<id>/ may hold
  // another database's run <id>, so it stays.
  std::vector<std::string> own_files;
  if (has_uuid_) {
    Statement select(db_.get(), "SELECT uuid, files_dir FROM runs WHERE id = ?");
    for (int64_t id : run_ids) {
      select.bind(1, id);
      if (select.step() && !select.text(1).empty()) {
        const fs::path folder = (fs::path(folder_) / select.text(1)).lexically_normal();
        // Only a folder inside this database's own .files folder is ever removed.
        if (folder.parent_path() == fs::path(files_root_).lexically_normal()) own_files.push_back(folder.string());
        if (!select.text(0).empty()) own_files.push_back(lockPath(select.text(0)));
      }
      select.reset();
    }
  }
  Transaction transaction(db_.get());
  Statement remove(db_.get(), "DELETE FROM runs WHERE id = ?");
  for (int64_t id : run_ids) {
    remove.bind(1, id);
    remove.run();
  }
  transaction.commit();
  for (const auto& file : own_files) {
    std::error_code ec;
    fs::remove_all(file, ec);  // best effort: the runs are gone; a left file is only space
  }
}

std::string defaultDatabasePath() {
  if (const char* explicit_path = std::getenv("DISTILL_WORKBENCH_DB"); explicit_path && *explicit_path)
    return explicit_path;
  fs::path base;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home)
    base = fs::path(home) / ".local" / "share";
  else
    base = fs::current_path();
  return (base / "distill-workbench" / "runs.db").string();
}

}  // namespace distill
