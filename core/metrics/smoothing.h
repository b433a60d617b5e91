// Helpers for drawing and summarising metric curves, shared by the compare view and the CLI:
// TensorBoard's debiased exponential moving average, min/max decimation for long series, and
// the final/best summary of one curve.
//
// Thread contract: pure functions over plain vectors; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace distill {

// TensorBoard's smoothing: s_t = (1 - w) * sum_{i<=t} w^(t-i) y_i / (1 - w^t), i.e. an EMA
// started at 0 and divided by its bias, so the first points are not dragged towards 0.
// w = 0 returns the input; w is clamped to [0, 0.999999]. Non-finite values are passed
// through unchanged and do not enter the average (TensorBoard does the same).
std::vector<double> smoothEma(const std::vector<double>& values, double weight);

// Indices of the points to draw so that a chart `buckets` pixels wide shows every spike:
// the visible x range [x_lo, x_hi] (xs sorted ascending) is cut into `buckets` equal slices
// and each slice keeps its minimum and its maximum, in x order. One point on each side
// outside the range is kept so the line runs off the edge. A series with at most
// 2 * buckets points in range comes back whole. At most 2 * buckets + 2 indices.
std::vector<size_t> minMaxDecimate(const std::vector<double>& xs, const std::vector<double>& ys, double x_lo,
                                   double x_hi, size_t buckets);

// A guess from the key's words, for keys no table declares (core/metrics/metric_info.cpp declares
// every key the trainer logs; use metricInfo(key).higher_is_better): accuracies, agreement,
// overlap and throughput go up; anything else goes down.
bool higherIsBetter(const std::string& key);

// Final and best value of one curve (points in step order), with the step of the best.
struct SeriesSummary {
  size_t count = 0;
  double final_value = 0.0;
  int64_t final_step = 0;
  double best_value = 0.0;
  int64_t best_step = 0;
};
SeriesSummary summarizeSeries(const std::vector<int64_t>& steps, const std::vector<double>& values,
                              bool higher_is_better);

}  // namespace distill
