#include "core/metrics/metric_info.h"
#include "core/tasks/task_registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/metrics/smoothing.h"

namespace distill {
namespace {

TEST(MetricInfo, KnownKeysHaveLabelsUnitsAndBounds) {
  const auto acc = metricInfo("eval/student_acc");
  EXPECT_EQ(acc.label, "Student test accuracy");
  EXPECT_EQ(metricAxisLabel(acc), "Student test accuracy (%)");
  EXPECT_EQ(acc.lower, 0.0);
  EXPECT_EQ(acc.upper, 1.0);
  EXPECT_TRUE(acc.higher_is_better);
  EXPECT_TRUE(acc.percent);
  const auto loss = metricInfo("train/student_loss");
  EXPECT_EQ(loss.lower, 0.0);
  EXPECT_TRUE(std::isnan(loss.upper));
  EXPECT_FALSE(loss.higher_is_better);
}

TEST(MetricInfo, UnknownKeyGetsItsLastPartAndNoBounds) {
  const auto info = metricInfo("val/top3_acc");
  EXPECT_EQ(info.label, "top3_acc");
  EXPECT_TRUE(std::isnan(info.lower));
  EXPECT_TRUE(info.higher_is_better);
}

// The table and the older key-based direction must not disagree for a logged key.
TEST(MetricInfo, DirectionAgreesWithHigherIsBetter) {
  for (const char* key : {"eval/student_acc", "eval/teacher_acc", "eval/agreement", "eval/top5_overlap", "eval/kl",
                          "eval/js", "eval/student_loss", "train/student_loss", "train/kd_loss", "perf/samples_per_s"})
    EXPECT_EQ(metricInfo(key).higher_is_better, higherIsBetter(key)) << key;
}

TEST(MetricInfo, FormatsPercentagesAndFractionsOneWayPerMetric) {
  EXPECT_EQ(formatMetricValue(metricInfo("eval/student_acc"), 0.89534), "89.53");
  EXPECT_EQ(formatMetricValue(metricInfo("eval/kl"), 0.123456), "0.1235");
  EXPECT_EQ(formatMetricValue(metricInfo("perf/samples_per_s"), 12345.6), "12346");
  EXPECT_EQ(formatMetricValue(metricInfo("eval/kl"), std::nan("")), "-");
}

TEST(MetricInfo, RunColoursAreDistinctAndHex) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < 50; ++i) {
    const auto hex = runColorHex(i);
    ASSERT_EQ(hex.size(), 7u) << i;
    EXPECT_EQ(hex[0], '#');
    seen.insert(hex);
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(runColorHex(0), "#0072b2");
  EXPECT_NE(runDashIndex(0), runDashIndex(1));  // neighbours differ in greyscale too
}

}  // namespace
}  // namespace distill
