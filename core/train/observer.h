// How a running trainer reports to its front ends (CLI progress, store recorder, GUI bridge)
// and how they steer it. No torch and no Qt here, so any front end can include it.
//
// Thread contract: a Trainer calls every TrainingObserver method on its own (training)
// thread, synchronously, between steps. A callback must be quick and must not call back into
// the trainer; to reach another thread it copies the data and hands it over (the GUI bridge
// queues a signal). RunControl is the one object shared across threads: its flags are
// atomics, set by any thread, read by the trainer between steps.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/run_records.h"

namespace distill {

enum class Phase { Teacher, Student };
const char* phaseName(Phase phase);

struct ProgressInfo {
  Phase phase = Phase::Teacher;
  int64_t epoch = 0;  // 1-based epoch in progress
  int64_t epochs = 0;
  int64_t step = 0;  // step within the phase
  int64_t steps_in_phase = 0;
  int64_t done_steps = 0;  // over both phases
  int64_t total_steps = 0;
  double units_per_s = 0.0;      // training speed over the last logged interval
  std::string units = "samples";  // what it counts: samples or tokens (the task's units)
  // The run's progress in those units over both phases: done_units of total_units (0 until a
  // step has been counted). Counted from the batches this process trained; steps before a
  // resume count at the same units per step.
  double done_units = 0.0;
  double total_units = 0.0;
  double elapsed_s = 0.0;
  double eta_s = 0.0;  // estimated seconds to the end of the run: the units left at units_per_s
  std::string device;
};

// "1.2M / 9.8M tokens" (k, M, G with one decimal where it helps), for the status line and the
// console; empty when no units have been counted yet.
std::string progressUnitsText(const ProgressInfo& progress);

enum class LogLevel { Info, Warning, Error };

class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  // Once, before the first step: environment facts (versions, device, threads, host).
  virtual void onStarted(const std::map<std::string, std::string>& environment) {}
  virtual void onMetrics(const std::vector<MetricPoint>& points) {}
  virtual void onProgress(const ProgressInfo& progress) {}
  virtual void onLog(LogLevel level, const std::string& message) {}
  virtual void onCheckpoint(const CheckpointInfo& checkpoint) {}
  // Texts the models wrote (evaluation prompts, generated training sequences).
  virtual void onGenerated(const std::vector<GeneratedText>& texts) {}
};

// Forwards every call to several observers, in order.
class ObserverList : public TrainingObserver {
 public:
  void add(TrainingObserver* observer) { observers_.push_back(observer); }
  void onStarted(const std::map<std::string, std::string>& environment) override;
  void onMetrics(const std::vector<MetricPoint>& points) override;
  void onProgress(const ProgressInfo& progress) override;
  void onLog(LogLevel level, const std::string& message) override;
  void onCheckpoint(const CheckpointInfo& checkpoint) override;
  void onGenerated(const std::vector<GeneratedText>& texts) override;

 private:
  std::vector<TrainingObserver*> observers_;
};

// Stop and pause requests, honoured between steps. Any thread may call any method.
class RunControl {
 public:
  void requestStop() { stop_.store(true); }
  void setPaused(bool paused) { pause_.store(paused); }
  bool stopRequested() const { return stop_.load(); }
  bool paused() const { return pause_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<bool> pause_{false};
};

}  // namespace distill
