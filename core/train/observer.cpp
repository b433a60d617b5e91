#include "core/train/observer.h"

namespace distill {

const char* phaseName(Phase phase) { return phase == Phase::Teacher ? "teacher" : "student"; }

void ObserverList::onStarted(const std::map<std::string, std::string>& environment) {
  for (auto* o : observers_) o->onStarted(environment);
}
void ObserverList::onMetrics(const std::vector<MetricPoint>& points) {
  for (auto* o : observers_) o->onMetrics(points);
}
void ObserverList::onProgress(const ProgressInfo& progress) {
  for (auto* o : observers_) o->onProgress(progress);
}
void ObserverList::onLog(LogLevel level, const std::string& message) {
  for (auto* o : observers_) o->onLog(level, message);
}
void ObserverList::onCheckpoint(const CheckpointInfo& checkpoint) {
  for (auto* o : observers_) o->onCheckpoint(checkpoint);
}
void ObserverList::onGenerated(const std::vector<GeneratedText>& texts) {
  for (auto* o : observers_) o->onGenerated(texts);
}

}  // namespace distill
