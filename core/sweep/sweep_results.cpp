#include "core/sweep/sweep_results.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "core/errors.h"
#include "core/store/run_store.h"
#include "core/sweep/sweep_control.h"
#include "core/sweep/sweep_manifest.h"
#include "core/sweep/sweep_status.h"

namespace fs = std::filesystem;

namespace distill {
namespace {

constexpr const char* kSweepTag = "sweep:";

// "temps-20260101T120000Z" -> "temps"; the time part orders ids.
std::string nameOfId(const std::string& id) {
  const size_t dash = id.rfind('-');
  return dash == std::string::npos ? id : id.substr(0, dash);
}
std::string timeOfId(const std::string& id) {
  const size_t dash = id.rfind('-');
  return dash == std::string::npos ? std::string() : id.substr(dash + 1);
}

// DIR from DIR/tasks/<hash>/runs.files/run-..., when DIR holds a sweep.json.
std::string sweepFolderOf(const std::string& files_dir) {
  if (files_dir.empty()) return {};
  const fs::path task = fs::path(files_dir).parent_path().parent_path();
  if (task.parent_path().filename() != "tasks") return {};
  const fs::path dir = task.parent_path().parent_path();
  std::error_code ec;
  return fs::is_regular_file(dir / "sweep.json", ec) ? dir.string() : std::string();
}

int64_t integerOf(const std::map<std::string, std::string>& values, const std::string& key) {
  const auto it = values.find(key);
  if (it == values.end()) return 0;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return 0;
  }
}

std::string valueOf(const std::map<std::string, std::string>& values, const std::string& key) {
  const auto it = values.find(key);
  return it == values.end() ? std::string() : it->second;
}

// Values ordered as an axis shows them: numerically when every one is a number.
std::vector<std::string> ordered(std::set<std::string> unique) {
  std::vector<std::string> values(unique.begin(), unique.end());
  if (numericValues(values))
    std::stable_sort(values.begin(), values.end(),
                     [](const std::string& a, const std::string& b) { return numericValue(a) < numericValue(b); });
  return values;
}

std::string axisValue(const SweepRow& row, const std::string& key) {
  for (const auto& [k, v] : row.axes)
    if (k == key) return v;
  return {};
}

bool usable(const SweepRow& row, const std::string& metric) {
  return row.state == "completed" && row.final_metrics.count(metric) && std::isfinite(row.final_metrics.at(metric));
}

}  // namespace

bool numericValues(const std::vector<std::string>& values) {
  if (values.empty()) return false;
  return std::all_of(values.begin(), values.end(), [](const std::string& v) { return !std::isnan(numericValue(v)); });
}

double numericValue(const std::string& value) {
  if (value.empty()) return std::numeric_limits<double>::quiet_NaN();
  try {
    size_t used = 0;
    const double number = std::stod(value, &used);
    return used == value.size() ? number : std::numeric_limits<double>::quiet_NaN();
  } catch (const std::exception&) {
    return std::numeric_limits<double>::quiet_NaN();
  }
}

std::vector<SweepRef> findSweeps(RunStore* main, const std::vector<std::string>& folders) {
  std::map<std::string, SweepRef> by_id;
  if (main) {
    for (const auto& run : main->listRuns()) {
      for (const auto& tag : run.tags) {
        if (tag.rfind(kSweepTag, 0) != 0) continue;
        SweepRef& ref = by_id[tag.substr(6)];
        ref.id = tag.substr(6);
        ref.name = nameOfId(ref.id);
        ++ref.imported;
        if (ref.folder.empty()) ref.folder = sweepFolderOf(run.files_dir);
      }
    }
  }
  for (const auto& folder : folders) {
    std::optional<SweepManifest> manifest;
    try {
      manifest = readManifest(folder);
    } catch (const ConfigError&) {
      continue;  // not a sweep's folder
    }
    if (!manifest) continue;
    SweepRef& ref = by_id[manifest->id];
    ref.id = manifest->id;
    ref.name = manifest->name;
    ref.folder = fs::absolute(folder).lexically_normal().string();
  }
  std::vector<SweepRef> refs;
  for (auto& [id, ref] : by_id) refs.push_back(std::move(ref));
  std::stable_sort(refs.begin(), refs.end(),
                   [](const SweepRef& a, const SweepRef& b) { return timeOfId(a.id) > timeOfId(b.id); });
  return refs;
}

bool SweepResults::allFinal() const {
  return std::all_of(rows.begin(), rows.end(), [](const SweepRow& r) { return r.index < 0 || isFinalState(r.state); });
}

std::string SweepResults::summary() const {
  std::map<std::string, int> counts;
  for (const auto& row : rows)
    if (row.index >= 0) ++counts[row.state];
  std::string text;
  for (const char* state : {"completed", "running", "starting", "pending"})
    if (counts.count(state)) text += (text.empty() ? "" : ", ") + std::to_string(counts[state]) + " " + state;
  for (const auto& [state, count] : counts)
    if (state != "completed" && state != "running" && state != "starting" && state != "pending")
      text += (text.empty() ? "" : ", ") + std::to_string(count) + " " + state;
  return text.empty() ? "no runs" : text;
}

SweepResults readSweep(const SweepRef& ref, RunStore* main, SlurmClient* slurm) {
  SweepResults results;
  results.ref = ref;
  std::map<std::string, int64_t> main_ids;  // by run UUID
  std::vector<RunRecord> tagged;
  if (main) {
    for (auto& run : main->listRuns()) {
      if (!run.uuid.empty()) main_ids[run.uuid] = run.id;
      if (std::find(run.tags.begin(), run.tags.end(), kSweepTag + ref.id) != run.tags.end()) tagged.push_back(run);
    }
  }
  std::optional<SweepManifest> manifest;
  if (!ref.folder.empty()) {
    try {
      manifest = readManifest(ref.folder);
      if (!manifest) results.problem = ref.folder + " holds no sweep.json";
    } catch (const std::exception& e) {
      results.problem = e.what();
    }
  }
  if (manifest) {
    results.local_runner = localRunner(ref.folder).pid;
    results.backend = manifest->backend;
    results.teacher_note = manifest->teacher_note;
    for (const auto& task : manifest->tasks) {
      if (task.index < 0) continue;
      for (const auto& [key, value] : task.axis_values)
        if (std::find(results.axes.begin(), results.axes.end(), key) == results.axes.end()) results.axes.push_back(key);
    }
    for (const auto& status : sweepStatus(ref.folder, *manifest, slurm, &results.slurm_source)) {
      SweepRow row;
      row.index = status.task.index;
      row.hash = status.task.hash;
      row.name = status.task.name;
      row.axes = status.task.axis_values;
      row.state = status.state;
      row.source = status.source;
      row.note = status.note;
      row.slurm = status.slurm;
      row.slurm_job = status.task.slurm_job;
      row.error = status.run.error;
      if (isFinalState(status.state) && status.state != "completed") row.log_tail = fileTail(status.log, 5);
      row.final_metrics = status.run.final_metrics;
      row.progress = status.run.progress;
      row.phase = status.run.phase;
      row.epoch = status.run.epoch;
      row.student_parameters = integerOf(status.run.environment, "student_parameters");
      row.task = valueOf(status.run.params, "task");
      row.uuid = status.run.uuid;
      if (const auto it = main_ids.find(row.uuid); it != main_ids.end()) row.main_run_id = it->second;
      results.rows.push_back(std::move(row));
    }
    return results;
  }

  // Only the imported runs: axis values from their key=value tags, in the runs' order.
  std::reverse(tagged.begin(), tagged.end());  // oldest first
  for (const auto& listed : tagged) {
    const auto run = main->getRun(listed.id);
    if (!run) continue;
    SweepRow row;
    row.name = run->name;
    const size_t slash = run->name.rfind('/');
    if (slash != std::string::npos) row.index = static_cast<int>(integerOf({{"i", run->name.substr(slash + 1)}}, "i"));
    for (const auto& tag : run->tags) {
      const size_t eq = tag.find('=');
      if (tag.rfind(kSweepTag, 0) == 0 || eq == std::string::npos || eq == 0) continue;
      row.axes.emplace_back(tag.substr(0, eq), tag.substr(eq + 1));
      if (std::find(results.axes.begin(), results.axes.end(), tag.substr(0, eq)) == results.axes.end())
        results.axes.push_back(tag.substr(0, eq));
    }
    row.state = statusName(run->status);
    row.error = run->error;
    row.final_metrics = run->final_metrics;
    row.progress = run->status == RunStatus::Completed ? 1.0 : -1.0;
    row.student_parameters = integerOf(run->environment, "student_parameters");
    row.task = valueOf(run->params, "task");
    row.uuid = run->uuid;
    row.main_run_id = run->id;
    results.rows.push_back(std::move(row));
  }
  std::stable_sort(results.rows.begin(), results.rows.end(),
                   [](const SweepRow& a, const SweepRow& b) { return a.index < b.index; });
  return results;
}

AxisGrouping groupByAxes(const std::vector<SweepRow>& rows, const std::string& metric, const std::string& x_axis,
                         const std::string& series_axis) {
  AxisGrouping grouping;
  grouping.x_axis = x_axis;
  grouping.series_axis = series_axis;
  grouping.metric = metric;
  std::set<std::string> xs, series;
  std::set<std::string> varying;  // axes other than x and series whose values differ
  std::map<std::string, std::set<std::string>> other_values;
  for (const auto& row : rows) {
    if (!usable(row, metric)) continue;
    xs.insert(axisValue(row, x_axis));
    series.insert(series_axis.empty() ? std::string() : axisValue(row, series_axis));
    for (const auto& [key, value] : row.axes)
      if (key != x_axis && key != series_axis) other_values[key].insert(value);
  }
  for (const auto& [key, values] : other_values)
    if (values.size() > 1) grouping.spread_over.push_back(key);
  grouping.x_values = ordered(xs);
  grouping.series_values = ordered(series);
  grouping.x_numeric = numericValues(grouping.x_values);
  for (const auto& series_value : grouping.series_values) {
    for (size_t xi = 0; xi < grouping.x_values.size(); ++xi) {
      AxisGroup group;
      group.x_value = grouping.x_values[xi];
      group.series_value = series_value;
      group.x = grouping.x_numeric ? numericValue(group.x_value) : static_cast<double>(xi);
      std::vector<double> values;
      for (size_t r = 0; r < rows.size(); ++r) {
        if (!usable(rows[r], metric) || axisValue(rows[r], x_axis) != group.x_value) continue;
        if (!series_axis.empty() && axisValue(rows[r], series_axis) != series_value) continue;
        values.push_back(rows[r].final_metrics.at(metric));
        group.rows.push_back(static_cast<int>(r));
      }
      if (values.empty()) continue;
      group.runs = static_cast<int>(values.size());
      double sum = 0.0;
      for (double v : values) sum += v;
      group.mean = sum / values.size();
      if (values.size() > 1) {
        double squares = 0.0;
        for (double v : values) squares += (v - group.mean) * (v - group.mean);
        group.spread = std::sqrt(squares / (values.size() - 1));
      }
      grouping.groups.push_back(std::move(group));
    }
  }
  return grouping;
}

double ParallelAxis::position(double value) const {
  if (!(high > low)) return 0.5;
  if (log && value > 0) return std::clamp((std::log(value) - std::log(low)) / (std::log(high) - std::log(low)), 0.0, 1.0);
  return std::clamp((value - low) / (high - low), 0.0, 1.0);
}

double ParallelAxis::position(const std::string& value) const {
  if (numeric) return position(numericValue(value));
  const auto it = std::find(categories.begin(), categories.end(), value);
  if (it == categories.end() || categories.size() < 2) return 0.5;
  return static_cast<double>(it - categories.begin()) / (categories.size() - 1);
}

ParallelCoordinates parallelCoordinates(const std::vector<SweepRow>& rows, const std::vector<std::string>& axes,
                                        const std::string& metric) {
  ParallelCoordinates chart;
  std::vector<int> used;
  for (size_t r = 0; r < rows.size(); ++r)
    if (usable(rows[r], metric)) used.push_back(static_cast<int>(r));
  const auto numericAxis = [](ParallelAxis& axis, const std::vector<double>& values) {
    axis.numeric = true;
    axis.low = *std::min_element(values.begin(), values.end());
    axis.high = *std::max_element(values.begin(), values.end());
    axis.log = axis.low > 0 && axis.high / axis.low > 20.0;
  };
  for (const auto& key : axes) {
    ParallelAxis axis;
    axis.key = key;
    std::set<std::string> values;
    for (int r : used) values.insert(axisValue(rows[r], key));
    axis.categories = ordered(values);
    if (numericValues(axis.categories)) {
      std::vector<double> numbers;
      for (const auto& v : axis.categories) numbers.push_back(numericValue(v));
      numericAxis(axis, numbers);
    }
    chart.axes.push_back(std::move(axis));
  }
  ParallelAxis metric_axis;
  metric_axis.key = metric;
  if (!used.empty()) {
    std::vector<double> values;
    for (int r : used) values.push_back(rows[r].final_metrics.at(metric));
    numericAxis(metric_axis, values);
    metric_axis.log = false;  // a metric reads linearly
  }
  chart.axes.push_back(metric_axis);
  for (int r : used) {
    ParallelCoordinates::Line line;
    line.row = r;
    line.metric = rows[r].final_metrics.at(metric);
    for (size_t a = 0; a + 1 < chart.axes.size(); ++a) line.y.push_back(chart.axes[a].position(axisValue(rows[r], chart.axes[a].key)));
    line.y.push_back(chart.axes.back().position(line.metric));
    chart.lines.push_back(std::move(line));
  }
  return chart;
}

std::vector<ParetoPoint> paretoFront(const std::vector<SweepRow>& rows, const std::string& metric, bool higher_is_better) {
  std::vector<ParetoPoint> points;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (!usable(rows[r], metric) || rows[r].student_parameters <= 0) continue;
    ParetoPoint point;
    point.row = static_cast<int>(r);
    point.parameters = static_cast<double>(rows[r].student_parameters);
    point.value = rows[r].final_metrics.at(metric);
    points.push_back(point);
  }
  const auto better = [&](double a, double b) { return higher_is_better ? a > b : a < b; };
  std::stable_sort(points.begin(), points.end(), [&](const ParetoPoint& a, const ParetoPoint& b) {
    return a.parameters != b.parameters ? a.parameters < b.parameters : better(a.value, b.value);
  });
  bool any = false;
  double best = 0.0, best_size = 0.0;
  for (auto& point : points) {
    // On the front when better than every run as small or smaller (a tie with the front point
    // of its own size too: neither is better).
    point.on_front = !any || better(point.value, best) || (point.value == best && point.parameters == best_size);
    if (!any || better(point.value, best)) {
      best = point.value;
      best_size = point.parameters;
    }
    any = true;
  }
  return points;
}

}  // namespace distill
