// The hand-over point between a training thread and the GUI thread.
//
// The trainer calls the TrainingObserver methods on its own thread, hundreds of times a
// second on small models; a queued signal per call would flood the GUI's event queue. So the
// mailbox only appends under a mutex, and the GUI drains it on its steady redraw timer: the
// GUI gets the updates in batches, at most once per tick, whatever the step rate.
//
// Thread contract: the observer methods are called by the training thread; drain() by the
// GUI thread. Both may run at once (the mutex covers every member). No Qt here.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/train/observer.h"

namespace distill::ui {

struct LogLine {
  LogLevel level = LogLevel::Info;
  std::string message;
};

// Everything that arrived since the previous drain().
struct MailboxBatch {
  std::vector<MetricPoint> metrics;
  std::optional<ProgressInfo> progress;  // only the latest: older ones are already stale
  std::vector<LogLine> logs;
  std::optional<std::map<std::string, std::string>> environment;
  // The evaluations' texts (purpose eval: a few prompts per evaluation); generated training
  // sequences, a batch of them per step, stay in the store, which the samples page reads.
  std::vector<GeneratedText> texts;
  bool empty() const { return metrics.empty() && !progress && logs.empty() && !environment && texts.empty(); }
};

class RunMailbox : public TrainingObserver {
 public:
  void onStarted(const std::map<std::string, std::string>& environment) override;
  void onMetrics(const std::vector<MetricPoint>& points) override;
  void onProgress(const ProgressInfo& progress) override;
  void onLog(LogLevel level, const std::string& message) override;
  void onCheckpoint(const CheckpointInfo& checkpoint) override;
  void onGenerated(const std::vector<GeneratedText>& texts) override;  // keeps the eval texts

  MailboxBatch drain();

 private:
  std::mutex mutex_;
  MailboxBatch pending_;
};

}  // namespace distill::ui
