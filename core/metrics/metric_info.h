// What each metric key means to a reader: its human label, unit, the range its values can
// take, and whether higher is better. One plain table read by the window's charts, the compare
// view's summary, the CLI's chart export and the HTML report, so that a chart titled
// "Student test accuracy (%)" in the window is titled the same in a paper figure.
// Also the colours of series and runs, for the same reason (one assignment for every front end).
//
// Tasks declare their metrics (core/tasks/task.h: TaskDisplay), the trainer the keys it logs
// for any task (trainingMetrics() below); core/tasks/task_registry.h looks a key up in both.
//
// Thread contract: pure functions over a constant table; any thread.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace distill {

// Which colour a series takes: the teacher's orange, the student's blue, or its own.
enum class SeriesRole { Teacher, Student, Pair, Other };
enum class LineStyle { Solid, Dash, Dot };

struct MetricInfo {
  std::string key;    // "eval/student_acc"
  std::string label;  // "Student test accuracy"
  std::string unit;   // "%", "nats", "samples/s", or empty
  // Values can never leave [lower, upper] (NaN: no bound on that side). A chart's axis is
  // padded around the data but never past a bound.
  double lower = std::numeric_limits<double>::quiet_NaN();
  double upper = std::numeric_limits<double>::quiet_NaN();
  bool higher_is_better = false;
  // Stored as a fraction in [0, 1], shown as a percentage (x 100) everywhere: charts, tables.
  bool percent = false;

  // Where the live charts draw it (empty: no live chart; it still shows in Compare).
  std::string chart;   // the id of one of its task's ChartInfo
  std::string series;  // its legend entry in that chart ("student test")
  SeriesRole role = SeriesRole::Other;
  LineStyle line = LineStyle::Solid;
  bool markers = false;     // per-evaluation points, drawn with markers
  bool right_axis = false;  // on the chart's right axis (ChartInfo::y2_label)
  std::string color;        // "#rrggbb" for Pair and Other roles (Teacher/Student: theirs)
  // A few words for one-line summaries ("student acc"); empty: the label.
  std::string short_label;
  // The role's colour made lighter (> 100: QColor::lighter(shade)) or darker (< 100:
  // QColor::darker(10000 / shade)); 100: as it is.
  int shade = 100;
  double width = 1.6;       // pen width in pixels

  // Chained setters, so that a declaration reads as one line per metric.
  MetricInfo& on(std::string chart_id, std::string legend) {
    chart = std::move(chart_id);
    series = std::move(legend);
    return *this;
  }
  MetricInfo& as(SeriesRole r, LineStyle l = LineStyle::Solid) {
    role = r;
    line = l;
    return *this;
  }
  MetricInfo& evaluated() {
    markers = true;
    width = 2.2;
    return *this;
  }
  MetricInfo& drawn(double pen_width, int shade_factor = 100, std::string hex = {}) {
    width = pen_width;
    shade = shade_factor;
    color = std::move(hex);
    return *this;
  }
  MetricInfo& abbreviated(std::string words) {
    short_label = std::move(words);
    return *this;
  }
  MetricInfo& onRightAxis() {
    right_axis = true;
    return *this;
  }
};

// A declaration's first line: what the value means; chain on(), as(), evaluated() for its chart.
inline MetricInfo declareMetric(std::string key, std::string label, std::string unit, double lower, double upper,
                                bool higher_is_better = false, bool percent = false) {
  MetricInfo info;
  info.key = std::move(key);
  info.label = std::move(label);
  info.unit = std::move(unit);
  info.lower = lower;
  info.upper = upper;
  info.higher_is_better = higher_is_better;
  info.percent = percent;
  return info;
}

// One live chart of a task: the window draws its task's charts in order, the first across
// the top, the others side by side below.
struct ChartInfo {
  std::string id;        // "loss"
  std::string title;     // "Loss"
  std::string y_label;   // "loss"
  std::string y2_label;  // right axis; empty: none
  bool log_y = false;    // the left axis starts logarithmic (perplexity: its first point is ~vocab size)
};

// What a task shows: its charts and every metric it or the trainer logs.
struct TaskDisplay {
  std::string task;  // "image"
  std::vector<ChartInfo> charts;
  std::vector<MetricInfo> metrics;
  // The headline keys summary tables and status lines show (empty: none of that kind).
  std::string teacher_quality;  // "eval/teacher_acc"
  std::string student_quality;  // "eval/student_acc"
  std::string agreement;        // "eval/agreement"
  std::string divergence;       // "eval/kl"
};

// The keys the trainer itself logs for every task (training losses, speed), declared here
// because the trainer, not a task, writes them. Their chart is "loss" (and "speed": none).
const std::vector<MetricInfo>& trainingMetrics();

// The entry for an undeclared key: a label from its last path part ("val/top3" -> "top3"), no
// unit, no bounds, and higherIsBetter()'s direction. (Declared keys: metricInfo() in
// core/tasks/task_registry.h.)
MetricInfo undeclaredMetricInfo(const std::string& key);
// "Student test accuracy (%)": the label with its unit, for an axis.
std::string metricAxisLabel(const MetricInfo& info);
// The value as the table shows it: "89.53" for a percent metric (no sign: the header says %),
// "0.2971" otherwise. `decimals` < 0: the metric's default precision.
std::string formatMetricValue(const MetricInfo& info, double value, int decimals = -1);
// Decimals a table column of this metric uses (2 for percentages, 4 otherwise).
int metricDecimals(const MetricInfo& info);
// The value in display units (x 100 for percent metrics).
double displayValue(const MetricInfo& info, double value);

// ---- colours (hex "#rrggbb") --------------------------------------------------------------
// The teacher is orange and the student blue in every live chart and export.
inline constexpr const char* kTeacherColorHex = "#e06c00";
inline constexpr const char* kStudentColorHex = "#1f6fc5";
// The colour of the run at `index` in a comparison: Okabe and Ito's palette for colour-blind
// readers (blue, vermillion, bluish green, reddish purple, orange, sky blue, yellow-brown,
// black), then golden-angle hues. Paired with runDashIndex() so runs differ in greyscale too.
std::string runColorHex(std::size_t index);
// 0 solid, 1 dashed, 2 dotted, 3 dash-dot: the line style of the run at `index`.
int runDashIndex(std::size_t index);

}  // namespace distill
