// Which metrics a comparison shows (core/store/compared_metrics.h): the union for runs of one
// task, the shared ones for runs of several tasks, the others named.
#include <gtest/gtest.h>

#include "core/store/compared_metrics.h"

namespace distill {
namespace {

using Keys = std::vector<std::string>;

TEST(ComparedMetrics, RunsOfOneTaskShowEveryMetricAnyOfThemLogged) {
  const auto selection = selectComparedMetrics({{"image", {"eval/agreement", "train/hint_loss"}},
                                                {"image", {"eval/agreement", "train/student_loss"}}});
  EXPECT_EQ(selection.shown, (Keys{"eval/agreement", "train/hint_loss", "train/student_loss"}));
  EXPECT_TRUE(selection.left_out.empty());
  EXPECT_FALSE(selection.mixed_tasks);
  EXPECT_EQ(leftOutNote(selection), "");
}

TEST(ComparedMetrics, RunsOfTwoTasksShowTheSharedMetricsAndNameTheOthers) {
  const auto selection = selectComparedMetrics(
      {{"image", {"eval/agreement", "eval/student_acc", "perf/samples_per_s", "train/student_loss"}},
       {"lm", {"eval/student_ppl", "eval/token_agreement", "perf/tokens_per_s", "train/student_loss"}},
       {"lm", {"eval/student_ppl", "perf/tokens_per_s", "train/student_loss"}}});
  EXPECT_TRUE(selection.mixed_tasks);
  EXPECT_EQ(selection.shown, (Keys{"train/student_loss"}));
  EXPECT_EQ(selection.left_out, (Keys{"eval/agreement", "eval/student_acc", "eval/student_ppl", "eval/token_agreement",
                                      "perf/samples_per_s", "perf/tokens_per_s"}));
  EXPECT_EQ(leftOutNote(selection),
            "left out (not in every run): eval/agreement, eval/student_acc, eval/student_ppl, eval/token_agreement, "
            "perf/samples_per_s, perf/tokens_per_s");
}

TEST(ComparedMetrics, RunsOfTwoTasksWithNothingInCommonShowNothing) {
  const auto selection = selectComparedMetrics({{"image", {"eval/student_acc"}}, {"lm", {"eval/student_ppl"}}});
  EXPECT_TRUE(selection.shown.empty());
  EXPECT_EQ(selection.left_out, (Keys{"eval/student_acc", "eval/student_ppl"}));
}

}  // namespace
}  // namespace distill
