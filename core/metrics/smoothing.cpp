#include "core/metrics/smoothing.h"

#include <algorithm>
#include <cmath>

namespace distill {

std::vector<double> smoothEma(const std::vector<double>& values, double weight) {
  const double w = std::clamp(weight, 0.0, 0.999999);
  if (w == 0.0) return values;
  std::vector<double> smoothed(values.size());
  double last = 0.0;
  double debias = 1.0;  // w^t, kept as a running product: no pow per point
  for (size_t i = 0; i < values.size(); ++i) {
    const double y = values[i];
    if (!std::isfinite(y)) {
      smoothed[i] = y;
      continue;
    }
    last = last * w + (1.0 - w) * y;
    debias *= w;
    smoothed[i] = last / (1.0 - debias);
  }
  return smoothed;
}

std::vector<size_t> minMaxDecimate(const std::vector<double>& xs, const std::vector<double>& ys, double x_lo,
                                   double x_hi, size_t buckets) {
  std::vector<size_t> kept;
  const size_t n = std::min(xs.size(), ys.size());
  if (n == 0) return kept;
  buckets = std::max<size_t>(buckets, 1);
  size_t begin = static_cast<size_t>(std::lower_bound(xs.begin(), xs.begin() + n, x_lo) - xs.begin());
  size_t end = static_cast<size_t>(std::upper_bound(xs.begin(), xs.begin() + n, x_hi) - xs.begin());
  if (begin > 0) --begin;  // one point before the range, so the line enters from the edge
  if (end < n) ++end;      // and one after
  if (end <= begin) return kept;
  if (end - begin <= 2 * buckets + 2) {
    for (size_t i = begin; i < end; ++i) kept.push_back(i);
    return kept;
  }
  kept.reserve(2 * buckets + 2);
  kept.push_back(begin);
  const size_t inner_begin = begin + 1, inner_end = end - 1;
  const double lo = xs[inner_begin], hi = xs[inner_end - 1];
  const double width = hi > lo ? (hi - lo) / static_cast<double>(buckets) : 1.0;
  size_t i = inner_begin;
  while (i < inner_end) {
    // The slice of xs[i]: all following points with the same bucket number.
    const auto bucket = hi > lo ? std::min(static_cast<size_t>((xs[i] - lo) / width), buckets - 1) : size_t{0};
    size_t min_i = i, max_i = i;
    size_t j = i;
    for (; j < inner_end; ++j) {
      const auto b = hi > lo ? std::min(static_cast<size_t>((xs[j] - lo) / width), buckets - 1) : size_t{0};
      if (b != bucket) break;
      if (ys[j] < ys[min_i]) min_i = j;
      if (ys[j] > ys[max_i]) max_i = j;
    }
    if (min_i == max_i) {
      kept.push_back(min_i);
    } else {
      kept.push_back(std::min(min_i, max_i));
      kept.push_back(std::max(min_i, max_i));
    }
    i = j;
  }
  kept.push_back(end - 1);
  return kept;
}

bool higherIsBetter(const std::string& key) {
  for (const char* word : {"acc", "agreement", "overlap", "samples_per_s", "throughput"})
    if (key.find(word) != std::string::npos) return true;
  return false;
}

SeriesSummary summarizeSeries(const std::vector<int64_t>& steps, const std::vector<double>& values,
                              bool higher_is_better) {
  SeriesSummary summary;
  const size_t n = std::min(steps.size(), values.size());
  summary.count = n;
  if (n == 0) return summary;
  summary.final_value = values[n - 1];
  summary.final_step = steps[n - 1];
  bool have_best = false;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) continue;
    // Strict comparison: the first step that reaches the best value is the one reported.
    if (!have_best || (higher_is_better ? values[i] > summary.best_value : values[i] < summary.best_value)) {
      summary.best_value = values[i];
      summary.best_step = steps[i];
      have_best = true;
    }
  }
  if (!have_best) {
    summary.best_value = summary.final_value;
    summary.best_step = summary.final_step;
  }
  return summary;
}

}  // namespace distill
