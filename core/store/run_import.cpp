#include "core/store/run_import.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/store/run_store.h"
#include "core/store/sqlite_statement.h"

namespace fs = std::filesystem;

namespace distill {
namespace {

using sqlite::Statement;
using sqlite::Transaction;

void exec(sqlite3* db, const std::string& sql) { sqlite::execute(db, sql); }

// A file name as an SQLite URI ('?', '#' and '%' would end or escape it).
std::string uri(const std::string& path) {
  std::string text = "file:";
  for (const char c : fs::absolute(path).string()) {
    if (c == '?' || c == '#' || c == '%') {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", static_cast<unsigned char>(c));
      text += escaped;
    } else {
      text += c;
    }
  }
  return text;
}

// What changes when a run moves on in its own database: compared between the source and the
// imported copy to decide whether there is anything to update.
std::string fingerprint(sqlite3* db, const std::string& schema, int64_t run_id, const std::string& status, bool texts) {
  std::string print = status + "|";
  auto add = [&](const std::string& sql) {
    Statement query(db, sql);
    query.bind(1, run_id);
    if (query.step())
      for (int c = 0; c < 4; ++c) print += query.text(c) + "|";
  };
  add("SELECT error, config_yaml, '', '' FROM " + schema + ".runs WHERE id = ?1");
  add("SELECT count(*), max(wall_time), sum(step), max(rowid) > 0 FROM " + schema + ".metric_points WHERE run_id = ?1");
  add("SELECT count(*), sum(step), max(epoch), group_concat(role) FROM " + schema + ".checkpoints WHERE run_id = ?1");
  add("SELECT count(*), group_concat(key || '=' || value, ';'), '', '' FROM (SELECT key, value FROM " + schema +
      ".environment WHERE run_id = ?1 ORDER BY key)");
  add("SELECT count(*), group_concat(key || '=' || value, ';'), '', '' FROM (SELECT key, value FROM " + schema +
      ".params WHERE run_id = ?1 ORDER BY key)");
  if (texts) add("SELECT count(*), max(wall_time), '', '' FROM " + schema + ".generated_texts WHERE run_id = ?1");
  return print;
}

bool hasTable(sqlite3* db, const std::string& schema, const std::string& table) {
  Statement query(db, "SELECT 1 FROM " + schema + ".sqlite_schema WHERE type = 'table' AND name = ?1");
  query.bind(1, table);
  return query.step();
}

struct Importer {
  sqlite3* db;
  std::vector<std::string> extra_tags;
  std::map<std::string, int64_t> imported;  // uuid -> destination id, of the runs seen

  // One source run (listed through a read-only RunStore, so its status says whether its
  // process is gone) into the destination; `src` is attached.
  ImportedRun importRun(RunStore& source, const RunRecord& run, bool src_texts, bool dest_texts) {
    ImportedRun result;
    result.source = source.path();
    result.source_id = run.id;
    result.uuid = run.uuid;
    result.name = run.name;
    result.status = statusName(run.status);
    std::optional<int64_t> existing;
    std::string existing_files;
    {
      Statement find(db, "SELECT id, files_dir FROM main.runs WHERE uuid = ?1");
      find.bind(1, run.uuid);
      if (find.step()) existing = find.integer(0), existing_files = find.text(1);
    }
    if (existing && !fs::path(existing_files).is_absolute()) {
      // The destination's own run (the source is a copy of it): never overwritten by a copy.
      result.action = ImportedRun::Action::Skipped;
      result.run_id = *existing;
      result.note = "run " + std::to_string(*existing) + " of this database itself";
      return result;
    }
    if (existing) {
      result.run_id = *existing;
      const bool texts = src_texts && dest_texts;
      std::string destination_status;
      {
        Statement status(db, "SELECT status FROM main.runs WHERE id = ?1");
        status.bind(1, *existing);
        if (status.step()) destination_status = status.text(0);
      }
      const bool same = fingerprint(db, "src", run.id, result.status, texts) ==
                        fingerprint(db, "main", *existing, destination_status, texts);
      if (same) {
        result.action = addTags(*existing, run.id) > 0 ? ImportedRun::Action::Updated : ImportedRun::Action::Unchanged;
        imported[run.uuid] = *existing;
        return result;
      }
      result.action = ImportedRun::Action::Updated;
      for (const char* table : {"params", "environment", "metric_points", "metric_series", "checkpoints"})
        Statement(db, std::string("DELETE FROM main.") + table + " WHERE run_id = ?1").bind(1, *existing).run();
      if (dest_texts) Statement(db, "DELETE FROM main.generated_texts WHERE run_id = ?1").bind(1, *existing).run();
    } else {
      result.action = ImportedRun::Action::Added;
    }

    // The run's row: its folder and times as the source has them; the status, error and
    // duration as read through the source's store (a dead process's run reads as interrupted,
    // ending at its last sign of life).
    Statement row(db, "SELECT name, created_at, finished_at, notes, starred, config_yaml, host, pid, files_dir FROM src.runs WHERE id = ?1");
    row.bind(1, run.id);
    if (!row.step()) throw StoreError("run " + std::to_string(run.id) + " vanished from " + source.path());
    const std::string files_dir =
        row.text(8).empty() ? std::string() : (fs::path(source.folder()) / row.text(8)).lexically_normal().string();
    const bool running = run.status == RunStatus::Running;
    std::string finished_at = row.isNull(2) ? std::string() : row.text(2);
    const bool ended_here = !running && finished_at.empty();  // interrupted: read as ended
    if (!existing) {
      Statement insert(db,
                 "INSERT INTO main.runs (name, status, created_at, finished_at, duration_s, error, notes, starred, "
                 "config_yaml, host, pid, uuid, files_dir) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
      insert.bind(1, row.text(0)).bind(2, result.status).bind(3, row.text(1));
      if (finished_at.empty()) insert.bindNull(4); else insert.bind(4, finished_at);
      if (running) insert.bindNull(5); else insert.bind(5, run.duration_s);
      insert.bind(6, run.error).bind(7, row.text(3)).bind(8, row.integer(4)).bind(9, row.text(5));
      insert.bind(10, row.text(6)).bind(11, row.integer(7)).bind(12, run.uuid).bind(13, files_dir);
      insert.run();
      result.run_id = sqlite3_last_insert_rowid(db);
    } else {
      Statement update(db,
                 "UPDATE main.runs SET status = ?1, finished_at = ?2, duration_s = ?3, error = ?4, config_yaml = ?5, "
                 "host = ?6, pid = ?7, files_dir = ?8 WHERE id = ?9");
      update.bind(1, result.status);
      if (finished_at.empty()) update.bindNull(2); else update.bind(2, finished_at);
      if (running) update.bindNull(3); else update.bind(3, run.duration_s);
      update.bind(4, run.error).bind(5, row.text(5)).bind(6, row.text(6)).bind(7, row.integer(7)).bind(8, files_dir);
      update.bind(9, result.run_id);
      update.run();
    }
    if (ended_here)
      Statement(db, "UPDATE main.runs SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(created_at) + coalesce(duration_s, 0) / 86400.0) WHERE id = ?1")
          .bind(1, result.run_id)
          .run();

    const int64_t to = result.run_id, from = run.id;
    Statement(db, "INSERT INTO main.params (run_id, key, value) SELECT ?1, key, value FROM src.params WHERE run_id = ?2")
        .bind(1, to).bind(2, from).run();
    Statement(db, "INSERT INTO main.environment (run_id, key, value) SELECT ?1, key, value FROM src.environment WHERE run_id = ?2")
        .bind(1, to).bind(2, from).run();
    Statement(db, "INSERT OR IGNORE INTO main.metric_keys (name) SELECT name FROM src.metric_keys WHERE id IN "
            "(SELECT DISTINCT key_id FROM src.metric_points WHERE run_id = ?1)")
        .bind(1, from).run();
    // In the source's write order (rowid), which orders equal steps.
    Statement(db, "INSERT INTO main.metric_points (run_id, key_id, step, epoch, wall_time, value) "
            "SELECT ?1, mk.id, p.step, p.epoch, p.wall_time, p.value FROM src.metric_points p "
            "JOIN src.metric_keys sk ON sk.id = p.key_id JOIN main.metric_keys mk ON mk.name = sk.name "
            "WHERE p.run_id = ?2 ORDER BY p.rowid")
        .bind(1, to).bind(2, from).run();
    // Checkpoints with absolute paths: the files stay in the source's folder.
    Statement checkpoint(db, "INSERT INTO main.checkpoints (run_id, role, path, step, epoch, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    for (const auto& c : source.checkpoints(from))
      checkpoint.bind(1, to).bind(2, c.role).bind(3, c.path).bind(4, c.step).bind(5, c.epoch).bind(6, c.created_at).run();
    if (src_texts && dest_texts)
      Statement(db, "INSERT INTO main.generated_texts (run_id, step, epoch, wall_time, phase, purpose, role, decoding, "
              "prompt_index, prompt, completion, tokens_json) SELECT ?1, step, epoch, wall_time, phase, purpose, role, "
              "decoding, prompt_index, prompt, completion, tokens_json FROM src.generated_texts WHERE run_id = ?2 ORDER BY id")
          .bind(1, to).bind(2, from).run();
    addTags(to, from);
    imported[run.uuid] = to;
    return result;
  }

  int64_t addTags(int64_t to, int64_t from) {
    int64_t added = Statement(db, "INSERT OR IGNORE INTO main.tags (run_id, tag) SELECT ?1, tag FROM src.tags WHERE run_id = ?2")
                        .bind(1, to).bind(2, from).run();
    Statement tag(db, "INSERT OR IGNORE INTO main.tags (run_id, tag) VALUES (?1, ?2)");
    for (const auto& extra : extra_tags) added += tag.bind(1, to).bind(2, extra).run();
    return added;
  }

  // Lineage within one source: its teacher_run_id, mapped through the run's UUID.
  void sourceLineage() {
    Statement pairs(db, "SELECT r.uuid, t.uuid FROM src.runs r JOIN src.runs t ON t.id = r.teacher_run_id");
    std::vector<std::pair<std::string, std::string>> links;
    while (pairs.step()) links.emplace_back(pairs.text(0), pairs.text(1));
    for (const auto& [student, teacher] : links) setLineage(student, teacher);
  }

  void setLineage(const std::string& student_uuid, const std::string& teacher_uuid) {
    const auto student = imported.find(student_uuid);
    Statement find(db, "SELECT id FROM main.runs WHERE uuid = ?1");
    find.bind(1, teacher_uuid);
    if (student == imported.end() || !find.step()) return;
    Statement(db, "UPDATE main.runs SET teacher_run_id = ?1 WHERE id = ?2 AND teacher_run_id IS NULL")
        .bind(1, find.integer(0)).bind(2, student->second).run();
  }

  // Across sources: teacher.source naming a file inside another imported run's folder (a
  // sweep's shared teacher: each task has its own database, so the link is the file).
  std::set<int64_t> fileLineage() {
    std::vector<std::pair<int64_t, std::string>> folders;  // imported runs' absolute folders
    {
      Statement select(db, "SELECT id, files_dir FROM main.runs WHERE files_dir LIKE '/%'");
      while (select.step()) folders.emplace_back(select.integer(0), select.text(1));
    }
    std::set<int64_t> linked;
    for (const auto& [uuid, id] : imported) {
      Statement source(db, "SELECT value FROM main.params WHERE run_id = ?1 AND key = 'teacher.source'");
      source.bind(1, id);
      if (!source.step()) continue;
      const std::string file = source.text(0);
      if (file.empty() || file == "train" || file.rfind("run:", 0) == 0 || !fs::path(file).is_absolute()) continue;
      for (const auto& [teacher_id, folder] : folders) {
        if (teacher_id == id || file.rfind(folder + "/", 0) != 0) continue;
        if (Statement(db, "UPDATE main.runs SET teacher_run_id = ?1 WHERE id = ?2 AND teacher_run_id IS NULL")
                .bind(1, teacher_id).bind(2, id).run() > 0)
          linked.insert(id);
      }
    }
    return linked;
  }
};

struct Connection {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

}  // namespace

int ImportReport::count(ImportedRun::Action action) const {
  return static_cast<int>(std::count_if(runs.begin(), runs.end(), [&](const ImportedRun& r) { return r.action == action; }));
}

const char* importActionName(ImportedRun::Action action) {
  switch (action) {
    case ImportedRun::Action::Added: return "added";
    case ImportedRun::Action::Updated: return "updated";
    case ImportedRun::Action::Unchanged: return "unchanged";
    case ImportedRun::Action::Skipped: return "skipped";
  }
  return "";
}

std::vector<std::string> findRunDatabases(const std::vector<std::string>& paths) {
  std::vector<std::string> found;
  std::set<std::string> seen;
  auto add = [&](const fs::path& file) {
    const std::string path = fs::absolute(file).lexically_normal().string();
    if (seen.insert(path).second) found.push_back(path);
  };
  std::error_code ec;
  for (const auto& path : paths) {
    if (fs::is_regular_file(path, ec)) {
      add(path);
      continue;
    }
    if (!fs::is_directory(path, ec)) throw ConfigError({{"FILE", "'" + path + "': no such database file or folder"}});
    std::vector<fs::path> in_folder;
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec), end;
    for (; it != end; it.increment(ec)) {
      if (ec) break;
      const fs::path& entry = it->path();
      if (it->is_directory(ec) && entry.extension() == ".files") {
        it.disable_recursion_pending();  // a run's checkpoints and locks
        continue;
      }
      if (entry.extension() == ".db" && it->is_regular_file(ec)) in_folder.push_back(entry);
    }
    std::sort(in_folder.begin(), in_folder.end());
    for (const auto& file : in_folder) add(file);
  }
  return found;
}

ImportReport importRuns(const std::string& destination, const std::vector<std::string>& paths,
                        const std::vector<std::string>& extra_tags) {
  ImportReport report;
  const std::vector<std::string> files = findRunDatabases(paths);
  bool dest_texts = false;
  {
    RunStore store(destination);  // creates it, or brings it to the current schema
    store.requireWritable();
    dest_texts = store.schemaVersion() >= 5;
  }
  sqlite3* raw = nullptr;
  // URI names: the sources are attached read-only (mode=ro).
  const int rc = sqlite3_open_v2(destination.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, Connection> db(raw);
  if (rc != SQLITE_OK) throw StoreError(destination + ": cannot open the database (" + std::string(raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)) + ")");
  sqlite3_busy_timeout(raw, 15000);
  exec(raw, "PRAGMA foreign_keys = ON");

  Importer importer{raw, extra_tags, {}};
  std::error_code ec;
  for (const auto& file : files) {
    if (fs::equivalent(file, destination, ec)) continue;
    try {
      // Read-only, so a worker writing it is never blocked. In a folder this process cannot
      // write, the store's read-write open is the one that falls back to reading the file as
      // immutable (read-only mode needs the WAL index beside the file).
      const std::string folder = fs::path(file).parent_path().string();
      const bool folder_writable = ::access(folder.c_str(), W_OK) == 0;
      RunStore source(file, folder_writable ? RunStore::Mode::ReadOnly : RunStore::Mode::ReadWrite);
      if (source.schemaVersion() < 4) {
        report.problems.push_back(file + ": its runs have no UUIDs (schema " + std::to_string(source.schemaVersion()) +
                                  "); open it once with this workbench (distill list --db " + file + ") to upgrade it");
        continue;
      }
      std::vector<RunRecord> runs = source.listRuns();  // newest first
      std::reverse(runs.begin(), runs.end());           // imported in the order they were made
      // There, SQLite cannot make the WAL index either: with no -wal file there is no writer,
      // and the file is attached as immutable.
      const bool immutable = !folder_writable && !fs::exists(file + "-wal", ec);
      Statement(raw, "ATTACH DATABASE ?1 AS src").bind(1, uri(file) + (immutable ? "?mode=ro&immutable=1" : "?mode=ro")).run();
      try {
        const bool src_texts = hasTable(raw, "src", "generated_texts");
        Transaction transaction(raw);
        for (const auto& run : runs) report.runs.push_back(importer.importRun(source, run, src_texts, dest_texts));
        importer.sourceLineage();
        transaction.commit();
      } catch (...) {
        sqlite3_exec(raw, "DETACH DATABASE src", nullptr, nullptr, nullptr);
        throw;
      }
      exec(raw, "DETACH DATABASE src");
      report.databases.push_back(file);
    } catch (const StoreError& e) {
      report.problems.push_back(file + ": " + e.what());
    }
  }
  Transaction transaction(raw);
  const std::set<int64_t> linked = importer.fileLineage();
  for (auto& run : report.runs)  // its teacher arrived in this import: the run changed too
    if (run.action == ImportedRun::Action::Unchanged && linked.count(run.run_id)) run.action = ImportedRun::Action::Updated;
  transaction.commit();
  return report;
}

}  // namespace distill
