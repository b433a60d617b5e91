// Merging runs from other database files into one (`distill import`, `distill sweep import`):
// a sweep's tasks each write a database of their own (SQLite is not safe with concurrent
// writers over network file systems), and the researcher browses and compares them in one.
//
// Runs are matched by their UUID, so an import is idempotent: a run already imported and not
// changed since is left as it is (a second import changes nothing), and a run that changed in
// its own database (it was still running, or was resumed) is brought up to date: its status,
// config, environment, params, metric points, generated texts and checkpoints are replaced by
// the source's. What the researcher did to the imported copy stays: its name, notes, star and
// tags (the source's tags are added). Each source file is read read-only and without blocking
// the process that may still be writing it (WAL readers never block the writer), and imported
// in one transaction of the destination.
//
// The imported copy points at the source's files: its run folder (`files_dir`, absolute) and
// its checkpoints (absolute paths), which stay in the sweep's task folder and are checked
// against their owner tags as usual (export-model, fidelity and teacher reuse work from the
// main database). Deleting the copy never deletes those files (the store removes only folders
// inside its own `.files` folder). Lineage: a run whose teacher was another imported run
// (teacher_run_id in its database, or teacher.source naming a file in another imported run's
// folder, as a sweep's shared teacher does) gets that run's id in the destination.
//
// Thread contract: plain functions; each opens its own connections. Other processes may read
// and write both files meanwhile.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace distill {

struct ImportedRun {
  enum class Action { Added, Updated, Unchanged, Skipped };
  Action action = Action::Unchanged;
  std::string source;      // the database file it came from
  int64_t source_id = 0;   // its id there
  int64_t run_id = 0;      // its id in the destination (0 when skipped)
  std::string uuid;
  std::string name;
  std::string status;      // as imported (a run whose process is gone reads as interrupted)
  std::string note;        // why it was skipped
};

struct ImportReport {
  std::vector<ImportedRun> runs;
  std::vector<std::string> databases;  // the files read
  std::vector<std::string> problems;   // "FILE: why it was not read" (e.g. not a workbench database)
  int count(ImportedRun::Action action) const;
};

// The database files named by `paths`, in their order: each file as given, and each folder's
// *.db files at any depth (not inside a run's `.files` folder) in name order; each once.
// Throws ConfigError naming a path that does not exist.
std::vector<std::string> findRunDatabases(const std::vector<std::string>& paths);

// Imports every run of every database under `paths` (findRunDatabases) into `destination`
// (created when missing), adding `extra_tags` to each. The destination itself is skipped when
// it is among them. Throws StoreError when the destination cannot be written; a source that
// cannot be read is reported in `problems` and the others are imported.
ImportReport importRuns(const std::string& destination, const std::vector<std::string>& paths,
                        const std::vector<std::string>& extra_tags = {});

const char* importActionName(ImportedRun::Action action);

}  // namespace distill
