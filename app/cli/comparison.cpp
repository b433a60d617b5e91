#include "app/cli/comparison.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "core/errors.h"
#include "core/metrics/metric_info.h"
#include "core/tasks/lm/lm_tokens.h"
#include "core/tasks/task_catalog.h"
#include "app/cli/console_progress.h"
#include "core/runtime/runtime.h"
#include "core/text/utf8.h"

namespace distill::cli {

Comparison loadComparison(RunStore& store, const std::vector<int64_t>& run_ids, const std::vector<std::string>& metrics) {
  Comparison comparison;
  std::set<std::string> metric_keys, param_keys;
  std::vector<RunMetricKeys> run_keys;
  for (int64_t id : run_ids) {
    auto run = store.getRun(id);
    if (!run) throw StoreError("run " + std::to_string(id) + " not found in " + store.path());
    ComparedRun compared{*run, {}};
    if (metrics.empty()) {
      for (auto& point : store.metrics(id)) compared.series[point.key].push_back(std::move(point));
    } else {
      for (const auto& key : metrics) {
        auto points = store.metrics(id, key);
        if (!points.empty()) compared.series[key] = std::move(points);
      }
    }
    RunMetricKeys keys{taskOfRun(compared.run.params), {}};
    for (const auto& [key, points] : compared.series) metric_keys.insert(key), keys.keys.insert(key);
    run_keys.push_back(std::move(keys));
    for (const auto& [key, value] : compared.run.params) param_keys.insert(key);
    comparison.runs.push_back(std::move(compared));
  }
  if (!metrics.empty()) {
    for (const auto& key : metrics)
      if (!metric_keys.count(key))
        throw StoreError("no run of the comparison has the metric '" + key + "' (see `distill show RUN`)");
  }
  if (metrics.empty()) {
    MetricSelection selection = selectComparedMetrics(run_keys);
    comparison.metric_keys = std::move(selection.shown);
    comparison.left_out_metrics = std::move(selection.left_out);
  } else {
    comparison.metric_keys.assign(metric_keys.begin(), metric_keys.end());
  }
  comparison.param_keys.assign(param_keys.begin(), param_keys.end());
  return comparison;
}

std::string paramValue(const ComparedRun& run, const std::string& key) {
  auto it = run.run.params.find(key);
  return it == run.run.params.end() ? "-" : it->second;
}

bool paramDiffers(const Comparison& comparison, const std::string& key) {
  for (const auto& run : comparison.runs)
    if (paramValue(run, key) != paramValue(comparison.runs.front(), key)) return true;
  return false;
}

SeriesSummary summaryOf(const ComparedRun& run, const std::string& key) {
  auto it = run.series.find(key);
  if (it == run.series.end()) return {};
  std::vector<int64_t> steps;
  std::vector<double> values;
  for (const auto& p : it->second) steps.push_back(p.step), values.push_back(p.value);
  return summarizeSeries(steps, values, metricInfo(key).higher_is_better);
}

namespace {

std::string runLabel(const RunRecord& run) { return fmt::format("#{} {}", run.id, run.name); }

// Cut at a character boundary by terminal columns, control characters escaped, padded.
std::string fit(const std::string& text, size_t width) { return terminalText(text, width); }

std::string number(double value) { return fmt::format("{:.4g}", value); }

std::string html(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string compareText(const Comparison& comparison, bool all_params) {
  std::string out;
  out += "runs:\n";
  for (const auto& r : comparison.runs)
    out += fmt::format("  {:>5}  {:<44}  {:<11}  {}\n", r.run.id, fit(r.run.name, 44), statusName(r.run.status),
                       r.run.created_at.substr(0, 19));

  const size_t column = 14;
  auto header = [&](const std::string& first, size_t first_width) {
    std::string line = fmt::format("  {:<{}}", first, first_width);
    for (const auto& r : comparison.runs) line += fmt::format("  {:>{}}", "#" + std::to_string(r.run.id), column);
    return line + "\n";
  };

  size_t key_width = 10;
  for (const auto& key : comparison.param_keys) key_width = std::max(key_width, key.size());
  std::vector<std::string> shown;
  for (const auto& key : comparison.param_keys)
    if (all_params || paramDiffers(comparison, key)) shown.push_back(key);
  out += all_params ? "\nconfig (* = differs):\n" : "\nconfig differences:\n";
  if (shown.empty()) {
    out += "  (none: every config key is the same)\n";
  } else {
    out += header("key", key_width + 2);
    for (const auto& key : shown) {
      std::string line = fmt::format("  {}{:<{}}", paramDiffers(comparison, key) ? "* " : "  ", key, key_width);
      for (const auto& r : comparison.runs) line += fmt::format("  {:>{}}", fit(paramValue(r, key), column), column);
      out += line + "\n";
    }
  }

  size_t metric_width = 12;
  for (const auto& key : comparison.metric_keys) metric_width = std::max(metric_width, key.size() + 7);
  out += "\nsummary (final / best @ step; the best run of each row is marked *):\n";
  if (!comparison.left_out_metrics.empty())
    out += "  runs of several tasks: only their shared metrics; " +
           leftOutNote({comparison.metric_keys, comparison.left_out_metrics, true}) + "\n";
  out += header("metric", metric_width);
  for (const auto& key : comparison.metric_keys) {
    const bool higher = metricInfo(key).higher_is_better;
    // Which run has the best final value: marks the row's winner.
    int best_run = -1;
    double best_final = 0.0;
    for (size_t i = 0; i < comparison.runs.size(); ++i) {
      const auto s = summaryOf(comparison.runs[i], key);
      if (s.count == 0) continue;
      if (best_run < 0 || (higher ? s.final_value > best_final : s.final_value < best_final))
        best_run = static_cast<int>(i), best_final = s.final_value;
    }
    std::string final_line = fmt::format("  {:<{}}", key + " final", metric_width);
    std::string best_line = fmt::format("  {:<{}}", key + " best", metric_width);
    for (size_t i = 0; i < comparison.runs.size(); ++i) {
      const auto s = summaryOf(comparison.runs[i], key);
      const std::string mark = static_cast<int>(i) == best_run ? "*" : "";
      final_line += fmt::format("  {:>{}}", s.count ? number(s.final_value) + mark : "-", column);
      best_line += fmt::format("  {:>{}}", s.count ? number(s.best_value) + " @" + std::to_string(s.best_step) : "-",
                               column);
    }
    out += final_line + "\n" + best_line + "\n";
  }
  return out;
}

nlohmann::json compareJson(const Comparison& comparison) {
  nlohmann::json out = {{"runs", nlohmann::json::array()}, {"differing_params", nlohmann::json::array()}};
  for (const auto& r : comparison.runs) {
    nlohmann::json summary = nlohmann::json::object();
    for (const auto& key : comparison.metric_keys) {
      const auto s = summaryOf(r, key);
      if (s.count == 0) continue;
      summary[key] = {{"final", s.final_value}, {"final_step", s.final_step}, {"best", s.best_value},
                      {"best_step", s.best_step}, {"points", s.count}};
    }
    out["runs"].push_back({{"id", r.run.id}, {"name", r.run.name}, {"status", statusName(r.run.status)},
                           {"params", r.run.params}, {"summary", summary}});
  }
  for (const auto& key : comparison.param_keys)
    if (paramDiffers(comparison, key)) out["differing_params"].push_back(key);
  out["left_out_metrics"] = comparison.left_out_metrics;  // runs of several tasks: not in every run
  return out;
}

XAxis xAxisFromName(const std::string& name) {
  if (name == "step") return XAxis::Step;
  if (name == "epoch") return XAxis::Epoch;
  if (name == "relative") return XAxis::Relative;
  if (name == "wall") return XAxis::Wall;
  if (name == "tokens") return XAxis::Tokens;
  throw std::invalid_argument("x axis must be step, epoch, relative, wall or tokens, not '" + name + "'");
}

void checkXAxis(const Comparison& comparison, XAxis x_axis) {
  if (x_axis != XAxis::Tokens) return;
  for (const auto& r : comparison.runs)
    if (lmTokensPerStep(r.run.params) <= 0)
      throw std::invalid_argument("tokens seen need language-model runs with train.batch_size and lm.context; run " +
                                  std::to_string(r.run.id) + " is of task " + taskOfRun(r.run.params));
}

ChartRequest chartFor(const Comparison& comparison, const std::string& metric, XAxis x_axis) {
  ChartRequest request;
  // Titles, labels, units and bounds from the metric table, as the window draws them.
  request.metric = metric;
  request.x_axis = x_axis == XAxis::Step       ? "step"
                   : x_axis == XAxis::Epoch    ? "epoch"
                   : x_axis == XAxis::Relative ? "relative"
                   : x_axis == XAxis::Wall     ? "wall"
                                               : "tokens";
  const MetricInfo info = metricInfo(metric);
  request.title = info.label;
  request.y_label = metricAxisLabel(info);
  request.x_label = request.x_axis;
  request.x_is_wall_time = x_axis == XAxis::Wall;
  for (const auto& r : comparison.runs) {
    ChartCurve curve{runLabel(r.run), {}, {}};
    const double tokens_per_step = lmTokensPerStep(r.run.params);  // for XAxis::Tokens (checkXAxis)
    auto it = r.series.find(metric);
    if (it != r.series.end()) {
      // Relative time counts from the run's first point of any metric, so teacher and
      // student phases line up as they ran.
      double start = 0.0;
      bool have_start = false;
      for (const auto& [key, points] : r.series)
        if (!points.empty() && (!have_start || points.front().wall_time < start))
          start = points.front().wall_time, have_start = true;
      for (const auto& p : it->second) {
        curve.x.push_back(x_axis == XAxis::Step       ? static_cast<double>(p.step)
                          : x_axis == XAxis::Epoch    ? p.epoch
                          : x_axis == XAxis::Relative ? p.wall_time - start
                          : x_axis == XAxis::Wall     ? p.wall_time
                                                      : static_cast<double>(p.step) * tokens_per_step);
        curve.y.push_back(p.value);
      }
    }
    request.curves.push_back(std::move(curve));  // kept even when empty: colours follow run order
  }
  return request;
}

std::string reportHtml(const Comparison& comparison, const ReportOptions& options) {
  std::string ids;
  for (const auto& r : comparison.runs) ids += (ids.empty() ? "" : ", ") + std::to_string(r.run.id);
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  out += "<title>Comparison of runs " + html(ids) + "</title>\n";
  out += R"(<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 2em auto; max-width: 1100px; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } tr.differs td { background: #fff4d6; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.best { font-weight: bold; } .muted { color: #888; } figure { margin: 1.5em 0; } svg { max-width: 100%; height: auto; }
</style></head><body>
)";
  out += "<h1>Comparison of runs " + html(ids) + "</h1>\n";
  out += "<p class=\"muted\">Distill Workbench " + html(workbenchVersion()) + "</p>\n";

  out += "<h2>Runs</h2>\n<table><tr><th>run</th><th>name</th><th>status</th><th>created (UTC)</th><th>duration</th><th>tags</th></tr>\n";
  for (size_t i = 0; i < comparison.runs.size(); ++i) {
    const auto& run = comparison.runs[i].run;
    const std::string color = chartColorHex(i);
    std::string tags;
    for (const auto& t : run.tags) tags += (tags.empty() ? "" : ", ") + t;
    out += "<tr><td>" + (color.empty() ? "" : "<span class=\"swatch\" style=\"background:" + color + "\"></span>") +
           "#" + std::to_string(run.id) + "</td><td>" + html(run.name) + "</td><td>" + statusName(run.status) +
           "</td><td>" + html(run.created_at.substr(0, 19)) + "</td><td>" +
           (run.finished_at.empty() ? "-" : html(formatDuration(run.duration_s))) + "</td><td>" + html(tags) +
           "</td></tr>\n";
  }
  out += "</table>\n";

  auto run_header = [&] {
    std::string h;
    for (const auto& r : comparison.runs) h += "<th>#" + std::to_string(r.run.id) + "</th>";
    return h;
  };
  out += "<h2>Config differences</h2>\n";
  std::string differing, all;
  for (const auto& key : comparison.param_keys) {
    const bool differs = paramDiffers(comparison, key);
    std::string row = std::string("<tr") + (differs ? " class=\"differs\"" : "") + "><td>" + html(key) + "</td>";
    for (const auto& r : comparison.runs) row += "<td>" + html(paramValue(r, key)) + "</td>";
    row += "</tr>\n";
    if (differs) differing += row;
    all += row;
  }
  if (differing.empty())
    out += "<p>None: every config key is the same.</p>\n";
  else
    out += "<table><tr><th>key</th>" + run_header() + "</tr>\n" + differing + "</table>\n";
  out += "<details><summary>Every config key</summary>\n<table><tr><th>key</th>" + run_header() + "</tr>\n" + all +
         "</table></details>\n";

  out += "<h2>Summary</h2>\n<p class=\"muted\">Final value, and best value with the step where it was first "
         "reached; bold: the best final value of the row.</p>\n";
  if (!comparison.left_out_metrics.empty())
    out += "<p>Runs of several tasks: only their shared metrics; " +
           html(leftOutNote({comparison.metric_keys, comparison.left_out_metrics, true})) + ".</p>\n";
  out += "<table><tr><th>metric</th>";
  for (const auto& r : comparison.runs) out += "<th>#" + std::to_string(r.run.id) + " final</th><th>best @ step</th>";
  out += "</tr>\n";
  for (const auto& key : comparison.metric_keys) {
    const bool higher = metricInfo(key).higher_is_better;
    int best_run = -1;
    double best_final = 0.0;
    for (size_t i = 0; i < comparison.runs.size(); ++i) {
      const auto s = summaryOf(comparison.runs[i], key);
      if (s.count && (best_run < 0 || (higher ? s.final_value > best_final : s.final_value < best_final)))
        best_run = static_cast<int>(i), best_final = s.final_value;
    }
    out += "<tr><td>" + html(key) + "</td>";
    for (size_t i = 0; i < comparison.runs.size(); ++i) {
      const auto s = summaryOf(comparison.runs[i], key);
      if (!s.count) {
        out += "<td class=\"num\">-</td><td class=\"num\">-</td>";
        continue;
      }
      out += std::string("<td class=\"num") + (static_cast<int>(i) == best_run ? " best" : "") + "\">" +
             number(s.final_value) + "</td><td class=\"num\">" + number(s.best_value) + " @ " +
             std::to_string(s.best_step) + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</table>\n";

  out += "<h2>Charts</h2>\n";
  if (!chartsAvailable()) {
    out += "<p class=\"muted\">Charts need the GUI build of distill (this one was built without Qt); the tables "
           "above are complete.</p>\n";
  } else {
    for (const auto& key : comparison.metric_keys) {
      ChartRequest request = chartFor(comparison, key, options.x_axis);
      request.smoothing = options.smoothing;
      request.log_y = options.log_y;
      request.width_in = 7.5;
      request.height_in = 3.8;
      std::string svg = chartSvg(request);
      // Keep only the <svg> element: the XML prolog does not belong inside HTML.
      const auto start = svg.find("<svg");
      if (start != std::string::npos) svg = svg.substr(start);
      out += "<figure>" + svg + "</figure>\n";
    }
  }
  out += "</body></html>\n";
  return out;
}

}  // namespace distill::cli
