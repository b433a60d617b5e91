// Live progress of a run on the terminal: a bar with ETA and the latest metrics on a TTY,
// one line per evaluation otherwise (logs, CI). Called on the training thread.
#pragma once

#include <cstdio>
#include <map>
#include <string>

#include "core/tasks/task_catalog.h"
#include "core/train/observer.h"

namespace distill::cli {

class ConsoleProgress : public TrainingObserver {
 public:
  explicit ConsoleProgress(bool quiet);
  void onStarted(const std::map<std::string, std::string>& environment) override;
  void onMetrics(const std::vector<MetricPoint>& points) override;
  void onProgress(const ProgressInfo& progress) override;
  void onLog(LogLevel level, const std::string& message) override;
  // Ends the live line so that later output starts on a fresh line.
  void finish();

 private:
  void clearLine();
  bool quiet_;
  bool tty_;
  bool line_open_ = false;
  std::map<std::string, double> latest_;
  TaskDisplay display_ = taskDisplay("image");  // the run's task, from onStarted()
};

std::string formatDuration(double seconds);

}  // namespace distill::cli
