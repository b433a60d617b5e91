// A sweep file: a base experiment and axes over its config keys (docs/sweeps.md).
//
//   name: temperatures                # optional; default: the file's stem
//   base: quick-smoke                 # a preset's name, a config file, or an inline mapping
//   set: {train.epochs: 2}            # optional: overrides every task gets
//   axes:
//     distill.temperature: [2, 4]                         # grid: one run per value
//     distill.alpha: {from: 0.5, to: 0.9, step: 0.2}       # range, both ends included
//     train.lr: {random: [0.001, 0.1], count: 4, seed: 1, log: true}
//     seed: [0, 1, 2]                                     # repeats
//   teacher: shared                   # auto (default) | shared | per-task | run:<id> | a file
//   slurm: {partition: gpu, time: "01:00:00", max_running: 8}
//
// Reading a file checks its shape (known sections, known axis keys, non-empty grids, well-formed
// ranges and draws); whether each value is one the key accepts is checked when the sweep is
// planned (core/sweep/sweep_plan.h), against the config parser and the key table.
//
// Thread contract: plain values and functions without shared state; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace distill {

// One axis: a config key and the values it takes, each as `--set` text ("4", "[64, 64]").
struct SweepAxis {
  enum class Kind { Grid, Range, Random };
  std::string key;
  Kind kind = Kind::Grid;
  std::vector<std::string> values;
};

// How the sweep gets its teacher (see docs/sweeps.md, "The teacher").
enum class SweepTeacher {
  Auto,     // Shared where the axes leave the teacher alone, else PerTask
  Shared,   // the first task trains it; every other task distils from that teacher's file
  PerTask,  // every task trains its own (teacher.source as the base says)
  FromRun,  // run:<id> of the main database: its teacher file, resolved when planned
  File,     // a teacher file (or torchscript:<file>) every task reads
};

// What `--backend slurm` puts in the batch script; command-line flags override these.
struct SlurmSettings {
  std::string partition;
  std::string account;
  std::string time;        // sbatch --time, e.g. "01:00:00"
  std::string mem;         // sbatch --mem, e.g. "8G"
  std::string constraint;  // sbatch --constraint
  int gpus_per_task = 0;   // sbatch --gpus-per-task (0: not asked)
  int cpus_per_task = 0;   // sbatch --cpus-per-task, and the worker's threads (0: not asked)
  int max_running = 0;     // the array's %K (0: no limit)
  int signal_seconds = 120;  // USR1 this long before the time limit: stop, checkpoint, requeue
  std::vector<std::string> sbatch_lines;  // extra lines, "#SBATCH " added where missing
};

struct SweepSpec {
  std::string name;
  std::string folder;       // the sweep file's folder: relative paths in it resolve against this
  std::string file;         // the sweep file (absolute), empty when read from text
  std::string base_origin;  // "preset quick-smoke", a file path, "inline base", "default config"
  std::string base_text;    // the base config's YAML text
  std::vector<std::string> overrides;  // `set:` as KEY=VALUE, in file order
  std::vector<SweepAxis> axes;         // in file order
  SweepTeacher teacher = SweepTeacher::Auto;
  std::string teacher_source;  // FromRun: "run:<id>"; File: the teacher.source value
  SlurmSettings slurm;
};

// Reads a sweep file's text; `origin` names it in messages, `folder` resolves relative paths.
// Throws ConfigError naming the section or axis ("axes.distill.temperature: empty grid").
SweepSpec parseSweep(const std::string& text, const std::string& origin, const std::string& folder);
// Reads a sweep file (its stem is the default name). Throws ConfigError.
SweepSpec loadSweepFile(const std::string& path);

}  // namespace distill
