// What the Sweeps page computes (core/sweep/sweep_results.h), against numbers worked out by
// hand: a metric's mean and sample standard deviation over the seeds per axis value (numeric
// axes ordered as numbers, categories by position), the positions of parallel coordinates (a
// log axis where the values span more than a factor of 20), the Pareto front of student size
// against a metric either way round, the sweep's summary, and a sweep read from its folder (task
// databases, the manifest, the imported copies' run ids) or, without one, from the main
// database's tagged runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/store/run_import.h"
#include "core/store/run_store.h"
#include "core/sweep/sweep_manifest.h"
#include "core/sweep/sweep_results.h"
#include "support/test_support.h"

namespace distill {
namespace {

constexpr const char* kAcc = "eval/student_acc";

SweepRow row(std::vector<std::pair<std::string, std::string>> axes, double acc, const std::string& state = "completed",
             int64_t parameters = 0) {
  SweepRow r;
  r.index = 0;
  r.axes = std::move(axes);
  r.state = state;
  r.final_metrics[kAcc] = acc;
  r.student_parameters = parameters;
  return r;
}

const AxisGroup* groupAt(const AxisGrouping& grouping, const std::string& x, const std::string& series = "") {
  for (const auto& group : grouping.groups)
    if (group.x_value == x && group.series_value == series) return &group;
  return nullptr;
}

TEST(SweepResults, NumbersAreToldFromText) {
  EXPECT_TRUE(numericValues({"4", "0.05", "1e+30", "-2"}));
  EXPECT_FALSE(numericValues({"4", "[16]"}));
  EXPECT_FALSE(numericValues({}));
  EXPECT_DOUBLE_EQ(numericValue("0.05"), 0.05);
  EXPECT_TRUE(std::isnan(numericValue("4x")));  // the whole text must be the number
  EXPECT_TRUE(std::isnan(numericValue("")));
}

TEST(SweepResults, EachAxisValueGetsTheSeedsMeanAndSampleSpread) {
  std::vector<SweepRow> rows{
      row({{"distill.temperature", "2"}, {"seed", "0"}}, 0.70),
      row({{"distill.temperature", "2"}, {"seed", "1"}}, 0.74),
      row({{"distill.temperature", "10"}, {"seed", "0"}}, 0.80),
      row({{"distill.temperature", "10"}, {"seed", "1"}}, 0.86),
      row({{"distill.temperature", "10"}, {"seed", "2"}}, 0.83),
      row({{"distill.temperature", "4"}, {"seed", "0"}}, 0.76),
      // Left out: a run that failed, a completed one without the metric, one whose metric is NaN.
      row({{"distill.temperature", "4"}, {"seed", "1"}}, 0.10, "failed"),
      row({{"distill.temperature", "4"}, {"seed", "2"}}, std::numeric_limits<double>::quiet_NaN()),
  };
  SweepRow no_metric = row({{"distill.temperature", "8"}, {"seed", "0"}}, 0.0);
  no_metric.final_metrics.clear();
  rows.push_back(no_metric);

  const AxisGrouping g = groupByAxes(rows, kAcc, "distill.temperature", "");
  EXPECT_TRUE(g.x_numeric);
  EXPECT_EQ(g.x_values, (std::vector<std::string>{"2", "4", "10"}));  // as numbers, not as text ("10" < "2")
  EXPECT_EQ(g.series_values, std::vector<std::string>{""});
  EXPECT_EQ(g.spread_over, std::vector<std::string>{"seed"});
  ASSERT_EQ(g.groups.size(), 3u);

  const AxisGroup* two = groupAt(g, "2");
  ASSERT_TRUE(two);
  EXPECT_DOUBLE_EQ(two->x, 2.0);
  EXPECT_EQ(two->runs, 2);
  EXPECT_NEAR(two->mean, 0.72, 1e-12);
  EXPECT_NEAR(two->spread, 0.04 / std::sqrt(2.0), 1e-12);  // sample s.d. of {0.70, 0.74}: 0.028284
  EXPECT_EQ(two->rows, (std::vector<int>{0, 1}));

  const AxisGroup* ten = groupAt(g, "10");
  ASSERT_TRUE(ten);
  EXPECT_NEAR(ten->mean, 0.83, 1e-12);
  EXPECT_NEAR(ten->spread, 0.03, 1e-12);  // sqrt((0.03² + 0.03² + 0²) / 2)

  const AxisGroup* four = groupAt(g, "4");
  ASSERT_TRUE(four);
  EXPECT_EQ(four->runs, 1);
  EXPECT_DOUBLE_EQ(four->mean, 0.76);
  EXPECT_DOUBLE_EQ(four->spread, 0.0);  // one run: no spread
}

TEST(SweepResults, CategoriesSitAtTheirPositionAndASeriesAxisSplitsTheLines) {
  const std::vector<SweepRow> rows{
      row({{"distill.method", "kd"}, {"student.hidden", "[16]"}, {"seed", "0"}}, 0.60),
      row({{"distill.method", "kd"}, {"student.hidden", "[16]"}, {"seed", "1"}}, 0.64),
      row({{"distill.method", "dkd"}, {"student.hidden", "[16]"}, {"seed", "0"}}, 0.66),
      row({{"distill.method", "kd"}, {"student.hidden", "[64]"}, {"seed", "0"}}, 0.75),
      row({{"distill.method", "dkd"}, {"student.hidden", "[64]"}, {"seed", "0"}}, 0.79),
  };
  const AxisGrouping g = groupByAxes(rows, kAcc, "distill.method", "student.hidden");
  EXPECT_FALSE(g.x_numeric);
  EXPECT_EQ(g.x_values, (std::vector<std::string>{"dkd", "kd"}));
  EXPECT_EQ(g.series_values, (std::vector<std::string>{"[16]", "[64]"}));
  EXPECT_EQ(g.spread_over, std::vector<std::string>{"seed"});
  ASSERT_EQ(g.groups.size(), 4u);
  // By series, then x; a category's x is its position.
  EXPECT_EQ(g.groups[0].series_value, "[16]");
  EXPECT_EQ(g.groups[0].x_value, "dkd");
  EXPECT_DOUBLE_EQ(g.groups[0].x, 0.0);
  EXPECT_DOUBLE_EQ(g.groups[1].x, 1.0);
  EXPECT_NEAR(g.groups[1].mean, 0.62, 1e-12);
  EXPECT_NEAR(g.groups[1].spread, 0.04 / std::sqrt(2.0), 1e-12);
  EXPECT_EQ(g.groups[3].series_value, "[64]");
  EXPECT_DOUBLE_EQ(g.groups[3].mean, 0.75);
  // No usable row: no groups.
  EXPECT_TRUE(groupByAxes(rows, "eval/agreement", "distill.method", "").groups.empty());
}

TEST(SweepResults, ParallelCoordinatesPlaceEachRunOnEveryAxis) {
  const std::vector<SweepRow> rows{
      row({{"train.lr", "0.001"}, {"method", "a"}, {"seed", "0"}}, 0.60),
      row({{"train.lr", "0.01"}, {"method", "b"}, {"seed", "0"}}, 0.75),
      row({{"train.lr", "0.1"}, {"method", "c"}, {"seed", "0"}}, 0.90),
      row({{"train.lr", "0.1"}, {"method", "c"}, {"seed", "0"}}, 0.20, "failed"),
  };
  const ParallelCoordinates chart = parallelCoordinates(rows, {"train.lr", "method", "seed"}, kAcc);
  ASSERT_EQ(chart.axes.size(), 4u);  // three axes, then the metric
  const ParallelAxis& lr = chart.axes[0];
  EXPECT_TRUE(lr.numeric);
  EXPECT_TRUE(lr.log);  // 0.1 / 0.001 = 100 > 20
  EXPECT_DOUBLE_EQ(lr.low, 0.001);
  EXPECT_DOUBLE_EQ(lr.high, 0.1);
  EXPECT_NEAR(lr.position(0.01), 0.5, 1e-12);  // (ln 0.01 - ln 0.001) / (ln 0.1 - ln 0.001)
  EXPECT_FALSE(chart.axes[1].numeric);
  EXPECT_EQ(chart.axes[1].categories, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_DOUBLE_EQ(chart.axes[2].position("0"), 0.5);  // one value: the middle
  const ParallelAxis& metric = chart.axes[3];
  EXPECT_EQ(metric.key, kAcc);
  EXPECT_FALSE(metric.log);  // a metric reads linearly
  EXPECT_DOUBLE_EQ(metric.low, 0.60);
  EXPECT_DOUBLE_EQ(metric.high, 0.90);

  ASSERT_EQ(chart.lines.size(), 3u);  // the failed run is not drawn
  const auto& middle = chart.lines[1];
  EXPECT_EQ(middle.row, 1);
  EXPECT_DOUBLE_EQ(middle.metric, 0.75);
  ASSERT_EQ(middle.y.size(), 4u);
  EXPECT_NEAR(middle.y[0], 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(middle.y[1], 0.5);
  EXPECT_DOUBLE_EQ(middle.y[2], 0.5);
  EXPECT_NEAR(middle.y[3], 0.5, 1e-12);  // (0.75 - 0.60) / (0.90 - 0.60)
  EXPECT_DOUBLE_EQ(chart.lines[2].y[0], 1.0);
  EXPECT_DOUBLE_EQ(chart.lines[0].y[3], 0.0);

  // A linear axis: values within a factor of 20.
  ParallelAxis linear;
  linear.numeric = true;
  linear.low = 2;
  linear.high = 8;
  EXPECT_DOUBLE_EQ(linear.position(5.0), 0.5);
  EXPECT_DOUBLE_EQ(linear.position(100.0), 1.0);  // clamped
}

TEST(SweepResults, TheParetoFrontKeepsTheRunsNoSmallerRunBeats) {
  // Accuracy, higher is better: (size, value).
  std::vector<SweepRow> rows{row({}, 0.70, "completed", 100), row({}, 0.72, "completed", 100), row({}, 0.71, "completed", 200),
                             row({}, 0.80, "completed", 200), row({}, 0.80, "completed", 300), row({}, 0.85, "completed", 400),
                             row({}, 0.99, "failed", 50), row({}, 0.99, "completed", 0)};
  const auto front = paretoFront(rows, kAcc, /*higher_is_better=*/true);
  ASSERT_EQ(front.size(), 6u);  // the failed run and the one of unknown size are left out
  std::vector<std::pair<double, double>> points;
  std::vector<bool> on;
  for (const auto& p : front) {
    points.emplace_back(p.parameters, p.value);
    on.push_back(p.on_front);
  }
  EXPECT_EQ(points, (std::vector<std::pair<double, double>>{{100, 0.72}, {100, 0.70}, {200, 0.80}, {200, 0.71}, {300, 0.80}, {400, 0.85}}));
  // 300 at 0.80 is no better than 200 at 0.80: off the front.
  EXPECT_EQ(on, (std::vector<bool>{true, false, true, false, false, true}));
  EXPECT_EQ(front[0].row, 1);

  // Perplexity, lower is better; two runs of one size with the same value are both on it.
  std::vector<SweepRow> lm;
  for (const auto& [size, ppl] : std::vector<std::pair<int64_t, double>>{{100, 30}, {100, 30}, {200, 25}, {300, 27}}) {
    SweepRow r = row({}, 0, "completed", size);
    r.final_metrics = {{"eval/student_ppl", ppl}};
    lm.push_back(r);
  }
  std::vector<bool> lm_on;
  for (const auto& p : paretoFront(lm, "eval/student_ppl", /*higher_is_better=*/false)) lm_on.push_back(p.on_front);
  EXPECT_EQ(lm_on, (std::vector<bool>{true, true, true, false}));
}

TEST(SweepResults, SummaryCountsThePlannedRunsCommonStatesFirst) {
  SweepResults results;
  EXPECT_EQ(results.summary(), "no runs");
  for (const char* state : {"failed", "completed", "lost", "running", "completed", "pending", "failed", "completed"}) {
    SweepRow r;
    r.index = 1;
    r.state = state;
    results.rows.push_back(r);
  }
  SweepRow dropped;
  dropped.index = -1;  // out of the sweep file now: not counted, not waited for
  dropped.state = "running";
  results.rows.push_back(dropped);
  EXPECT_EQ(results.summary(), "3 completed, 1 running, 1 pending, 2 failed, 1 lost");
  EXPECT_FALSE(results.allFinal());
  results.rows.erase(std::remove_if(results.rows.begin(), results.rows.end(),
                                    [](const SweepRow& r) { return r.index >= 0 && !isFinalState(r.state); }),
                     results.rows.end());
  EXPECT_TRUE(results.allFinal());  // the dropped running one aside
}

// A task's database as its worker leaves it: one run, tagged for the sweep, with its metrics.
std::string writeTask(const std::string& dir, const std::string& sweep_id, const std::string& hash, double acc,
                      RunStatus status, const std::string& error = "") {
  RunStore store(taskDatabase(dir, hash));
  NewRun run;
  run.name = "temps/" + hash;
  run.params = {{"task", "image"}, {"train.epochs", "1"}};
  const int64_t id = store.createRun(run);
  store.addTag(id, "sweep:" + sweep_id);
  store.setEnvironment(id, {{"student_parameters", "12730"}});
  store.appendMetrics(id, {{"train/student_loss", 10, 1.0, 1.7e9, 0.5}, {kAcc, 10, 1.0, 1.7e9, acc}});
  store.finishRun(id, status, error);
  return store.getRun(id)->uuid;
}

TEST(SweepResults, ASweepIsReadFromItsFolderAndMatchedToItsImportedRuns) {
  testing::TempDir dir;
  const std::string folder = (dir.path() / "temps").string();
  SweepManifest manifest;
  manifest.id = "temps-20261201T000000Z";
  manifest.name = "temps";
  manifest.backend = "local";
  manifest.teacher_note = "each run trains its own teacher";
  const auto add = [&](int index, const std::string& hash, const std::string& temperature) {
    ManifestTask task;
    task.index = index;
    task.hash = hash;
    task.name = "temps/" + std::to_string(index);
    task.axis_values = {{"distill.temperature", temperature}, {"seed", "0"}};
    manifest.tasks.push_back(task);
  };
  add(0, "aaaa", "2");
  add(1, "bbbb", "4");
  add(2, "cccc", "8");
  std::filesystem::create_directories(folder);
  writeManifest(folder, manifest);
  const std::string uuid = writeTask(folder, manifest.id, "aaaa", 0.81, RunStatus::Completed);
  writeTask(folder, manifest.id, "bbbb", 0.10, RunStatus::Failed, "diverged (loss is nan)");
  std::ofstream(taskLogPath(folder, "bbbb")) << "epoch 1\nerror: diverged (loss is nan)\n";

  // Run aaaa imported into the main database, which also holds an older sweep's run (folder gone).
  const std::string main_db = dir.file("runs.db");
  importRuns(main_db, {taskDatabase(folder, "aaaa")});
  {
    RunStore main(main_db);
    NewRun old;
    old.name = "old/3 seed=1";
    const int64_t id = main.createRun(old);
    for (const char* tag : {"sweep:old-20250101T000000Z", "seed=1"}) main.addTag(id, tag);
    main.appendMetrics(id, {{kAcc, 1, 1.0, 1.6e9, 0.5}});
    main.finishRun(id, RunStatus::Completed);
  }
  RunStore main(main_db, RunStore::Mode::ReadOnly);

  const auto refs = findSweeps(&main, {folder, dir.file("not-a-sweep")});
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].id, manifest.id);  // newest first
  EXPECT_EQ(refs[0].name, "temps");
  EXPECT_EQ(refs[0].imported, 1);
  EXPECT_EQ(refs[0].folder, folder);
  EXPECT_EQ(refs[1].id, "old-20250101T000000Z");
  EXPECT_EQ(refs[1].folder, "");

  const SweepResults sweep = readSweep(refs[0], &main, nullptr);
  EXPECT_EQ(sweep.backend, "local");
  EXPECT_EQ(sweep.teacher_note, "each run trains its own teacher");
  EXPECT_EQ(sweep.axes, (std::vector<std::string>{"distill.temperature", "seed"}));
  ASSERT_EQ(sweep.rows.size(), 3u);
  EXPECT_EQ(sweep.rows[0].state, "completed");
  EXPECT_EQ(sweep.rows[0].source, "database");
  EXPECT_DOUBLE_EQ(sweep.rows[0].final_metrics.at(kAcc), 0.81);
  EXPECT_EQ(sweep.rows[0].student_parameters, 12730);
  EXPECT_EQ(sweep.rows[0].task, "image");
  EXPECT_EQ(sweep.rows[0].uuid, uuid);
  EXPECT_DOUBLE_EQ(sweep.rows[0].progress, 1.0);
  EXPECT_GT(sweep.rows[0].main_run_id, 0);  // its imported copy
  EXPECT_EQ(sweep.rows[0].log_tail, "");
  EXPECT_EQ(sweep.rows[1].state, "failed");
  EXPECT_EQ(sweep.rows[1].error, "diverged (loss is nan)");
  EXPECT_EQ(sweep.rows[1].log_tail, "epoch 1\nerror: diverged (loss is nan)");
  EXPECT_EQ(sweep.rows[1].main_run_id, 0);  // not imported
  EXPECT_EQ(sweep.rows[2].state, "pending");
  EXPECT_EQ(sweep.summary(), "1 completed, 1 pending, 1 failed");

  // Without a folder: the main database's tagged runs, axes from their key=value tags, the
  // index from the name's last part.
  const SweepResults old = readSweep(refs[1], &main, nullptr);
  EXPECT_EQ(old.backend, "");
  EXPECT_EQ(old.axes, std::vector<std::string>{"seed"});
  ASSERT_EQ(old.rows.size(), 1u);
  EXPECT_EQ(old.rows[0].index, 3);
  EXPECT_EQ(old.rows[0].state, "completed");
  EXPECT_EQ(old.rows[0].axes, (std::vector<std::pair<std::string, std::string>>{{"seed", "1"}}));
  EXPECT_DOUBLE_EQ(old.rows[0].final_metrics.at(kAcc), 0.5);
  EXPECT_GT(old.rows[0].main_run_id, 0);

  // A folder whose sweep.json is not readable: the problem is said, the rows come from the database.
  std::ofstream(manifestPath(folder)) << "{ not json";
  const SweepResults broken = readSweep(refs[0], &main, nullptr);
  EXPECT_FALSE(broken.problem.empty());
  EXPECT_EQ(broken.rows.size(), 1u);  // the imported copy of aaaa
}

}  // namespace
}  // namespace distill
