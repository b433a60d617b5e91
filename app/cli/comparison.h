// A comparison of runs for `distill compare` and `distill report`: the runs with their
// curves, the config keys that differ, the final and best value of every metric, and the
// comparison as terminal text, JSON, or a self-contained HTML report.
//
// Thread contract: plain data and functions; one thread.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "app/cli/chart_render.h"
#include "core/metrics/smoothing.h"
#include "core/store/compared_metrics.h"
#include "core/store/run_store.h"

namespace distill::cli {

struct ComparedRun {
  RunRecord run;  // with params
  std::map<std::string, std::vector<MetricPoint>> series;  // metric key -> points in step order
};

struct Comparison {
  std::vector<ComparedRun> runs;
  // Sorted: every metric of the runs, or for runs of several tasks the metrics every run has
  // (core/store/compared_metrics.h); metrics named with --metric are kept as asked.
  std::vector<std::string> metric_keys;
  std::vector<std::string> left_out_metrics;  // runs of several tasks: metrics not in every run, sorted
  std::vector<std::string> param_keys;   // union over the runs, sorted
};

// Loads the runs (throws StoreError for a missing one); `metrics` empty = every metric.
Comparison loadComparison(RunStore& store, const std::vector<int64_t>& run_ids, const std::vector<std::string>& metrics);

// The value of a param for a run, "-" when the run lacks it.
std::string paramValue(const ComparedRun& run, const std::string& key);
bool paramDiffers(const Comparison& comparison, const std::string& key);
SeriesSummary summaryOf(const ComparedRun& run, const std::string& key);

// Terminal text: runs, differing config keys (all with `all_params`), summary table.
std::string compareText(const Comparison& comparison, bool all_params);
nlohmann::json compareJson(const Comparison& comparison);

// Tokens: tokens seen, step x train.batch_size x lm.context (core/tasks/lm/lm_tokens.h), for
// language-model runs only, as the compare view's "Tokens".
enum class XAxis { Step, Epoch, Relative, Wall, Tokens };
XAxis xAxisFromName(const std::string& name);  // throws std::invalid_argument
// Throws std::invalid_argument naming the first run that cannot be drawn along `x_axis` (a run
// that is not a language-model run, for Tokens).
void checkXAxis(const Comparison& comparison, XAxis x_axis);
// One metric of every run as a chart request (x, labels and legend filled).
ChartRequest chartFor(const Comparison& comparison, const std::string& metric, XAxis x_axis);

struct ReportOptions {
  XAxis x_axis = XAxis::Step;
  double smoothing = 0.0;
  bool log_y = false;
};
// One self-contained HTML file: runs, config differences, summary, every chart inline (SVG).
std::string reportHtml(const Comparison& comparison, const ReportOptions& options);

}  // namespace distill::cli
