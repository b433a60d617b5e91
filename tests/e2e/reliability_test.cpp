// Reliability of the `distill` binary against bad files and a hostile environment: corrupt
// datasets (IDX, CIFAR), TorchScript that is not or does not fit, a database from a newer
// workbench, paths in folders that do not exist, a read-only database and a full disk.
// Each case names what it expects: the exit code and a fragment of the message that names the
// file or key. The CLI's config/IDX table is in cli_test.cpp; this one adds the rest.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/script.h>

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/data/idx.h"
#include "core/errors.h"
#include "core/models/torchscript_export.h"
#include "core/store/run_files.h"
#include "core/store/run_store.h"
#include "support/cli_support.h"
#include "support/read_only_file.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::CommandResult;
using testing::distillCli;
using testing::haveFashionMnist;
using testing::quote;
using testing::ReadOnlyFile;
using testing::TempDir;

// A tiny run on the Fashion-MNIST files: seconds, with a checkpoint per epoch.
const char* kTinyRun =
    "--set dataset.limit_train=1000 --set dataset.limit_test=200 --set teacher.epochs=1 --set train.epochs=1 "
    "--set teacher.hidden=[32] --set student.hidden=[16] --quiet";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string integrityCheck(const std::string& db) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return "cannot open";
  }
  std::string result;
  sqlite3_exec(
      raw, "PRAGMA integrity_check",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) += values[0] ? values[0] : "";
        return 0;
      },
      &result, nullptr);
  sqlite3_close(raw);
  return result;
}

void writeCifar10(const std::filesystem::path& folder, int records_per_file) {
  std::filesystem::create_directories(folder);
  std::string record(3073, '\x40');
  for (const char* name : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                           "data_batch_5.bin", "test_batch.bin"}) {
    std::ofstream out(folder / name, std::ios::binary);
    for (int i = 0; i < records_per_file; ++i) {
      record[0] = static_cast<char>(i % 10);
      out << record;
    }
  }
}

// ---- the bad-input table --------------------------------------------------------------------

struct BadFile {
  const char* name;
  std::string args;          // after `distill`; $DIR is the table's scratch folder
  int exit_code;
  std::string must_mention;  // in stderr
};
void PrintTo(const BadFile& c, std::ostream* os) { *os << c.name; }

std::string expand(std::string text, const std::string& dir) {
  for (size_t at; (at = text.find("$DIR")) != std::string::npos;) text.replace(at, 4, dir);
  return text;
}

class BadFileInput : public ::testing::TestWithParam<BadFile> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const auto& root = dir_->path();
    // CIFAR-10 folders, each with one thing wrong.
    for (const char* b : {"cifar_truncated", "cifar_empty", "cifar_label", "cifar_missing", "cifar_python"})
      writeCifar10(root / b, 20);
    std::filesystem::resize_file(root / "cifar_truncated/data_batch_3.bin", 3073 * 5 + 100);
    std::filesystem::resize_file(root / "cifar_empty/test_batch.bin", 0);
    {
      std::fstream label(root / "cifar_label/data_batch_2.bin", std::ios::binary | std::ios::in | std::ios::out);
      label.seekp(3073 * 7);
      label.put(static_cast<char>(200));
    }
    std::filesystem::remove(root / "cifar_missing/data_batch_4.bin");
    std::filesystem::create_directories(root / "cifar_python/cifar-10-batches-py");
    for (const auto& entry : std::filesystem::directory_iterator(root / "cifar_python"))
      if (entry.is_regular_file()) std::filesystem::remove(entry.path());
    // IDX: a gzip file cut in the middle of its stream, and one whose element type is int32.
    for (const char* b : {"idx_gz_cut", "idx_int32"}) testing::writeToyIdxDataset(root / b, 100, 20, 3, true);
    const auto gz = root / "idx_gz_cut/train-images-idx3-ubyte.gz";
    std::filesystem::resize_file(gz, std::filesystem::file_size(gz) / 2);
    std::filesystem::remove(root / "idx_int32/train-labels-idx1-ubyte.gz");
    std::ofstream(root / "idx_int32/train-labels-idx1-ubyte", std::ios::binary).write("\0\0\x0c\x01\0\0\0\x64", 8);
    // TorchScript: a zip that is not a module, and a real module with 7 outputs for 10 classes.
    std::ofstream(root / "not_torchscript.pt") << "PK\x03\x04 certainly not a TorchScript archive";
    torch::jit::Module seven("SevenClasses");
    seven.register_parameter("weight", torch::zeros({7, 784}), false);
    seven.define("def forward(self, x):\n    return torch.matmul(x.flatten(1), self.weight.t())\n");
    seven.save((root / "seven_outputs.pt").string());
    // Databases: one from a newer workbench, one that is some other program's SQLite file.
    { RunStore newer(dir_->file("newer.db")); }
    sqlite3* raw = nullptr;
    sqlite3_open(dir_->file("newer.db").c_str(), &raw);
    sqlite3_exec(raw, "PRAGMA user_version = 7", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
    sqlite3_open(dir_->file("other.db").c_str(), &raw);
    sqlite3_exec(raw, "CREATE TABLE invoices (id INTEGER)", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
    std::ofstream(dir_->file("text.db")) << "just some text, not SQLite at all, long enough to have a header........";
    // Configs: malformed JSON, a scalar where a list goes, a list where a mapping goes.
    std::ofstream(dir_->file("malformed.json")) << "{\"train\": {\"epochs\": 3,, \"lr\": }\n";
    std::ofstream(dir_->file("scalar_for_list.yaml")) << "teacher:\n  hidden: wide\n";
    std::ofstream(dir_->file("list_for_mapping.yaml")) << "train: [1, 2]\n";
    std::ofstream(dir_->file("deep.yaml")) << "teacher:\n  hidden: " << std::string(5000, '[') << std::string(5000, ']') << "\n";
    std::ofstream(dir_->file("latin1_name.yaml"), std::ios::binary) << "name: \"caf\xE9\"\n";
    RunStore empty(dir_->file("empty.db"));
    RunStore one(dir_->file("one.db"));
    const int64_t id = one.createRun(NewRun{"stored", "seed: 0\n", {}, std::nullopt});
    one.appendMetrics(id, {MetricPoint{"eval/agreement", 0, 0.0, 1.0, 0.5}, MetricPoint{"eval/agreement", 10, 1.0, 2.0, 0.9}});
    one.finishRun(id, RunStatus::Completed);
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;
};
TempDir* BadFileInput::dir_ = nullptr;

TEST_P(BadFileInput, ExitsWithAMessageNamingTheCulprit) {
  const auto& c = GetParam();
  const std::string dir = dir_->path().string();
  const std::string db = dir_->file(std::string(c.name) + ".run.db");
  const std::string args = expand(c.args, dir);
  const auto result = distillCli(args + (args.find("--db") == std::string::npos ? " --db " + quote(db) : ""));
  EXPECT_EQ(result.exit_code, c.exit_code) << result.err;
  EXPECT_NE(result.err.find(expand(c.must_mention, dir)), std::string::npos) << "stderr: " << result.err;
  EXPECT_EQ(result.err.find("terminate called"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("Sanitizer"), std::string::npos) << result.err;
  if (std::filesystem::exists(db)) {
    RunStore store(db);
    EXPECT_TRUE(store.listRuns().empty()) << "a run refused for bad input leaves nothing behind";
  }
}

// Runs that would train need the dataset's folder checked first, so they fail in well under
// a second; none of them reaches the training loop.
const std::string kCifar = "run --set dataset.name=cifar10 --set dataset.path=$DIR/";
const std::string kIdx = "run --set dataset.name=idx --set dataset.path=$DIR/";

INSTANTIATE_TEST_SUITE_P(
    Table, BadFileInput,
    ::testing::Values(
        BadFile{"cifar_truncated", kCifar + "cifar_truncated", 2,
                "$DIR/cifar_truncated/data_batch_3.bin: size 15465 bytes is not a whole number of 3073-byte"},
        BadFile{"cifar_empty", kCifar + "cifar_empty", 2, "$DIR/cifar_empty/test_batch.bin: file is empty"},
        BadFile{"cifar_label_out_of_range", kCifar + "cifar_label", 2,
                "$DIR/cifar_label/data_batch_2.bin: record 7 has label 200, expected 0..9"},
        BadFile{"cifar_missing_batch", kCifar + "cifar_missing", 2, "missing data_batch_4.bin"},
        BadFile{"cifar_python_version", kCifar + "cifar_python", 2, "the Python and MATLAB versions are not read"},
        BadFile{"cifar_folder_missing", kCifar + "no/such/folder", 2, "$DIR/no/such/folder: CIFAR-10 folder not found"},
        BadFile{"idx_gzip_cut", kIdx + "idx_gz_cut", 2, "$DIR/idx_gz_cut/train-images-idx3-ubyte.gz"},
        BadFile{"idx_wrong_element_type", kIdx + "idx_int32", 2,
                "$DIR/idx_int32/train-labels-idx1-ubyte: unsupported IDX element type 0x0c"},
        BadFile{"torchscript_not_a_module", "run --set teacher.source=torchscript:$DIR/not_torchscript.pt " + std::string(kTinyRun),
                2, "$DIR/not_torchscript.pt: not a TorchScript file"},
        BadFile{"torchscript_wrong_output_shape",
                "run --set teacher.source=torchscript:$DIR/seven_outputs.pt " + std::string(kTinyRun), 2, "[N, 10]"},
        BadFile{"torchscript_student_missing", "run --set student.source=torchscript:$DIR/gone.pt " + std::string(kTinyRun), 2,
                "$DIR/gone.pt"},
        BadFile{"database_from_newer_workbench", "list --db $DIR/newer.db", 2,
                "$DIR/newer.db: written by a newer Distill Workbench (schema version 7"},
        BadFile{"database_newer_run", "run --db $DIR/newer.db " + std::string(kTinyRun), 2, "schema version 7"},
        BadFile{"database_of_another_program", "list --db $DIR/other.db", 2, "$DIR/other.db: not a Distill Workbench database"},
        BadFile{"database_not_sqlite", "list --db $DIR/text.db", 2, "$DIR/text.db"},
        BadFile{"database_folder_missing_for_list", "list --db $DIR/no/such/folder/runs.db", 2,
                "$DIR/no/such/folder/runs.db: no database here yet"},
        BadFile{"config_in_missing_folder", "run $DIR/no/such/folder/experiment.yaml", 2,
                "$DIR/no/such/folder/experiment.yaml"},
        BadFile{"export_into_missing_folder", "export 1 --format csv --out $DIR/no/such/folder/points.csv --db $DIR/one.db", 2,
                "$DIR/no/such/folder/points.csv"},
        BadFile{"export_json_into_missing_folder",
                "export 1 --format json --out $DIR/no/such/folder/points.json --db $DIR/one.db", 2,
                "$DIR/no/such/folder/points.json"},
        BadFile{"report_into_missing_folder", "report 1 --out $DIR/no/such/folder/r.html --db $DIR/one.db", 2,
                "$DIR/no/such/folder/r.html"},
        BadFile{"malformed_json", "run $DIR/malformed.json", 2, "$DIR/malformed.json: not valid YAML or JSON at line"},
        BadFile{"scalar_for_a_list", "run $DIR/scalar_for_list.yaml", 2, "teacher.hidden: expected a whole number, got 'wide'"},
        BadFile{"list_for_a_mapping", "run $DIR/list_for_mapping.yaml", 2, "train: expected a mapping of keys"},
        BadFile{"seed_not_a_number", "run --set seed=abc", 2, "seed: expected a whole number, got 'abc'"},
        BadFile{"unknown_method", "run --set distill.method=magic", 2, "distill.method: expected one of kd,"},
        BadFile{"negative_limit", "run --set dataset.limit_train=-5", 2, "dataset.limit_train: expected 0 (all) or a positive"},
        BadFile{"dropout_one", "run --set teacher.dropout=1", 2, "teacher.dropout: expected a probability in [0, 1)"},
        BadFile{"learning_rate_zero", "run --set train.lr=0", 2, "train.lr: expected a learning rate > 0"},
        BadFile{"zero_width_layer", "run --set teacher.hidden=[0]", 2, "teacher.hidden: expected widths between 1 and"},
        BadFile{"resume_unknown_run", "resume 42 --db $DIR/empty.db", 2, "run 42"},
        // Issue 18: said "bad file"; crashed with a stack overflow (exit 139); stored a name
        // that later broke every JSON output; refused the form configs use for a model.
        BadFile{"config_nested_too_deep", "run $DIR/deep.yaml", 2,
                "$DIR/deep.yaml: nested too deep at line 2"},  // the limit: config_test.cpp
        BadFile{"filter_nested_too_deep", "list --db $DIR/one.db --filter '" + std::string(10000, '(') + "x" +
                                              std::string(10000, ')') + "'", 2,
                "column 101: nested too deep: at most 100 levels of parentheses and 'not' together"},
        BadFile{"filter_too_many_nots", "list --db $DIR/one.db --filter '" + std::string(30000, '!') + "x'", 2,
                "nested too deep: at most 100 levels"},
        BadFile{"name_option_not_utf8", "run --name \"$(printf 'caf\\351')\" " + std::string(kTinyRun), 2,
                "--name: the run name is not valid UTF-8 (byte 0xe9 at offset 3)"},
        BadFile{"name_in_config_not_utf8", "run $DIR/latin1_name.yaml " + std::string(kTinyRun), 2,
                "name: the run name is not valid UTF-8 (byte 0xe9 at offset 3)"},
        BadFile{"mirror_torchscript_prefix_missing_file", "mirror run:1 torchscript:$DIR/gone.pt --db $DIR/one.db", 2,
                "B: '$DIR/gone.pt': no such TorchScript file"},
        BadFile{"mirror_torchscript_prefix_is_loaded",
                "mirror torchscript:$DIR/seven_outputs.pt $DIR/seven_outputs.pt --db $DIR/one.db", 2, "[N, 10]"}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- no giant allocation for a header that lies ----------------------------------------------

// Reads the file in a child whose address space may grow by only 48 MiB: a reader that trusts
// the header (and allocates what it claims, or even a 64 MiB first buffer) dies of bad_alloc
// there instead of answering with a DataError naming the file.
std::string readIdxUnderMemoryLimit(const std::string& path) {
  int out[2];
  if (pipe(out) != 0) return "pipe failed";
  const pid_t child = fork();
  if (child == 0) {
    close(out[0]);
    std::string message = "accepted";
    rlimit limit{};
    std::ifstream status("/proc/self/statm");
    size_t pages = 0;
    status >> pages;
    limit.rlim_cur = limit.rlim_max = pages * static_cast<size_t>(sysconf(_SC_PAGESIZE)) + (48u << 20);
#if !defined(__SANITIZE_ADDRESS__)
    // (Under AddressSanitizer the address space is its shadow memory's, and ASan's allocator
    // maps in large steps: there only the message is checked.)
    setrlimit(RLIMIT_AS, &limit);
#endif
    try {
      readIdxFile(path);
    } catch (const DataError& e) {
      message = std::string("DataError: ") + e.what();
    } catch (const std::bad_alloc&) {
      message = "bad_alloc";
    }
    [[maybe_unused]] auto n = write(out[1], message.data(), message.size());
    _exit(0);
  }
  close(out[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) message.append(buffer, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(child, &status, 0);
  return message;
}

TEST(HugeHeader, IsRefusedBeforeAllocatingWhatItClaims) {
  TempDir dir;
  // 60,000 x 56 x 56 = 188 MB promised, 300 bytes present; raw and gzipped.
  IdxArray small{{60000, 56, 56}, std::vector<uint8_t>(300, 7)};
  const std::string raw = dir.file("raw-idx3-ubyte"), gz = dir.file("gz-idx3-ubyte.gz");
  {
    std::ofstream out(raw, std::ios::binary);
    out.write("\0\0\x08\x03\0\0\xea\x60\0\0\0\x38\0\0\0\x38", 16);
    out.write(reinterpret_cast<const char*>(small.data.data()), 300);
  }
  {
    // writeIdxFile checks nothing against dims, so it writes the same lie gzipped.
    writeIdxFile(gz, small, /*gzip=*/true);
  }
  const auto raw_result = readIdxUnderMemoryLimit(raw);
  EXPECT_NE(raw_result.find("DataError: " + raw + ": truncated: header promises 188160000 bytes of data, file has 300"),
            std::string::npos)
      << raw_result;
  const auto gz_result = readIdxUnderMemoryLimit(gz);
  EXPECT_NE(gz_result.find("DataError: " + gz + ": truncated: header promises 188160000 bytes"), std::string::npos)
      << gz_result;
}

// ---- a read-only database ---------------------------------------------------------------------

TEST(ReadOnlyDatabase, BrowsesButRefusesNewRunsWithAMessage) {
  if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const std::string db = dir.file("runs.db");
  const auto made = distillCli(std::string("run ") + kTinyRun + " --set train.epochs=2 --db " + quote(db));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ReadOnlyFile read_only(db);
  if (!read_only.ok()) GTEST_SKIP() << "cannot make a file read-only here (no immutable flag support)";
  ASSERT_FALSE(std::ofstream(db, std::ios::app).is_open()) << "the file is still writable";

  const auto listed = distillCli("list --json --db " + quote(db));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(nlohmann::json::parse(listed.out).at(0)["status"], "completed");
  const auto shown = distillCli("show 1 --db " + quote(db));
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("completed"), std::string::npos);
  const auto exported = distillCli("export 1 --format csv --out " + quote(dir.file("points.csv")) + " --db " + quote(db));
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_GT(std::filesystem::file_size(dir.file("points.csv")), 100u);
  const auto compared = distillCli("compare 1 1 --db " + quote(db));
  EXPECT_EQ(compared.exit_code, 0) << compared.err;

  const auto refused = distillCli(std::string("run ") + kTinyRun + " --db " + quote(db));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find(db + ": the database is read-only"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("eval  epoch"), std::string::npos) << "refused before training";
  const auto resumed = distillCli("resume 1 --db " + quote(db));
  EXPECT_EQ(resumed.exit_code, 2);
  EXPECT_NE(resumed.err.find("read-only"), std::string::npos) << resumed.err;
  EXPECT_EQ(integrityCheck(db), "ok");
}

// ---- a full disk ----------------------------------------------------------------------------

// Runs `distill` with RLIMIT_FSIZE: no file may grow past `max_file_bytes`, as on a disk that
// fills up mid-run (writes fail with EFBIG; SIGXFSZ is ignored so they fail instead of killing).
CommandResult runWithFileSizeLimit(const std::vector<std::string>& args, rlim_t max_file_bytes, const TempDir& dir) {
  const std::string out_path = dir.file("limited.out"), err_path = dir.file("limited.err");
  const pid_t child = fork();
  if (child == 0) {
    freopen(out_path.c_str(), "w", stdout);
    freopen(err_path.c_str(), "w", stderr);
    signal(SIGXFSZ, SIG_IGN);
    rlimit limit{max_file_bytes, max_file_bytes};
    setrlimit(RLIMIT_FSIZE, &limit);
    std::vector<char*> argv{const_cast<char*>(DISTILL_CLI_PATH)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(DISTILL_CLI_PATH, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  return result;
}

TEST(FullDisk, RunFailsCleanlyAndTheDatabaseStaysReadable) {
  if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const std::string db = dir.file("runs.db");
  // A completed run first: it must survive the failed one untouched.
  const auto first = distillCli(std::string("run ") + kTinyRun + " --name before --db " + quote(db));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  RunStore before_store(db, RunStore::Mode::ReadOnly);
  const auto points_before = before_store.metrics(1).size();

  // Then a run that logs every step and checkpoints models far larger than the room left.
  const auto limited = runWithFileSizeLimit(
      {"run", "--db", db, "--name", "full", "--set", "dataset.limit_train=2000", "--set", "dataset.limit_test=200",
       "--set", "teacher.epochs=3", "--set", "train.epochs=3", "--set", "teacher.hidden=[256]", "--set",
       "student.hidden=[64]", "--set", "train.log_every=1", "--set", "train.batch_size=32"},
      /*max_file_bytes=*/std::filesystem::file_size(db) + (400u << 10), dir);
  EXPECT_EQ(limited.exit_code, 1) << limited.err;
  EXPECT_NE(limited.err.find("error: run 2 failed: cannot write the checkpoint"), std::string::npos) << limited.err;
  EXPECT_EQ(limited.err.find("terminate called"), std::string::npos) << limited.err;

  EXPECT_EQ(integrityCheck(db), "ok");
  RunStore store(db);
  store.markInterruptedRuns();
  const auto runs = store.listRuns();
  ASSERT_EQ(runs.size(), 2u);
  const auto full = store.getRun(2);
  ASSERT_TRUE(full);
  EXPECT_TRUE(full->status == RunStatus::Failed || full->status == RunStatus::Interrupted)
      << "status " << statusName(full->status) << ", never left running";
  EXPECT_EQ(store.getRun(1)->status, RunStatus::Completed);
  EXPECT_EQ(store.metrics(1).size(), points_before) << "the earlier run is untouched";
  EXPECT_FALSE(store.metrics(2).empty()) << "what the failed run stored before the disk filled is kept";
  const auto shown = distillCli("show 2 --db " + quote(db));
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
}

// Tiny models (checkpoints fit) and a point every step: here the database's own file is what
// can no longer grow, and the message names it.
TEST(FullDisk, MetricsThatNoLongerFitFailTheRunNamingTheDatabase) {
  if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const std::string db = dir.file("runs.db");
  const auto first = distillCli(std::string("run ") + kTinyRun + " --name before --db " + quote(db));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto limited = runWithFileSizeLimit(
      {"run", "--db", db, "--set", "dataset.limit_train=2000", "--set", "dataset.limit_test=200", "--set",
       "teacher.epochs=1", "--set", "train.epochs=40", "--set", "teacher.hidden=[8]", "--set", "student.hidden=[8]",
       "--set", "train.log_every=1", "--set", "train.batch_size=32"},
      /*max_file_bytes=*/120u << 10, dir);
  EXPECT_EQ(limited.exit_code, 1) << limited.err;
  // Whichever write meets the limit first (the points, or a checkpoint's row: it depends on the
  // timing, e.g. under a sanitizer), the message names the database and what it could not store.
  EXPECT_TRUE(limited.err.find(db + ": cannot store the run's metric points") != std::string::npos ||
              limited.err.find(db + ": cannot record the run's") != std::string::npos)
      << limited.err;
  EXPECT_EQ(integrityCheck(db), "ok");
  RunStore store(db);
  store.markInterruptedRuns();
  const auto failed = store.getRun(2);
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->status, RunStatus::Running);
  EXPECT_FALSE(store.metrics(2).empty());
  EXPECT_EQ(store.getRun(1)->status, RunStatus::Completed);
}

// ---- names that are not UTF-8, or hold control characters (issue 18) -----------------------

// A database that already holds such names (an older workbench, or sqlite3 by hand): each
// output repairs them (U+FFFD) or escapes them, and the other runs print as before.
class OddNames : public ::testing::Test {
 protected:
  void SetUp() override {
    RunStore store(db_);
    for (const char* name : {"placeholder 1", "placeholder 2", "placeholder 3", "plain"}) {
      const int64_t id = store.createRun(NewRun{name, "seed: 0\n", {{"seed", "0"}}, std::nullopt});
      store.appendMetrics(id, {MetricPoint{"eval/agreement", 10, 1.0, 2.0, 0.9}});
      store.finishRun(id, RunStatus::Completed);
    }
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &raw), SQLITE_OK);
    // Run 1: Latin-1 bytes; run 2: 50 two-byte characters (a byte cut at 39 splits one);
    // run 3: a terminal escape, a newline and a tab.
    const std::string sql = "UPDATE runs SET name = CAST(X'636166E9206E616D65' AS TEXT) WHERE id = 1;"
                            "UPDATE runs SET name = '" + repeat("\xC3\xA9", 50) + "' WHERE id = 2;"
                            "UPDATE runs SET name = 'evil' || char(27) || '[2J' || char(10) || 'name' || char(9) WHERE id = 3;";
    ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  }

  static std::string repeat(const std::string& unit, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += unit;
    return out;
  }

  TempDir dir_;
  const std::string db_ = dir_.file("odd.db");
};

TEST_F(OddNames, OneBadNameNeverBreaksTheJsonOfTheOthers) {
  const std::string fffd = "\xEF\xBF\xBD";
  for (const std::string& args : {std::string("list --json"), std::string("show 1 --json"), std::string("show 4 --json"),
                                  std::string("export 1 4 --format json"), std::string("compare 1 4 --json")}) {
    const auto result = distillCli(args + " --db " + quote(db_));
    ASSERT_EQ(result.exit_code, 0) << args << ": " << result.err;
    nlohmann::json parsed;
    ASSERT_NO_THROW(parsed = nlohmann::json::parse(result.out)) << args;  // the parser insists on UTF-8
    if (args != "show 4 --json") {
      EXPECT_NE(result.out.find("caf" + fffd + " name"), std::string::npos) << args;
    }
  }
  std::map<int64_t, std::string> names;
  for (const auto& run : nlohmann::json::parse(distillCli("list --json --db " + quote(db_)).out))
    names[run["id"].get<int64_t>()] = run["name"].get<std::string>();
  EXPECT_EQ(names.size(), 4u);
  EXPECT_EQ(names[1], "caf" + fffd + " name");
  EXPECT_EQ(names[3], "evil\x1B[2J\nname\t");  // JSON escapes control characters itself
  EXPECT_EQ(names[4], "plain");
  const auto shown = distillCli("show 1 --db " + quote(db_));
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("run 1: caf" + fffd + " name\n"), std::string::npos) << shown.out;
}

TEST_F(OddNames, ListCutsAtCharacterBoundariesAndEscapesControlCharacters) {
  const auto result = distillCli("list --db " + quote(db_));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.find('\x1B'), std::string::npos) << "a raw escape reached the terminal";
  EXPECT_NE(result.out.find("evil\\e[2J\\nname\\t"), std::string::npos) << result.out;
  // Four rows and the header: a newline in a name no longer breaks the table.
  EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 5);
  // 50 x "e-acute" in 40 columns: 39 whole characters and the marker, then the status column.
  EXPECT_NE(result.out.find(repeat("\xC3\xA9", 39) + "~  completed"), std::string::npos) << result.out;
  for (size_t i = 0; i + 1 < result.out.size(); ++i) {
    const auto byte = static_cast<unsigned char>(result.out[i]);
    if (byte == 0xC3) {
      EXPECT_EQ(static_cast<unsigned char>(result.out[i + 1]) & 0xC0, 0x80) << "cut inside a character";
    }
  }
  // Every row's status column starts at the same terminal column.
  std::istringstream lines(result.out);
  std::set<size_t> status_columns;
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find("completed");
    if (at == std::string::npos) continue;
    size_t columns = 0;
    for (size_t i = 0; i < at; ++i) columns += (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
    status_columns.insert(columns);
  }
  EXPECT_EQ(status_columns.size(), 1u) << result.out;
}

// The door: a name that is not UTF-8 is refused by the store itself (the window renames
// through it), naming the field; the stored name is unchanged.
TEST_F(OddNames, TheStoreRefusesNamesThatAreNotUtf8) {
  RunStore store(db_);
  try {
    store.rename(4, "caf\xE9");
    FAIL() << "stored a name that is not UTF-8";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("run name: not valid UTF-8 (byte 0xe9 at offset 3)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(store.getRun(4)->name, "plain");
  EXPECT_THROW(store.createRun(NewRun{"\xFF", "seed: 0\n", {}, std::nullopt}), StoreError);
  EXPECT_EQ(store.listRuns().size(), 4u);
}

// ---- a run's files belong to its database --------------------------------------------------

// Two databases in one folder both have a run 1. Before each run had a folder of its own,
// the second overwrote the first's checkpoints/run-1/ models: the first database's fidelity
// view then analysed (or failed on) the other database's models, and deleting could reach them.
TEST(TwoDatabasesInOneFolder, EachAnalysesAndDeletesOnlyItsOwnModels) {
  if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const std::string runs = dir.file("runs.db"), ablation = dir.file("ablation.db");
  const auto first = distillCli(std::string("run ") + kTinyRun + " --db " + quote(runs));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // Another architecture in the other database's run 1.
  const auto second = distillCli(std::string("run ") + kTinyRun + " --set student.hidden=[24] --db " + quote(ablation));
  ASSERT_EQ(second.exit_code, 0) << second.err;

  for (const auto& db : {runs, ablation}) {
    const auto fidelity = distillCli("fidelity 1 --json --db " + quote(db));
    EXPECT_EQ(fidelity.exit_code, 0) << db << ": " << fidelity.err;
  }
  RunStore runs_store(runs), ablation_store(ablation);
  const std::string student_a = runs_store.checkpointFile(1, "student");
  const std::string student_b = ablation_store.checkpointFile(1, "student");
  EXPECT_NE(student_a, student_b);
  EXPECT_NE(slurp(student_a), slurp(student_b));

  // The other database's model put in this run's place is refused by name, not analysed.
  const std::string saved = slurp(student_a);
  std::filesystem::copy_file(student_b, student_a, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(student_b + ".owner", student_a + ".owner", std::filesystem::copy_options::overwrite_existing);
  const auto refused = distillCli("fidelity 1 --db " + quote(runs));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("not this run's own"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find(student_a), std::string::npos) << "names the file: " << refused.err;

  // Deleting run 1 of one database leaves the other's run 1 whole.
  runs_store.deleteRun(1);
  EXPECT_FALSE(std::filesystem::exists(student_a));
  EXPECT_EQ(ablation_store.checkpointFile(1, "student"), student_b);
  const auto after = distillCli("fidelity 1 --db " + quote(ablation));
  EXPECT_EQ(after.exit_code, 0) << after.err;
  const auto exported = distillCli("export-model 1 --out " + quote(dir.file("b.pt")) + " --db " + quote(ablation));
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
}

// `--db r.db` given relative: the checkpoints must still be found from any other directory.
TEST(RelativeDatabasePath, CheckpointsResolveFromAnotherWorkingDirectory) {
  if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "work");
  const auto made = testing::runCommand("cd " + quote(dir.file("work")) + " && " + DISTILL_CLI_PATH + " run " + kTinyRun +
                                        " --db r.db");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string db = dir.file("work/r.db");
  const auto exported = distillCli("export-model 1 --out " + quote(dir.file("student.pt")) + " --db " + quote(db));
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  const auto fidelity = distillCli("fidelity 1 --db " + quote(db));
  EXPECT_EQ(fidelity.exit_code, 0) << fidelity.err;
  // The folder moved as a whole keeps working: paths are stored relative to the database.
  std::filesystem::rename(dir.file("work"), dir.file("moved"));
  const auto moved = distillCli("fidelity 1 --db " + quote(dir.file("moved/r.db")));
  EXPECT_EQ(moved.exit_code, 0) << moved.err;
}

// ---- a read-only folder, a full disk, a stale host name --------------------------------------

TEST(ReadOnlyFolder, BrowsesAWalDatabaseAndSaysWhatIsReadOnly) {
  if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "shared");
  const std::string db = dir.file("shared/runs.db");
  const auto made = distillCli(std::string("run ") + kTinyRun + " --db " + quote(db));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ReadOnlyFile read_only(dir.file("shared"));
  if (!read_only.ok()) GTEST_SKIP() << "cannot make a folder read-only here";
  const auto listed = distillCli("list --json --db " + quote(db));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(nlohmann::json::parse(listed.out).at(0)["status"], "completed");
  const auto shown = distillCli("show 1 --db " + quote(db));
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  const auto refused = distillCli(std::string("run ") + kTinyRun + " --db " + quote(db));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("the folder " + dir.file("shared") + " is read-only"), std::string::npos) << refused.err;
}

// A real full disk (a small tmpfs, root only): a dead run must not make browsing write.
TEST(FullDisk, OldRunsAreBrowsedOnAFullDiskAndADeadRunShowsAsInterrupted) {
  if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const std::string mount_point = dir.file("disk");
  std::filesystem::create_directories(mount_point);
  if (geteuid() != 0 || testing::runCommand("mount -t tmpfs -o size=8m tmpfs " + quote(mount_point)).exit_code != 0)
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
  struct Unmount {
    std::string path;
    ~Unmount() { testing::runCommand("umount " + quote(path)); }
  } unmount{mount_point};
  const std::string db = mount_point + "/runs.db";
  const auto made = distillCli(std::string("run ") + kTinyRun + " --db " + quote(db));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  {
    // A run whose process died without a trace (kill -9 before its lock existed).
    RunStore store(db);
    store.createRun(NewRun{"dead", "name: dead\n", {}, std::nullopt});
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "UPDATE runs SET pid = 999999 WHERE id = 2", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  // Fill the disk, then leave room for SQLite's shared-memory index and nothing more.
  testing::runCommand("dd if=/dev/zero of=" + quote(mount_point + "/room") + " bs=4k count=9 2>/dev/null; dd if=/dev/zero of=" +
                      quote(mount_point + "/filler") + " bs=4k 2>/dev/null; rm -f " + quote(mount_point + "/room"));
  const auto listed = distillCli("list --json --db " + quote(db));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const auto runs = nlohmann::json::parse(listed.out);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs.at(0)["status"], "interrupted");
  EXPECT_EQ(runs.at(1)["status"], "completed");
  const auto shown = distillCli("show 1 --db " + quote(db));
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  // What does need to write says which file could not take it.
  const auto refused = distillCli(std::string("run ") + kTinyRun + " --db " + quote(db));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find(db), std::string::npos) << refused.err;
}

// A run left `running` by a process of another host name (a new container) whose lock is free
// is provably dead: resume takes it over without being told to.
TEST(StaleHostName, ARunWithAFreeLockIsResumed) {
  if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  const std::string db = dir.file("runs.db");
  const auto made = distillCli(std::string("run ") + kTinyRun + " --set train.epochs=2 --db " + quote(db));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "UPDATE runs SET status = 'running', host = 'old-container', pid = 1", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  {
    RunStore store(db);
    // As a process killed in the old container left it: a lock file nobody holds.
    RunLock lock(store.lockPath(store.getRun(1)->uuid));
  }
  const auto resumed = distillCli("resume 1 --quiet --db " + quote(db));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  RunStore store(db);
  EXPECT_EQ(store.getRun(1)->status, RunStatus::Completed);

  // Without a lock file (an older workbench's run on another host) liveness cannot be told:
  // resume refuses, and --take-over is the way through.
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "UPDATE runs SET status = 'running', host = 'old-container', pid = 1", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  std::filesystem::remove(store.lockPath(store.getRun(1)->uuid));
  const auto refused = distillCli("resume 1 --quiet --db " + quote(db));
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("--take-over"), std::string::npos) << refused.err;
  const auto taken = distillCli("resume 1 --take-over --quiet --db " + quote(db));
  EXPECT_EQ(taken.exit_code, 0) << taken.err;
}

}  // namespace
}  // namespace distill
