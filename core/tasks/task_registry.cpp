#include "core/tasks/task_registry.h"

#include <cstdio>
#include <mutex>

#include "core/tasks/image/image_metrics.h"
#include "core/tasks/image/image_task.h"
#include "core/tasks/lm/lm_metrics.h"
#include "core/tasks/lm/lm_task.h"

namespace distill {

namespace {

std::mutex& registryMutex() {
  static std::mutex mutex;
  return mutex;
}

// One line per built-in task.
std::vector<TaskEntry>& registry() {
  static std::vector<TaskEntry> tasks = {
      {"image", "image (or table) classification: IDX, CIFAR or CSV data; MLP, CNN, ResNet or TorchScript models",
       imageTaskDisplay, [](const ExperimentConfig& config) { return std::make_unique<ImageTask>(config); }},
      {"lm", "causal language modelling: a text corpus (Debian's fortunes by default), byte or char tokens, GPT models",
       lmTaskDisplay, [](const ExperimentConfig& config) { return std::make_unique<LmTask>(config); }},
  };
  return tasks;
}

std::optional<MetricInfo> declared(const std::string& key) {
  for (const auto& row : trainingMetrics())
    if (row.key == key) return row;
  for (const auto& task : registeredTasks())
    for (const auto& row : task.display().metrics)
      if (row.key == key) return row;
  return std::nullopt;
}

}  // namespace

std::vector<std::string> taskNames() {
  std::vector<std::string> names;
  for (const auto& task : registeredTasks()) names.push_back(task.name);
  return names;
}

std::vector<TaskEntry> registeredTasks() {
  std::lock_guard<std::mutex> lock(registryMutex());
  return registry();
}

void registerTask(TaskEntry entry) {
  std::lock_guard<std::mutex> lock(registryMutex());
  for (auto& task : registry())
    if (task.name == entry.name) {
      task = std::move(entry);
      return;
    }
  registry().push_back(std::move(entry));
}

std::optional<TaskEntry> findTask(const std::string& name) {
  for (auto& task : registeredTasks())
    if (task.name == name) return task;
  return std::nullopt;
}

std::unique_ptr<Task> makeTask(const ExperimentConfig& config) {
  const auto task = findTask(config.task);
  if (!task) {
    std::string known;
    for (const auto& t : registeredTasks()) known += (known.empty() ? "" : ", ") + t.name;
    throw ConfigError({{"task", "unknown task '" + config.task + "' (this workbench has: " + known + ")"}});
  }
  return task->make(config);
}

TaskDisplay taskDisplay(const std::string& name) {
  if (const auto task = findTask(name)) return task->display();
  return imageTaskDisplay();
}

std::vector<MetricInfo> displayedMetrics(const TaskDisplay& display) {
  auto rows = trainingMetrics();
  rows.insert(rows.end(), display.metrics.begin(), display.metrics.end());
  return rows;
}

MetricInfo metricInfo(const std::string& key) {
  if (auto row = declared(key)) return *row;
  return undeclaredMetricInfo(key);
}

bool isDeclaredMetric(const std::string& key) { return declared(key).has_value(); }

std::string taskOfRun(const std::map<std::string, std::string>& params) {
  const auto it = params.find("task");
  return it == params.end() || it->second.empty() ? "image" : it->second;
}

std::string headlineSummary(const TaskDisplay& display, const std::map<std::string, double>& final_values) {
  std::string line;
  for (const auto* key : {&display.teacher_quality, &display.student_quality, &display.agreement, &display.divergence}) {
    if (key->empty()) continue;
    const MetricInfo info = metricInfo(*key);
    const auto value = final_values.find(*key);
    char number[32] = "-";
    if (value != final_values.end()) std::snprintf(number, sizeof number, "%.4f", value->second);
    line += (line.empty() ? "" : ", ") + (info.short_label.empty() ? info.label : info.short_label) + " " + number;
  }
  return line;
}

}  // namespace distill
