#include "tests/benchmarks/bench_support.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "core/config/config.h"
#include "core/store/run_store.h"

namespace distill::bench {

namespace {

const char* const kEvalKeys[] = {"eval/teacher_acc", "eval/teacher_loss", "eval/student_acc",
                                 "eval/student_loss", "eval/agreement",   "eval/kl"};
const char* const kTrainKeys[] = {"train/teacher_loss", "train/student_loss", "train/kd_loss", "train/ce_loss",
                                  "perf/samples_per_s"};

// Whether `path` already holds `runs` runs of `points_per_run` points.
bool holds(const std::string& path, int runs, int points_per_run) {
  if (!std::filesystem::exists(path)) return false;
  try {
    RunStore store(path, RunStore::Mode::ReadOnly);
    const auto listed = store.listRuns();
    if (static_cast<int>(listed.size()) != runs) return false;
    // The first and last runs are enough: a generation that stopped half way misses the last.
    return static_cast<int>(store.metrics(listed.front().id).size()) == points_per_run &&
           static_cast<int>(store.metrics(listed.back().id).size()) == points_per_run;
  } catch (const std::exception&) {
    return false;
  }
}

ExperimentConfig variation(int index) {
  static const char* const kMethods[] = {"kd", "reverse_kl", "jsd", "tvd", "mse_logits", "dkd"};
  static const double kTemperatures[] = {1, 2, 4, 8};
  static const double kAlphas[] = {0.5, 0.7, 0.9};
  ExperimentConfig config = defaultConfig();
  config.distill.method = kMethods[index % 6];
  config.distill.temperature = kTemperatures[(index / 6) % 4];
  config.distill.alpha = kAlphas[(index / 24) % 3];
  config.seed = 1000 + index;
  config.name = describe(config);
  return config;
}

}  // namespace

IngestResult makeDatabase(const std::string& path, int runs, int points_per_run) {
  IngestResult result;
  result.runs = runs;
  result.points = static_cast<int64_t>(runs) * points_per_run;
  if (holds(path, runs, points_per_run)) {
    result.reused = true;
    return result;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  const auto start = std::chrono::steady_clock::now();
  RunStore store(path);
  const int evals = std::max(1, points_per_run / 500);
  const int eval_points = 6 * evals;
  const int train_total = points_per_run - eval_points;
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<MetricPoint> batch;
  batch.reserve(2000);
  for (int r = 0; r < runs; ++r) {
    const ExperimentConfig config = variation(r);
    NewRun run;
    run.name = config.name;
    run.config_yaml = toYaml(config);
    run.params = flatten(config);
    const int64_t id = store.createRun(run);
    if (r % 10 == 0) store.addTag(id, "baseline");
    const double start_time = 1.7e9 + r * 3600.0;
    const double quality = 0.80 + 0.1 * std::sin(r * 0.37);
    auto flush = [&] {
      store.appendMetrics(id, batch);
      batch.clear();
    };
    auto add = [&](const char* key, int64_t step, double epoch, double value) {
      batch.push_back({key, step, epoch, start_time + step * 0.01, value});
      if (batch.size() >= 2000) flush();
    };
    // Training points: train_total split over the five keys (the first keys take the remainder),
    // logged at the same steps; evaluations spread over the same steps, as epochs end.
    const int train_steps = train_total / 5 + (train_total % 5 ? 1 : 0);
    const int steps_per_log = 10;
    const int64_t last_step = static_cast<int64_t>(train_steps) * steps_per_log;
    const double steps_per_epoch = static_cast<double>(last_step) / evals;
    int next_eval = 1;
    for (int s = 0; s < train_steps; ++s) {
      const int64_t step = static_cast<int64_t>(s + 1) * steps_per_log;
      const double epoch = step / steps_per_epoch;
      const double progress = static_cast<double>(s) / train_steps;
      const double loss = 2.3 * std::exp(-4.0 * progress) + 0.2 + 0.05 * noise(rng);
      for (int k = 0; k < 5; ++k) {
        if (s * 5 + k >= train_total) break;  // the last row takes only the remainder
        const double value = k == 4 ? 9000.0 + 500.0 * noise(rng) : loss * (1.0 - 0.15 * k);
        add(kTrainKeys[k], step, epoch, value);
      }
      while (next_eval <= evals && step >= static_cast<int64_t>(next_eval * steps_per_epoch)) {
        const double p = static_cast<double>(next_eval) / evals;
        const double acc = quality * (1.0 - std::exp(-5.0 * p)) + 0.005 * noise(rng);
        const double values[] = {quality + 0.05, 0.35, acc, 0.5 + (1 - acc), 0.9 * acc + 0.09, 0.3 * (1 - acc)};
        for (int k = 0; k < 6; ++k) add(kEvalKeys[k], step, static_cast<double>(next_eval), values[k]);
        ++next_eval;
      }
    }
    if (!batch.empty()) flush();
    store.finishRun(id, RunStatus::Completed);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

Stats stats(std::vector<double> values) {
  Stats s;
  s.count = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.min = values.front();
  s.max = values.back();
  return s;
}

std::string verdict(const Stats& s, double target_ms) {
  return fmt::format("median {:8.2f} ms (min {:.2f}, max {:.2f}, n={})  target < {:g} ms: {}", s.median, s.min, s.max,
                     s.count, target_ms, s.median < target_ms ? "PASS" : "MISS");
}

double loadAverage() {
  double load = -1.0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1.0;
    std::fclose(f);
  }
  return load;
}

}  // namespace distill::bench
