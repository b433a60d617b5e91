// A sweep's runs: the product of its axes over the base config, each run validated and named,
// with the hash that identifies its configuration (a re-planned or resubmitted sweep never
// runs a configuration it has finished), and who trains the teacher.
//
//   SweepSpec spec = loadSweepFile("temps.yaml");
//   SweepPlan plan = planSweep(spec, [&](const std::string& run) { return teacherFromRun(run, db); });
//   for (const SweepTask& task : plan.tasks) ...  // task.config is validated
//
// Order: axes vary like nested loops in file order (the first axis slowest); random axes are
// drawn jointly (the k-th task of the random block takes each random axis's k-th draw), so two
// random axes of count 8 make 8 points, not 64.
//
// Thread contract: plain values and functions without shared state; any thread.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/config/config.h"
#include "core/sweep/sweep_spec.h"

namespace distill {

struct SweepTask {
  int index = 0;
  std::string hash;  // 16 hex digits: configHash of the task (see below)
  std::vector<std::pair<std::string, std::string>> axis_values;  // key, canonical value; axis order
  std::vector<std::string> overrides;  // `set:` then the axis values, as KEY=VALUE
  ExperimentConfig config;             // validated; config.name is the run's name
  bool trains_teacher = false;         // the shared teacher's task
  bool uses_shared_teacher = false;    // teacher.source is filled in by the worker
};

// A fixed teacher every task reads: a file, with the architecture it was trained as.
struct FixedTeacher {
  std::string source;  // a teacher .pt file or torchscript:<file>, absolute
  ModelConfig model;
  std::string origin;  // "run 12 of /x/runs.db": where it came from, for the plan's text
};

struct SweepPlan {
  SweepSpec spec;
  ExperimentConfig base;  // the base with `set:` applied
  std::vector<SweepTask> tasks;
  SweepTeacher teacher = SweepTeacher::PerTask;  // as decided: Shared, PerTask, FromRun or File
  std::string teacher_note;  // one sentence: who trains or provides the teacher, and why
};

// Resolves `run:<id>` to that run's teacher file; the CLI reads it from the main database.
using TeacherResolver = std::function<FixedTeacher(const std::string& run_source)>;

// Plans every task. Throws ConfigError naming the axis and value ("axes.distill.temperature:
// value '0': expected a number above 0, got 0") or the task whose combination fails a rule that
// joins keys, two tasks with the same configuration, or a teacher setting the axes contradict.
SweepPlan planSweep(const SweepSpec& spec, const TeacherResolver& resolve_run = nullptr);

// The identity of a configuration: FNV-1a (64 bits, 16 hex digits) of its keys that differ
// from the defaults, one `key=value` line each in key order, without `name` and `threads`
// (neither changes what is learned), plus `extra` (a shared teacher's task). A key added to
// the workbench later, at its default, leaves every hash as it was.
std::string configHash(const ExperimentConfig& config, const std::string& extra = "");

// The tags a task's run carries: "sweep:<id>" and one "key=value" per axis.
std::vector<std::string> sweepTags(const std::string& sweep_id, const SweepTask& task);

// Whether changing `key` changes the teacher itself (its data, task or architecture), which
// rules out sharing one teacher across the sweep.
bool changesTeacher(const std::string& key);

// Opens `database` read-only and returns run <id>'s teacher checkpoint file (checked to be
// that run's own) and architecture. Throws ConfigError naming `teacher`.
FixedTeacher teacherFromRun(const std::string& run_source, const std::string& database);

}  // namespace distill
