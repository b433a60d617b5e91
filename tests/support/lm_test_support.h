// The language-model tests' small world: a 120-document corpus a tiny GPT learns in seconds,
// the tiny config over it, and a run through ExperimentRunner read back from its store.
#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/store/run_store.h"
#include "core/train/experiment_runner.h"

namespace distill::testing {

// 120 short documents with structure a model learns in a few hundred steps.
inline std::string writeCorpus(const std::filesystem::path& folder) {
  std::filesystem::create_directories(folder);
  std::ofstream out(folder / "tiny");
  const char* animals[] = {"cat", "dog", "owl", "fox"};
  const char* places[] = {"mat", "log", "hill", "barn"};
  for (int i = 0; i < 120; ++i) {
    out << "the " << animals[i % 4] << " sat on the " << places[(i / 4) % 4] << ".\n";
    if (i % 3 == 0) out << "it was " << (i % 2 ? "warm" : "cold") << ".\n";
    out << "%\n";
  }
  return folder.string();
}

inline ExperimentConfig lmConfig(const std::string& corpus, std::vector<std::string> more = {}) {
  std::vector<std::string> overrides = {
      "task=lm",          "lm.corpus=" + corpus, "lm.context=16",        "teacher.arch=gpt",     "teacher.layers=1",
      "teacher.heads=2",  "teacher.d_model=32",  "teacher.dropout=0",    "teacher.epochs=6",     "student.arch=gpt",
      "student.layers=1", "student.heads=2",     "student.d_model=32",   "train.epochs=8",       "train.batch_size=16",
      "train.optimizer=adamw", "train.lr=0.01",  "train.log_every=5",    "distill.temperature=1", "seed=1",
      // One thread: tiny models run many small OpenMP regions, and with two threads on a busy
      // 2-core machine each waits for a descheduled thread (a 0.6 s test took 76 s; BENCHMARKS.md).
      "threads=1"};
  overrides.insert(overrides.end(), more.begin(), more.end());
  return parseConfigWithOverrides("", overrides, "lm test");
}

struct Finished {
  RunResult result;
  RunRecord run;
  ProgressInfo last_progress;  // the run's last progress report
  std::map<std::string, std::vector<MetricPoint>> series;
  double first(const std::string& key) const { return series.at(key).front().value; }
};

inline Finished runLm(const std::filesystem::path& dir, const ExperimentConfig& config) {
  struct LastProgress : TrainingObserver {
    ProgressInfo last;
    void onProgress(const ProgressInfo& p) override { last = p; }
  } observer;
  RunControl control;
  ExperimentRunner runner(config, (dir / "lm.db").string(), observer, control);
  const int64_t id = runner.createRun();
  Finished f;
  f.result = runner.run();
  f.last_progress = observer.last;
  RunStore store((dir / "lm.db").string());
  f.run = *store.getRun(id);
  for (const auto& point : store.metrics(id)) f.series[point.key].push_back(point);
  return f;
}

}  // namespace distill::testing
