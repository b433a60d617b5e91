#include "core/train/observer.h"

#include <cmath>

#include <fmt/format.h>

namespace distill {

namespace {

// 950, 12.8k, 1.2M, 3.4G: three significant figures at most.
std::string compactCount(double n) {
  const double a = std::fabs(n);
  const char* suffix = "";
  double scaled = n;
  if (a >= 1e9) scaled = n / 1e9, suffix = "G";
  else if (a >= 1e6) scaled = n / 1e6, suffix = "M";
  else if (a >= 1e3) scaled = n / 1e3, suffix = "k";
  if (*suffix == '\0') return fmt::format("{:.0f}", n);
  return std::fabs(scaled) < 100 ? fmt::format("{:.1f}{}", scaled, suffix) : fmt::format("{:.0f}{}", scaled, suffix);
}

}  // namespace

std::string progressUnitsText(const ProgressInfo& progress) {
  if (!(progress.total_units > 0)) return {};
  return compactCount(progress.done_units) + " / " + compactCount(progress.total_units) + " " + progress.units;
}

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
