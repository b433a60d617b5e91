#include "core/store/compared_metrics.h"

#include <algorithm>
#include <iterator>

namespace distill {

MetricSelection selectComparedMetrics(const std::vector<RunMetricKeys>& runs) {
  MetricSelection selection;
  std::set<std::string> tasks, every;
  for (const auto& run : runs) {
    tasks.insert(run.task);
    every.insert(run.keys.begin(), run.keys.end());
  }
  selection.mixed_tasks = tasks.size() > 1;
  for (const auto& key : every) {
    const bool in_all = std::all_of(runs.begin(), runs.end(), [&](const RunMetricKeys& run) { return run.keys.count(key) > 0; });
    (in_all || !selection.mixed_tasks ? selection.shown : selection.left_out).push_back(key);
  }
  return selection;
}

std::string leftOutNote(const MetricSelection& selection) {
  if (selection.left_out.empty()) return {};
  std::string note = "left out (not in every run): ";
  for (size_t i = 0; i < selection.left_out.size(); ++i) note += (i ? ", " : "") + selection.left_out[i];
  return note;
}

}  // namespace distill
