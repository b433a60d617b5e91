// What both mirror tests (images: mirror.h, language models: lm_mirror.h) share: the session
// (progress lines, the stop request, the run database opened once), a scratch folder for a
// reference model's checkpoints, the relay that passes a stop request on to a reference's
// trainer, and the statistics (mean and spread, the one-sided signed-rank test over
// paired samples, Holm's correction for several probe sets).
//
// Thread contract: plain values and functions; a ScratchFolder and a StopRelay belong to the
// thread that trains the reference.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/train/observer.h"

namespace distill {

class RunStore;

// One mirror test's progress lines, stop request and run database, from its options (both
// options structs have `progress`, `stop` and `database_path`).
class MirrorSession {
 public:
  MirrorSession(std::function<void(const std::string&)> progress, const std::atomic<bool>* stop,
                std::string database_path);
  ~MirrorSession();
  void say(const std::string& line) const;
  // Throws MirrorStopped (mirror.h) once the stop request is set.
  void checkStop() const;
  const std::atomic<bool>* stopFlag() const { return stop_; }
  // The run database, opened read-only on first use; ConfigError naming `field` when a run was
  // named but no database was given.
  RunStore& store(const std::string& field);

 private:
  std::function<void(const std::string&)> progress_;
  const std::atomic<bool>* stop_;
  std::string database_path_;
  std::unique_ptr<RunStore> store_;
};

struct MeanStd {
  double mean = 0.0, std = 0.0;  // std: the sample standard deviation (0 for fewer than 2 values)
};
MeanStd meanStd(const std::vector<double>& values);

// One-sided Wilcoxon signed-rank test of "the differences tend to be positive" over paired
// samples (Wilcoxon 1945): zero differences are dropped, |d| ranked with ties sharing their mean
// rank, and W+ (the positive ranks' sum) set against its null distribution, exactly (all 2^n
// sign patterns, by counting) for n <= 50 nonzero differences, else by the normal approximation
// with the ties' variance correction and a continuity correction. 1 when no difference is nonzero.
double signedRankPValue(const std::vector<double>& differences);

// Holm-Bonferroni adjusted p-values (Holm 1979), in the order given: the i-th smallest of m is
// multiplied by m - i + 1, then made non-decreasing in that order and capped at 1. Rejecting where
// the adjusted value is below alpha keeps the chance of any false rejection at most alpha.
std::vector<double> holmAdjusted(const std::vector<double>& p_values);

// A folder of its own under the system's temporary folder, removed with its contents when it
// goes out of scope (also when the mirror test stops or fails): a reference trainer's
// checkpoints, read once and thrown away. Throws ModelError when it cannot be made.
class ScratchFolder {
 public:
  ScratchFolder();
  ~ScratchFolder();
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Passes the mirror test's stop request on to a reference model's trainer, which checks its
// RunControl before every step: the flag is read whenever the trainer reports (at its start,
// at each progress report, about every 100 ms, and at each logged interval).
class StopRelay : public TrainingObserver {
 public:
  StopRelay(const std::atomic<bool>* stop, RunControl& control) : stop_(stop), control_(control) {}
  void onStarted(const std::map<std::string, std::string>&) override { relay(); }
  void onMetrics(const std::vector<MetricPoint>&) override { relay(); }
  void onProgress(const ProgressInfo&) override { relay(); }

 private:
  void relay() {
    if (stop_ && stop_->load()) control_.requestStop();
  }
  const std::atomic<bool>* stop_;
  RunControl& control_;
};

}  // namespace distill
