// The tasks this build knows, by the name `task:` takes in a config. What they show and what
// their metric keys mean: core/tasks/task_catalog.h (no torch, for the window).
//
// Thread contract: registerTask() before any run starts (at program or test start); every
// other function from any thread (a mutex guards the list).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/metrics/metric_info.h"
#include "core/tasks/task_catalog.h"
#include "core/tasks/task.h"

namespace distill {

struct TaskEntry {
  std::string name;     // "image"
  std::string summary;  // one line for help texts
  std::function<const TaskDisplay&()> display;
  // Loads the task's data for `config`; throws DataError or ConfigError naming the key.
  std::function<std::unique_ptr<Task>(const ExperimentConfig&)> make;
};

// Every task, built-in ones first (image), then registered ones in order.
std::vector<TaskEntry> registeredTasks();
// Adds a task (or replaces one of the same name): a plug-in, or a toy task in the tests.
void registerTask(TaskEntry entry);
std::optional<TaskEntry> findTask(const std::string& name);
// The task `config.task` names, with its data loaded. Throws ConfigError naming `task` and the
// known tasks when there is none of that name.
std::unique_ptr<Task> makeTask(const ExperimentConfig& config);
}  // namespace distill
