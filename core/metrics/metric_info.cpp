#include "core/metrics/metric_info.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "core/metrics/metric_keys.h"
#include "core/metrics/smoothing.h"

namespace distill {
namespace {

constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

}  // namespace

// Losses are non-negative and unbounded above.
const std::vector<MetricInfo>& trainingMetrics() {
  using namespace metric_key;
  static const std::vector<MetricInfo> rows = {
      declareMetric(kStudentTrainLoss, "Student training loss", "", 0.0, kNone)
          .on("loss", "student train (total)").as(SeriesRole::Student),
      declareMetric(kTeacherTrainLoss, "Teacher training loss", "", 0.0, kNone)
          .on("loss", "teacher train").as(SeriesRole::Teacher).drawn(1.2, 135),
      declareMetric(kKdLoss, "Distillation part of the loss", "", 0.0, kNone)
          .on("loss", "student KD part").as(SeriesRole::Student, LineStyle::Dash).drawn(1.3, 140),
      declareMetric(kCeLoss, "Cross-entropy part of the loss", "", 0.0, kNone)
          .on("loss", "student CE part").as(SeriesRole::Other, LineStyle::Dot).drawn(1.6, 100, "#2a9d8f"),
      declareMetric(kHintLoss, "Hint loss", "", 0.0, kNone)
          .on("loss", "student hint part").as(SeriesRole::Other, LineStyle::Dash).drawn(1.3, 100, "#8d6e63"),
      declareMetric(kSamplesPerSecond, "Training speed", "samples/s", 0.0, kNone, true),
      declareMetric(kTokensPerSecond, "Training speed", "tokens/s", 0.0, kNone, true),
  };
  return rows;
}

MetricInfo undeclaredMetricInfo(const std::string& key) {
  MetricInfo info;
  info.key = key;
  const auto slash = key.rfind('/');
  info.label = slash == std::string::npos ? key : key.substr(slash + 1);
  info.higher_is_better = higherIsBetter(key);
  return info;
}

std::string metricAxisLabel(const MetricInfo& info) {
  return info.unit.empty() ? info.label : info.label + " (" + info.unit + ")";
}

int metricDecimals(const MetricInfo& info) { return info.percent ? 2 : 4; }

double displayValue(const MetricInfo& info, double value) { return info.percent ? value * 100.0 : value; }

std::string formatMetricValue(const MetricInfo& info, double value, int decimals) {
  if (!std::isfinite(value)) return "-";
  if (decimals < 0) decimals = metricDecimals(info);
  const double shown = displayValue(info, value);
  // Large numbers (speeds) read better without decimals.
  if (!info.percent && std::fabs(shown) >= 1000.0) decimals = 0;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, shown);
  return buffer;
}

std::string runColorHex(std::size_t index) {
  static const char* const kOkabeIto[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                          "#e69f00", "#56b4e9", "#000000", "#8c6d1f"};
  if (index < 8) return kOkabeIto[index];
  // Golden-angle hues, alternating brightness for neighbours (HSV to RGB by hand: no Qt here).
  const double hue = std::fmod(0.11 + 0.618033988749895 * static_cast<double>(index), 1.0) * 6.0;
  const double value = index % 2 ? 0.62 : 0.80, saturation = 0.75;
  const double c = value * saturation, x = c * (1 - std::fabs(std::fmod(hue, 2.0) - 1)), m = value - c;
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(hue)) {
    case 0: r = c, g = x; break;
    case 1: r = x, g = c; break;
    case 2: g = c, b = x; break;
    case 3: g = x, b = c; break;
    case 4: r = x, b = c; break;
    default: r = c, b = x; break;
  }
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", static_cast<int>(std::lround((r + m) * 255)),
                static_cast<int>(std::lround((g + m) * 255)), static_cast<int>(std::lround((b + m) * 255)));
  return buffer;
}

int runDashIndex(std::size_t index) { return static_cast<int>(index % 4); }

}  // namespace distill
