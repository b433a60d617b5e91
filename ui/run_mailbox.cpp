#include "ui/run_mailbox.h"

namespace distill::ui {

void RunMailbox::onStarted(const std::map<std::string, std::string>& environment) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.environment = environment;
}

void RunMailbox::onMetrics(const std::vector<MetricPoint>& points) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.metrics.insert(pending_.metrics.end(), points.begin(), points.end());
}

void RunMailbox::onProgress(const ProgressInfo& progress) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.progress = progress;
}

void RunMailbox::onLog(LogLevel level, const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.logs.push_back({level, message});
}

void RunMailbox::onCheckpoint(const CheckpointInfo& checkpoint) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.logs.push_back({LogLevel::Info, "saved " + checkpoint.role + " checkpoint " + checkpoint.path});
}

void RunMailbox::onGenerated(const std::vector<GeneratedText>& texts) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& text : texts)
    if (text.purpose == "eval") pending_.texts.push_back(text);
}

MailboxBatch RunMailbox::drain() {
  std::lock_guard<std::mutex> lock(mutex_);
  MailboxBatch batch = std::move(pending_);
  pending_ = MailboxBatch();
  return batch;
}

}  // namespace distill::ui
