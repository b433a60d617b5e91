// Which metrics a comparison of runs shows, for the compare view and `distill compare` /
// `distill report` alike (one rule, written once).
//
// Runs of one task: every metric any of them logged (a run without one shows "-" there).
// Runs of several tasks (an image classifier beside a language model, one database): only the
// metrics every run logged, since a perplexity has no counterpart in an image run; the others
// are named as left out, so that the reader knows the comparison is narrower than the runs.
//
//   const MetricSelection selection = selectComparedMetrics({{"image", image_keys}, {"lm", lm_keys}});
//   // selection.shown: the training losses both logged; selection.left_out: eval/student_ppl, ...
//   std::string note = leftOutNote(selection);  // "left out (not in every run): eval/student_ppl, ..."
//
// Thread contract: pure functions; any thread.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace distill {

// One compared run: its task (taskOfRun() of its params) and the metric keys it logged.
struct RunMetricKeys {
  std::string task;
  std::set<std::string> keys;
};

struct MetricSelection {
  std::vector<std::string> shown;     // sorted
  std::vector<std::string> left_out;  // sorted; in some runs but not in all (runs of several tasks only)
  bool mixed_tasks = false;           // the runs are of more than one task
};

MetricSelection selectComparedMetrics(const std::vector<RunMetricKeys>& runs);

// "left out (not in every run): eval/student_ppl, perf/tokens_per_s"; empty when none was.
std::string leftOutNote(const MetricSelection& selection);

}  // namespace distill
