// Shared by the benchmark programs: synthetic run databases written the way the trainer
// writes them (RunStore::createRun with a real flattened config, appendMetrics in batched
// transactions of 2000 points as StoreRecorder does, the trainer's eval/* and train/* keys),
// and plain timing statistics.
//
// Thread contract: plain functions; the calling thread owns the stores it opens.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace distill::bench {

struct IngestResult {
  int64_t runs = 0;
  int64_t points = 0;
  double seconds = 0.0;
  bool reused = false;  // the file already held this database; nothing was written
};

// Writes `runs` completed runs of `points_per_run` points each into `path`, or reuses the
// file when it already holds exactly that. Each run has the trainer's keys: six eval/* keys
// with points_per_run / 500 evaluations each, and the rest split over train/teacher_loss,
// train/student_loss, train/kd_loss, train/ce_loss and perf/samples_per_s.
IngestResult makeDatabase(const std::string& path, int runs, int points_per_run);

// Median, min and max of a set of timings in milliseconds.
struct Stats {
  double median = 0.0, min = 0.0, max = 0.0;
  size_t count = 0;
};
Stats stats(std::vector<double> values);

// "median 12.3 ms (min 11.0, max 15.2, n=20)  target < 50 ms: PASS"
std::string verdict(const Stats& s, double target_ms);

// The load average over the last minute, as `uptime` shows it.
double loadAverage();

inline double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace distill::bench
