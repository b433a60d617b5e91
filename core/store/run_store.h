// The run store: one SQLite file holding every run, its config, environment, metric points,
// checkpoints, tags and notes. The schema is documented in docs/database.md.
//
// Thread contract: a RunStore owns one connection and is used by one thread at a time. The
// trainer's thread writes through its own RunStore (via StoreRecorder, core/train/store_recorder.h); the GUI reads through
// another. WAL mode and a busy timeout let both, and other processes, share the file.
// Errors come back as StoreError carrying SQLite's message; nothing here talks to the user.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/run_records.h"

struct sqlite3;
struct sqlite3_stmt;

namespace distill {

enum class RunStatus { Running, Completed, Stopped, Failed, Interrupted };
const char* statusName(RunStatus status);
RunStatus statusFromName(const std::string& name);

struct NewRun {
  std::string name;
  std::string config_yaml;
  std::map<std::string, std::string> params;  // flattened config
  std::optional<int64_t> teacher_run_id;       // lineage when the teacher came from a run
};

struct RunRecord {
  int64_t id = 0;
  std::string uuid;  // unique across databases; names the run's lock and owns its checkpoints
  std::string name;
  RunStatus status = RunStatus::Running;
  std::string created_at;   // ISO 8601, UTC
  std::string finished_at;  // empty while running
  double duration_s = 0.0;
  std::string error;
  std::string notes;
  bool starred = false;
  std::optional<int64_t> teacher_run_id;
  std::string config_yaml;
  // The run's own folder (absolute): <database stem>.files/run-<id>-<uuid8>/, or for runs
  // stored before schema 4, the shared <database folder>/checkpoints/run-<id>/ where they are.
  std::string files_dir;
  bool legacy_files = false;  // stored before schema 4: files_dir is the shared legacy folder
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> environment;
  std::vector<std::string> tags;
  std::map<std::string, double> final_metrics;  // last value of each metric key
};

struct CheckpointRecord {
  int64_t id = 0;
  std::string role;
  std::string path;  // absolute (stored relative to the database's folder when inside it)
  int64_t step = 0;
  double epoch = 0.0;
  std::string created_at;
};

// One metric of one run as columns, in step order (equal steps in write order): what charts
// draw, without a key string per point.
struct MetricSeries {
  std::vector<int64_t> steps;
  std::vector<double> epochs;
  std::vector<double> wall_times;
  std::vector<double> values;
};

// Which of a run's generated texts to read; an empty field matches any value.
struct GeneratedFilter {
  std::string purpose;          // eval | train
  std::string phase;            // teacher | student
  std::optional<int64_t> step;  // the step within its phase
  std::string role;             // teacher | student: the model that wrote it
};

// A point of a run at which texts were written: an evaluation (purpose eval) or a training
// step (purpose train). Steps count within their phase, so (phase, step) names the point.
struct GeneratedPoint {
  std::string phase;
  int64_t step = 0;
  double epoch = 0.0;
  int64_t texts = 0;  // how many texts were written there
};

class RunStore {
 public:
  // 1: the first schema. 2: adds metric_series, the packed copy of a finished run's points.
  // 3: metric_points without foreign-key clauses (checked per batch; a trigger deletes).
  // 4: runs.uuid and runs.files_dir: each run's files in a folder no other database claims.
  // 5: generated_texts, the texts a language-model run's models wrote.
  static constexpr int kSchemaVersion = 5;
  enum class Mode { ReadWrite, ReadOnly };

  // Opens (creating the file and its folder when missing) and migrates to kSchemaVersion.
  // Throws StoreError: unwritable path, not a database, or written by a newer workbench.
  explicit RunStore(const std::string& path, Mode mode = Mode::ReadWrite);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  const std::string& path() const { return path_; }
  // The database's folder, absolute: stored relative paths resolve against it.
  const std::string& folder() const { return folder_; }
  int schemaVersion() const;
  // True when the file could only be opened for reading (no write permission on it or on its
  // folder, or a read-only medium): browsing works, anything that writes throws StoreError.
  bool readOnly() const { return read_only_; }
  // Why the database is read-only ("the folder /x is read-only"); empty when it is writable.
  const std::string& readOnlyReason() const { return read_only_reason_; }
  // Throws StoreError saying the database is read-only and what to do; for callers that are
  // about to start a run and should refuse before loading anything.
  void requireWritable() const;

  int64_t createRun(const NewRun& run);
  void setEnvironment(int64_t run_id, const std::map<std::string, std::string>& environment);
  void finishRun(int64_t run_id, RunStatus status, const std::string& error = "");
  // Appends points in one transaction. Throws StoreError for a run id that is not in the store.
  void appendMetrics(int64_t run_id, const std::vector<MetricPoint>& points);
  void addCheckpoint(int64_t run_id, const CheckpointInfo& checkpoint);
  // Appends texts the run's models wrote, in one transaction. Invalid UTF-8 in any text is
  // replaced by U+FFFD (readers print and export them as JSON); a wall_time of 0 is stored as
  // now. Throws StoreError for a run id that is not in the store or a read-only database.
  void appendGenerated(int64_t run_id, const std::vector<GeneratedText>& texts);

  // Runs still marked `running` whose process is provably gone (their lock is free, or, for
  // runs without a lock file, their pid is gone on this host) become `interrupted`, or
  // `failed` with the reason their process left in the lock file (a full disk); they end at
  // their last sign of life. Best effort: a full, busy or read-only file is left as it is
  // (readers show such runs as interrupted anyway). Returns how many it marked.
  int markInterruptedRuns();
  // Whether a run marked `running` is driven by a live process. Runs with a lock file are
  // decided by the lock; older runs by host and pid (another host's: cannot tell, true).
  bool isRunAlive(int64_t run_id);
  // The lock file a run's driving process holds (<database stem>.files/locks/<uuid>.lock).
  std::string lockPath(const std::string& run_uuid) const;
  // Marks a run `running` again in this process (for a resume), clearing its end.
  void reopenRun(int64_t run_id);
  // Removes the run's metric points and generated texts written after `wall_time` (stale once
  // a run resumes from an earlier checkpoint); returns how many points.
  int64_t deletePointsAfter(int64_t run_id, double wall_time);

  std::vector<RunRecord> listRuns();  // newest first; params/environment not filled
  // Fills the params of listed runs in one query (for filtering and the run browser's columns).
  void loadParams(std::vector<RunRecord>& runs);
  // The best value of one metric key for every run that has it: max or min over its points.
  std::map<int64_t, double> bestValues(const std::string& key, bool higher_is_better);
  std::optional<RunRecord> getRun(int64_t run_id);
  std::vector<std::string> metricKeys(int64_t run_id);
  // Points ordered by key name, then step, then write order; one key when `key` is given.
  std::vector<MetricPoint> metrics(int64_t run_id, const std::string& key = "");
  // Every metric of a run by key, as columns (the compare view's 100,000-point runs). A run
  // that is not running is read from its packed copy in metric_series (written when it
  // finished, or here on first read when the file is writable); a running run from its rows.
  std::map<std::string, MetricSeries> metricSeries(int64_t run_id);
  // Whether a run's points are held packed (metric_series) as well as row by row.
  bool hasPackedSeries(int64_t run_id);
  // The run's generated texts that match `filter`, in the order they were written. None for a
  // database browsed at a schema before 5 (it holds none).
  std::vector<GeneratedText> generatedTexts(int64_t run_id, const GeneratedFilter& filter = {});
  // The points at which the run wrote texts of `purpose` (empty: any), in the order written.
  std::vector<GeneratedPoint> generatedPoints(int64_t run_id, const std::string& purpose = "");
  // The run's checkpoints with absolute paths. Paths stored before schema 4 (relative to the
  // working directory of the run) are looked for beside the database, then where they were.
  std::vector<CheckpointRecord> checkpoints(int64_t run_id);
  // The run's checkpoint file of `role`, checked to be the run's own: its owner tag names the
  // run's UUID and the role (runs stored before schema 4: the file was not rewritten after the
  // run stored it). Empty when the run has no such checkpoint; throws StoreError naming the
  // run and the file when the file is missing or belongs to another run or database.
  std::string checkpointFile(int64_t run_id, const std::string& role);
  // Writes the owner tag beside a checkpoint the run just wrote, then records it.
  void addOwnedCheckpoint(int64_t run_id, const CheckpointInfo& checkpoint);

  void rename(int64_t run_id, const std::string& name);
  void setNotes(int64_t run_id, const std::string& notes);
  void setStarred(int64_t run_id, bool starred);
  void addTag(int64_t run_id, const std::string& tag);
  void removeTag(int64_t run_id, const std::string& tag);
  // Deletes the run and then its own folder (checkpoints, lock). Folders of runs stored before
  // schema 4 (shared checkpoints/run-<id>/) are left in place: they may be another database's.
  void deleteRun(int64_t run_id);
  // Several runs in one transaction: all go, or (on an error) none.
  void deleteRuns(const std::vector<int64_t>& run_ids);

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  struct Finalizer {
    void operator()(sqlite3_stmt* statement) const;
  };
  void exec(const std::string& sql);
  void migrate();
  std::string runColumns() const;
  RunRecord readRunRow(const void* statement) const;
  // Reports a `running` run whose process is provably gone as interrupted (in memory).
  void applyLiveness(RunRecord& run);
  struct Liveness {
    bool dead = false;
    std::string reason;      // recorded by the process (a full disk), else empty
    double last_alive = 0.0; // unix time of its last sign of life
  };
  Liveness liveness(int64_t run_id, const std::string& uuid, const std::string& host, int64_t pid);
  std::string resolveStoredPath(const std::string& stored, int64_t run_id) const;
  std::string storablePath(const std::string& path) const;
  void requireRun(int64_t run_id);
  int64_t metricKeyId(const std::string& key);
  std::map<std::string, MetricSeries> seriesFromRows(int64_t run_id);
  bool readPackedSeries(int64_t run_id, std::map<std::string, MetricSeries>& series);
  // Writes the packed copy of a run that is no longer running; best effort (a busy, full or
  // read-only file leaves the rows as the only copy, which every reader falls back to).
  void packSeries(int64_t run_id, const std::map<std::string, MetricSeries>& series);
  void dropPackedSeries(int64_t run_id);

  std::string path_;
  std::string folder_;
  std::string files_root_;  // <folder>/<database stem>.files
  bool read_only_ = false;
  std::string read_only_reason_;
  bool has_uuid_ = false;  // schema 4 (a read-only older file is browsed without it)
  bool packed_table_ = false;  // metric_series exists (a read-only version-1 file has none)
  bool texts_table_ = false;   // generated_texts exists (schema 5; a read-only older file has none)
  std::unique_ptr<sqlite3, Closer> db_;
  // appendMetrics' multi-row INSERTs, prepared once (declared after db_: finalized first):
  // full ones, and the last one for a batch's remainder of insert_rest_rows_ rows.
  std::unique_ptr<sqlite3_stmt, Finalizer> insert_points_;
  std::unique_ptr<sqlite3_stmt, Finalizer> insert_rest_;
  size_t insert_rest_rows_ = 0;
  // Metric key ids by name; emptied by any rollback (a key inserted in it is gone again).
  std::map<std::string, int64_t> key_ids_;
};

// Where the database lives by default: $XDG_DATA_HOME/distill-workbench/runs.db
// (~/.local/share/distill-workbench/runs.db); DISTILL_WORKBENCH_DB overrides it.
std::string defaultDatabasePath();

}  // namespace distill
