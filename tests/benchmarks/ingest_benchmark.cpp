// Benchmark, not a test (ctest does not run it): issue 7's store ingest number, "the store
// ingests at least 1 million points/s in a bulk benchmark". Points are generated first
// (the trainer's keys, 2000-point batches as StoreRecorder flushes them); only
// RunStore::appendMetrics is timed, on a fresh database file per repetition.
//
//   build/tests/benchmarks/ingest_benchmark [--points N] [--reps N] [--dir DIR]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/store/run_store.h"
#include "tests/benchmarks/bench_support.h"

using namespace distill;
using namespace distill::bench;

int main(int argc, char** argv) {
  int64_t total = 2'000'000;
  int reps = 5;
  std::string dir = (std::filesystem::temp_directory_path() / "distill-bench").string();
  CLI::App cli{"Times RunStore::appendMetrics alone (issue 7: at least 1 million points/s)", "ingest_benchmark"};
  cli.add_option("--points", total, "points written per repetition")->check(CLI::Range(1, 100000000))->capture_default_str();
  cli.add_option("--reps", reps, "repetitions, each on a fresh database file")->check(CLI::Range(1, 100000000))->capture_default_str();
  cli.add_option("--dir", dir, "folder for the database files")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  std::filesystem::create_directories(dir);
  const char* keys[] = {"train/teacher_loss", "train/student_loss", "train/kd_loss", "train/ce_loss",
                        "perf/samples_per_s", "eval/agreement", "eval/kl", "eval/student_acc"};
  constexpr size_t kBatch = 2000;
  std::vector<std::vector<MetricPoint>> batches;
  batches.reserve(static_cast<size_t>(total / kBatch + 1));
  for (int64_t i = 0; i < total; ++i) {
    if (batches.empty() || batches.back().size() == kBatch) {
      batches.emplace_back();
      batches.back().reserve(kBatch);
    }
    const int64_t step = i / 8;
    batches.back().push_back({keys[i % 8], step, step / 469.0, 1.7e9 + step * 0.01, std::exp(-step * 1e-5) + 0.01 * std::sin(i)});
  }
  std::printf("load average before: %.2f\n", loadAverage());
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) {
    const std::string path = dir + "/ingest.db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    RunStore store(path);
    NewRun run;
    run.name = "ingest";
    run.config_yaml = "name: ingest\n";
    const int64_t id = store.createRun(run);
    const auto start = std::chrono::steady_clock::now();
    for (const auto& batch : batches) store.appendMetrics(id, batch);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(total / seconds);
    std::printf("rep %d: %lld points in %.3f s = %.0f points/s\n", r + 1, static_cast<long long>(total), seconds, total / seconds);
  }
  const Stats s = stats(rates);
  std::printf("ingest: median %.0f points/s (min %.0f, max %.0f, n=%zu)  target >= 1000000: %s\n", s.median, s.min,
              s.max, s.count, s.median >= 1e6 ? "PASS" : "MISS");
  std::printf("load average after: %.2f\n", loadAverage());
  return 0;
}
