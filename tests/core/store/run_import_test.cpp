// Importing runs from other database files (core/store/run_import.h): everything a run has
// comes across by UUID, a second import changes nothing, a run that moved on in its own file
// is brought up to date, a file being written is read without blocking its writer, and the
// destination's own runs are never overwritten by a copy.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/store/run_import.h"
#include "core/store/run_store.h"
#include "support/read_only_file.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace distill {
namespace {

using testing::TempDir;

GeneratedText sample(int64_t step, const std::string& completion) {
  GeneratedText text;
  text.step = step;
  text.epoch = 1.0;
  text.wall_time = 1000.0 + static_cast<double>(step);
  text.phase = "student";
  text.purpose = "eval";
  text.role = "student";
  text.decoding = "greedy";
  text.prompt = "the cat";
  text.completion = completion;
  return text;
}

std::vector<MetricPoint> points(const std::string& key, int64_t from, int64_t to) {
  std::vector<MetricPoint> out;
  for (int64_t step = from; step < to; ++step)
    out.push_back(MetricPoint{key, step, static_cast<double>(step) / 10.0, 1000.0 + static_cast<double>(step), 0.5 + static_cast<double>(step)});
  return out;
}

// A task's database: one finished run with everything, and one still running.
struct Source {
  std::string path;
  int64_t finished = 0;
  int64_t running = 0;
  std::string checkpoint;
};

Source writeSource(const fs::path& folder) {
  Source source;
  fs::create_directories(folder);
  source.path = (folder / "runs.db").string();
  RunStore store(source.path);
  source.finished = store.createRun(NewRun{"sweep/0 temperature=2", "seed: 0\n", {{"distill.temperature", "2"}, {"seed", "0"}}, std::nullopt});
  store.setEnvironment(source.finished, {{"host", "node1"}, {"device", "cpu"}});
  store.appendMetrics(source.finished, points("eval/agreement", 0, 5));
  store.appendMetrics(source.finished, points("train/loss", 0, 10));
  store.appendGenerated(source.finished, {sample(4, " sat."), sample(4, " ran.")});
  const auto run = store.getRun(source.finished);
  fs::create_directories(run->files_dir);
  source.checkpoint = (fs::path(run->files_dir) / "student.pt").string();
  std::ofstream(source.checkpoint) << "weights";
  store.addOwnedCheckpoint(source.finished, CheckpointInfo{"student", source.checkpoint, 10, 1.0});
  store.addTag(source.finished, "sweep:s-1");
  store.addTag(source.finished, "distill.temperature=2");
  store.finishRun(source.finished, RunStatus::Completed);
  source.running = store.createRun(NewRun{"sweep/1 temperature=4", "seed: 1\n", {{"distill.temperature", "4"}}, std::nullopt});
  store.appendMetrics(source.running, points("train/loss", 0, 3));
  return source;
}

// Every row of the destination's tables, to see that nothing changed.
std::string dump(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  std::string text;
  for (const char* table : {"runs", "params", "environment", "metric_keys", "metric_points", "checkpoints", "tags", "generated_texts"}) {
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db, (std::string("SELECT * FROM ") + table + " ORDER BY rowid").c_str(), -1, &statement, nullptr);
    while (sqlite3_step(statement) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(statement); ++c) {
        const auto* value = sqlite3_column_text(statement, c);
        text += (value ? reinterpret_cast<const char*>(value) : "NULL") + std::string("|");
      }
      text += "\n";
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return text;
}

int64_t destinationId(RunStore& store, const std::string& uuid) {
  for (const auto& run : store.listRuns())
    if (run.uuid == uuid) return run.id;
  return 0;
}

TEST(RunImport, BringsEverythingOfARunAcrossByItsUuid) {
  TempDir dir;
  const Source source = writeSource(dir.path() / "sweep" / "tasks" / "a");
  const std::string main_db = dir.file("main.db");
  {
    RunStore main(main_db);  // a run of its own first, so the ids differ from the source's
    main.createRun(NewRun{"local run", "seed: 5\n", {}, std::nullopt});
  }
  const ImportReport report = importRuns(main_db, {(dir.path() / "sweep").string()}, {"imported"});
  ASSERT_EQ(report.databases.size(), 1u);
  EXPECT_TRUE(report.problems.empty());
  EXPECT_EQ(report.count(ImportedRun::Action::Added), 2);

  RunStore source_store(source.path, RunStore::Mode::ReadOnly);
  const RunRecord original = *source_store.getRun(source.finished);
  RunStore main(main_db);
  const int64_t id = destinationId(main, original.uuid);
  ASSERT_GT(id, 0);
  EXPECT_NE(id, source.finished);
  const RunRecord copy = *main.getRun(id);
  EXPECT_EQ(copy.name, original.name);
  EXPECT_EQ(copy.status, RunStatus::Completed);
  EXPECT_EQ(copy.created_at, original.created_at);
  EXPECT_EQ(copy.finished_at, original.finished_at);
  EXPECT_EQ(copy.config_yaml, original.config_yaml);
  EXPECT_EQ(copy.params, original.params);
  EXPECT_EQ(copy.environment, original.environment);
  EXPECT_EQ(copy.final_metrics, original.final_metrics);
  EXPECT_EQ(copy.tags, (std::vector<std::string>{"distill.temperature=2", "imported", "sweep:s-1"}));
  EXPECT_EQ(copy.files_dir, original.files_dir);  // the task's folder, absolute
  EXPECT_EQ(main.metrics(id).size(), source_store.metrics(source.finished).size());
  EXPECT_EQ(main.metrics(id, "train/loss").back().value, 9.5);
  const auto texts = main.generatedTexts(id);
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[1].completion, " ran.");
  const auto checkpoints = main.checkpoints(id);
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].path, source.checkpoint);
  EXPECT_TRUE(fs::path(checkpoints[0].path).is_absolute());
  // The owner tag still says it is this run's own: reading it through the main database works.
  EXPECT_EQ(main.checkpointFile(id, "student"), source.checkpoint);
  // Deleting the copy leaves the task's files alone.
  main.deleteRun(id);
  EXPECT_TRUE(fs::exists(source.checkpoint));
}

TEST(RunImport, ASecondImportChangesNothing) {
  TempDir dir;
  writeSource(dir.path() / "a");
  writeSource(dir.path() / "b");
  const std::string main_db = dir.file("main.db");
  const ImportReport first = importRuns(main_db, {dir.path().string()});
  EXPECT_EQ(first.count(ImportedRun::Action::Added), 4);
  const std::string before = dump(main_db);
  const ImportReport second = importRuns(main_db, {dir.file("a/runs.db"), dir.path().string()});
  EXPECT_EQ(second.databases.size(), 2u);  // a file given twice is read once
  EXPECT_EQ(second.count(ImportedRun::Action::Unchanged), 4);
  EXPECT_EQ(dump(main_db), before);
}

TEST(RunImport, ARunThatMovedOnIsUpdatedAndKeepsWhatWasDoneToTheCopy) {
  TempDir dir;
  const Source source = writeSource(dir.path() / "task");
  const std::string main_db = dir.file("main.db");
  importRuns(main_db, {source.path});
  std::string uuid;
  {
    RunStore main(main_db);
    RunStore task(source.path, RunStore::Mode::ReadOnly);
    uuid = task.getRun(source.running)->uuid;
    const int64_t id = destinationId(main, uuid);
    EXPECT_EQ(main.getRun(id)->status, RunStatus::Running);  // this process holds no lock, but its pid lives
    main.setNotes(id, "looks good");
    main.addTag(id, "mine");
  }
  {
    RunStore task(source.path);
    task.appendMetrics(source.running, points("train/loss", 3, 8));
    task.finishRun(source.running, RunStatus::Completed);
  }
  const ImportReport again = importRuns(main_db, {source.path});
  EXPECT_EQ(again.count(ImportedRun::Action::Updated), 1);
  EXPECT_EQ(again.count(ImportedRun::Action::Unchanged), 1);
  RunStore main(main_db);
  const int64_t id = destinationId(main, uuid);
  const RunRecord copy = *main.getRun(id);
  EXPECT_EQ(copy.status, RunStatus::Completed);
  EXPECT_FALSE(copy.finished_at.empty());
  EXPECT_EQ(main.metrics(id, "train/loss").size(), 8u);
  EXPECT_EQ(copy.notes, "looks good");
  EXPECT_NE(std::find(copy.tags.begin(), copy.tags.end(), "mine"), copy.tags.end());
  EXPECT_EQ(importRuns(main_db, {source.path}).count(ImportedRun::Action::Unchanged), 2);
}

TEST(RunImport, ReadsADatabaseBeingWrittenWithoutBlockingItsWriter) {
  TempDir dir;
  const Source source = writeSource(dir.path() / "task");
  // The worker, mid-transaction: it holds the write lock with points not yet committed.
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(source.path.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer, "BEGIN IMMEDIATE; INSERT INTO metric_points SELECT run_id, key_id, step + 100, epoch, "
                                 "wall_time, value FROM metric_points;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  const auto begin = std::chrono::steady_clock::now();
  const ImportReport report = importRuns(dir.file("main.db"), {source.path});
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));  // no busy wait on the writer
  EXPECT_EQ(report.count(ImportedRun::Action::Added), 2);
  EXPECT_TRUE(report.problems.empty());
  // The writer commits as if no one had read.
  EXPECT_EQ(sqlite3_exec(writer, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(writer);
  RunStore main(dir.file("main.db"));
  RunStore task(source.path, RunStore::Mode::ReadOnly);
  const int64_t id = destinationId(main, task.getRun(source.finished)->uuid);
  EXPECT_EQ(main.metrics(id).size(), 15u);  // what was committed when it read
  EXPECT_EQ(importRuns(dir.file("main.db"), {source.path}).count(ImportedRun::Action::Updated), 2);
  EXPECT_EQ(main.metrics(id).size(), 30u);
}

TEST(RunImport, ReadsADatabaseInAFolderItCannotWrite) {
  TempDir dir;
  const Source source = writeSource(dir.path() / "task");  // closed: no -wal file left
  ASSERT_FALSE(fs::exists(source.path + "-wal"));
  testing::ReadOnlyFile locked((dir.path() / "task").string());
  if (!locked.ok()) GTEST_SKIP() << "cannot make the folder read-only here";
  const ImportReport report = importRuns(dir.file("main.db"), {source.path});
  EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  EXPECT_EQ(report.count(ImportedRun::Action::Added), 2);
}

TEST(RunImport, NeverOverwritesTheDestinationsOwnRunsAndSkipsItself) {
  TempDir dir;
  const Source source = writeSource(dir.path() / "main");
  fs::copy_file(source.path, dir.file("copy.db"));
  const ImportReport report = importRuns(source.path, {dir.path().string()});
  EXPECT_EQ(report.databases, (std::vector<std::string>{dir.file("copy.db")}));  // not itself
  EXPECT_EQ(report.count(ImportedRun::Action::Skipped), 2);
  EXPECT_NE(report.runs[0].note.find("of this database itself"), std::string::npos);
}

TEST(RunImport, LinksAStudentToTheImportedRunWhoseTeacherFileItRead) {
  TempDir dir;
  const Source teacher = writeSource(dir.path() / "t");
  const std::string teacher_file = teacher.checkpoint;  // a file in the teacher run's folder
  const std::string student_db = dir.file("s/runs.db");
  int64_t student = 0;
  {
    RunStore store(student_db);
    student = store.createRun(NewRun{"student", "seed: 0\n", {{"teacher.source", teacher_file}}, std::nullopt});
    store.finishRun(student, RunStatus::Completed);
  }
  const std::string main_db = dir.file("main.db");
  // The student's database first: its teacher arrives later in the same import.
  importRuns(main_db, {student_db, teacher.path});
  RunStore main(main_db);
  RunStore s(student_db, RunStore::Mode::ReadOnly), t(teacher.path, RunStore::Mode::ReadOnly);
  const auto copy = main.getRun(destinationId(main, s.getRun(student)->uuid));
  ASSERT_TRUE(copy->teacher_run_id);
  EXPECT_EQ(*copy->teacher_run_id, destinationId(main, t.getRun(teacher.finished)->uuid));
}

TEST(RunImport, NamesAPathThatIsNotThereAndReportsFilesItCannotRead) {
  TempDir dir;
  EXPECT_THROW(importRuns(dir.file("main.db"), {dir.file("missing")}), ConfigError);
  std::ofstream(dir.file("junk.db")) << "not a database at all, just text that is long enough to be read as a header";
  const ImportReport report = importRuns(dir.file("main.db"), {dir.file("junk.db")});
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("junk.db"), std::string::npos);
}

}  // namespace
}  // namespace distill
