// What the window's Sweeps page shows, without Qt: the sweeps it can find, one sweep's tasks
// with their states, live progress and final metrics, and the three reductions its charts draw
// (a metric against one or two axes with the seeds' spread, parallel coordinates, and the
// Pareto front of student size against a metric).
//
//   auto refs = findSweeps(main_store, {"/scratch/temps"});
//   SlurmClient slurm;
//   SweepResults sweep = readSweep(refs[0], &main_store, &slurm);
//   AxisGrouping g = groupByAxes(sweep.rows, "eval/student_acc", "distill.temperature", "");
//
// A sweep is found by the `sweep:<id>` tags of the main database's runs (imported) and by its
// folder's sweep.json: an imported run's folder is DIR/tasks/<hash>/runs.files/..., so the
// folder of a sweep that was imported is known; others are added by hand (the page's "Add
// folder") or by submitting one. With a folder, the tasks are read from their own databases
// (states, live progress) and matched to their imported copies by run UUID; without one (the
// folder deleted or elsewhere), from the main database's tagged runs.
//
// Thread contract: plain functions; any thread. The page calls findSweeps and readSweep on a
// worker with a RunStore of its own (they may run Slurm's commands and read many files).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace distill {

class RunStore;
class SlurmClient;

struct SweepRef {
  std::string id;      // the sweep:<id> tag's id
  std::string name;    // the sweep's name (the id's part before its time)
  std::string folder;  // its folder (absolute), empty when only its imported runs are known
  int imported = 0;    // runs of the main database tagged with it
};

// The sweeps of `main` (may be null) and of `folders` (sweep folders; those without a
// sweep.json are skipped), one entry per id, newest id first.
std::vector<SweepRef> findSweeps(RunStore* main, const std::vector<std::string>& folders);

struct SweepRow {
  int index = -1;  // in the sweep's latest plan; -1: dropped from it
  std::string hash;
  std::string name;
  std::vector<std::pair<std::string, std::string>> axes;  // key, value as the sweep wrote it
  std::string state;      // completed, running, failed, cancelled, pending, lost, ...
  std::string source;     // where the state came from: slurm, heartbeat, database, manifest (TaskStatus)
  std::string note;       // why, when the state needs it: "no heartbeat for 42 min"
  std::string slurm;      // Slurm's word, empty when Slurm does not know the task
  std::string slurm_job;  // "<array>_<index>"
  std::string error;
  std::string log_tail;   // the last lines of its output, for a task that ended without completing
  std::map<std::string, double> final_metrics;
  double progress = -1.0;  // 0..1 of its epochs (both phases), -1: unknown
  std::string phase;       // teacher | student: where a running task is
  double epoch = 0.0;      // within that phase
  int64_t student_parameters = 0;  // 0: unknown
  std::string task;        // image | lm (from its config)
  std::string uuid;
  int64_t main_run_id = 0;  // its copy in the main database; 0: not imported
};

struct SweepResults {
  SweepRef ref;
  std::string backend;  // local | slurm ("" without a folder)
  std::string teacher_note;
  std::string slurm_source;  // which Slurm commands answered
  std::vector<std::string> axes;  // axis keys in the sweep's order
  std::vector<SweepRow> rows;     // the sweep's order; dropped tasks last
  std::string problem;  // why the folder could not be read (the rows then come from the database)
  int64_t local_runner = 0;  // the process running its local workers (sweep_control.h); 0: none
  bool allFinal() const;
  // "3 completed, 1 running, 2 failed"
  std::string summary() const;
};

// One sweep now. `main` (may be null) gives the imported copies' run ids and, without a folder,
// the rows; `slurm` (may be null) is asked about the tasks that have a Slurm job.
SweepResults readSweep(const SweepRef& ref, RunStore* main, SlurmClient* slurm);

// Whether every value parses as a number ("4", "0.05", "1e+30").
bool numericValues(const std::vector<std::string>& values);
double numericValue(const std::string& value);  // NaN when not a number

// ---- a metric against one or two axes -----------------------------------------------------

struct AxisGroup {
  std::string x_value;       // the X axis's value
  std::string series_value;  // the series axis's value ("" without one)
  double x = 0.0;            // the value, or its position among the categories
  double mean = 0.0;
  double spread = 0.0;  // sample standard deviation over the group's runs (0 for one run)
  int runs = 0;
  std::vector<int> rows;  // into the rows given
};

struct AxisGrouping {
  std::string x_axis, series_axis, metric;
  bool x_numeric = false;
  std::vector<std::string> x_values;       // ordered (numerically when numeric)
  std::vector<std::string> series_values;  // ordered likewise; one "" without a series axis
  std::vector<AxisGroup> groups;           // by series, then x
  std::vector<std::string> spread_over;    // the axes a group's runs differ in (the seeds)
};

// The completed rows that have `metric`, grouped by their values of `x_axis` and of
// `series_axis` (empty: none); each group's mean and spread over the other axes.
AxisGrouping groupByAxes(const std::vector<SweepRow>& rows, const std::string& metric, const std::string& x_axis,
                         const std::string& series_axis);

// ---- parallel coordinates -----------------------------------------------------------------

struct ParallelAxis {
  std::string key;  // an axis key, or the metric (the last axis)
  bool numeric = false;
  bool log = false;  // numeric, positive, spanning more than a factor of 20: placed by log
  double low = 0.0, high = 0.0;        // numeric: the extent
  std::vector<std::string> categories;  // otherwise: evenly spaced, in this order
  // Where `value` sits on the axis, in [0, 1] (0.5 for an axis of one value).
  double position(const std::string& value) const;
  double position(double value) const;
};

struct ParallelCoordinates {
  std::vector<ParallelAxis> axes;  // the sweep's axes, then the metric
  struct Line {
    int row = -1;
    std::vector<double> y;  // one position per axis
    double metric = 0.0;
  };
  std::vector<Line> lines;  // completed rows with the metric
};

ParallelCoordinates parallelCoordinates(const std::vector<SweepRow>& rows, const std::vector<std::string>& axes,
                                        const std::string& metric);

// ---- Pareto front: student size against a metric ------------------------------------------

struct ParetoPoint {
  int row = -1;
  double parameters = 0.0;
  double value = 0.0;
  bool on_front = false;  // no other run is as small or smaller and better, one of them strictly
};

// Completed rows with a known student size and `metric`; the front for a metric where higher
// (or lower) is better. Sorted by size, then value.
std::vector<ParetoPoint> paretoFront(const std::vector<SweepRow>& rows, const std::string& metric, bool higher_is_better);

}  // namespace distill
