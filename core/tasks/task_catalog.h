// What each task shows and what each metric key means, for front ends: no torch here, so the
// window (Qt) and the CLI include it. The tasks themselves are in core/tasks/task_registry.h.
//
// Thread contract: any thread (core/tasks/task_registry.h guards the list).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/metrics/metric_info.h"

namespace distill {

// The names of every task this build knows, built-in ones first ("image").
std::vector<std::string> taskNames();
// What the window shows for a run of task `name`; an unknown name (a task of a newer
// workbench) gets the image task's charts with the trainer's losses.
TaskDisplay taskDisplay(const std::string& name);
// The trainer's metrics followed by the task's: everything a run of that task may log.
std::vector<MetricInfo> displayedMetrics(const TaskDisplay& display);

// The declaration of `key`, from the trainer's keys or any task's; an undeclared key gets
// undeclaredMetricInfo() (a label from the key's last part, a direction from its words).
MetricInfo metricInfo(const std::string& key);
// Whether the trainer or a task declares `key` (metricInfo() of any other key is a guess).
bool isDeclaredMetric(const std::string& key);

// The task of a stored run from its params (flattened config): `task`, "image" for runs
// stored before tasks existed.
std::string taskOfRun(const std::map<std::string, std::string>& params);

// The headline values in one line, as `distill run` prints at its end and the window logs:
// "teacher acc 0.9112, student acc 0.8684, agreement 0.9149, KL 0.2001" ("-" where missing).
std::string headlineSummary(const TaskDisplay& display, const std::map<std::string, double>& final_values);

}  // namespace distill
