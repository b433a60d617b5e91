#include "app/cli/console_progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>

#include "core/metrics/metric_keys.h"
#include "core/tasks/task_catalog.h"

namespace distill::cli {

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto total = static_cast<long>(seconds + 0.5);
  if (total >= 3600) return fmt::format("{}:{:02}:{:02}", total / 3600, (total / 60) % 60, total % 60);
  return fmt::format("{:02}:{:02}", total / 60, total % 60);
}

ConsoleProgress::ConsoleProgress(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}

void ConsoleProgress::clearLine() {
  if (line_open_) {
    fmt::print(stderr, "\r\033[K");
    line_open_ = false;
  }
}

void ConsoleProgress::finish() {
  if (line_open_) fmt::print(stderr, "\n");
  line_open_ = false;
}

void ConsoleProgress::onStarted(const std::map<std::string, std::string>& environment) {
  const auto task = environment.find("task");
  if (task != environment.end()) display_ = taskDisplay(task->second);
  if (quiet_) return;
  auto get = [&](const char* key) {
    auto it = environment.find(key);
    return it == environment.end() ? std::string("?") : it->second;
  };
  fmt::print(stderr, "LibTorch {} on {} ({} threads: {}; {})\n", get("torch_version"), get("device"),
             get("intra_op_threads"), get("threads_reason"), get("blas"));
  fmt::print(stderr, "matrix products: {}\n", get("gemm"));
  fmt::print(stderr, "data: {} train / {} test samples from {}\n", get("train_samples"), get("test_samples"),
             get("dataset_folder"));
  fmt::print(stderr, "teacher: {} parameters; student: {} parameters\n", get("teacher_parameters"),
             get("student_parameters"));
}

void ConsoleProgress::onMetrics(const std::vector<MetricPoint>& points) {
  bool evaluation = false;
  for (const auto& p : points) {
    latest_[p.key] = p.value;
    evaluation = evaluation || p.key.rfind("eval/", 0) == 0;
  }
  if (quiet_ || !evaluation) return;
  // The evaluation's headline values, named as the task declares them.
  std::string values;
  for (const auto* key : {&display_.teacher_quality, &display_.student_quality, &display_.agreement, &display_.divergence})
    for (const auto& p : points)
      if (!key->empty() && p.key == *key) {
        const MetricInfo info = metricInfo(p.key);
        values += fmt::format("  {} {:.4f}", info.short_label.empty() ? info.label : info.short_label, p.value);
      }
  if (values.empty()) return;
  clearLine();
  fmt::print(stderr, "  eval  epoch {:5.2f}{}\n", points.front().epoch, values);
}

void ConsoleProgress::onProgress(const ProgressInfo& p) {
  if (quiet_ || !tty_) return;
  const double fraction = p.total_steps > 0 ? static_cast<double>(p.done_steps) / p.total_steps : 0.0;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  const bool teacher = p.phase == Phase::Teacher;
  const std::string loss_key = teacher ? metric_key::kTeacherTrainLoss : metric_key::kStudentTrainLoss;
  const double loss = latest_.count(loss_key) ? latest_[loss_key] : NAN;
  const std::string units = progressUnitsText(p);
  fmt::print(stderr, "\r\033[K{} epoch {}/{} [{}] {:3.0f}%{}  loss {:.4f}  {:.0f} {}/s  ETA {}", phaseName(p.phase),
             p.epoch, p.epochs, bar, fraction * 100.0, units.empty() ? "" : "  " + units, loss, p.units_per_s, p.units,
             formatDuration(p.eta_s));
  std::fflush(stderr);
  line_open_ = true;
}

void ConsoleProgress::onLog(LogLevel level, const std::string& message) {
  if (quiet_ && level == LogLevel::Info) return;
  clearLine();
  const char* prefix = level == LogLevel::Error ? "error: " : level == LogLevel::Warning ? "warning: " : "";
  fmt::print(stderr, "{}{}\n", prefix, message);
}

}  // namespace distill::cli
