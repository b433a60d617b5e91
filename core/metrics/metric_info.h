// What each metric key means to a reader: its human label, unit, the range its values can
// take, and whether higher is better. One plain table read by the window's charts, the compare
// view's summary, the CLI's chart export and the HTML report, so that a chart titled
// "Student test accuracy (%)" in the window is titled the same in a paper figure.
// Also the colours of series and runs, for the same reason (one assignment for every front end).
//
// Issue 20 will have tasks declare their metrics; until then the table lists the keys the
// trainer logs, and an unknown key gets a label derived from the key itself.
//
// Thread contract: pure functions over a constant table; any thread.
#pragma once

#include <cstddef>
#include <limits>
#include <string>

namespace distill {

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
};

// The entry for `key`; a key not in the table gets a label from its last path part
// ("val/top3" -> "top3"), no unit, no bounds, and higherIsBetter()'s direction.
MetricInfo metricInfo(const std::string& key);
// Whether the table declares `key` (metricInfo() of any other key is a guess from its words).
bool isDeclaredMetric(const std::string& key);
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
