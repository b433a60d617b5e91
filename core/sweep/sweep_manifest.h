// A sweep's folder on (shared) storage and its manifest, sweep.json:
//
//   DIR/sweep.json                 id, name, backend, teacher, every task (hash, axis values,
//                                  tags, Slurm job, last state seen)
//   DIR/tasks/<hash>/config.yaml   the task's config (as planned)
//   DIR/tasks/<hash>/runs.db       the task's own database: only its worker writes it (SQLite
//                                  is not safe with concurrent writers on network file systems)
//   DIR/tasks/<hash>/log.txt       the worker's output (local backend)
//   DIR/slurm/                     batch scripts, their task lists, the jobs' output
//
// A task is known by its config hash, so a re-planned sweep (an axis extended) keeps the tasks
// it already has, and a finished one is never run again. The truth about a task's run is its
// database; the manifest's `state` is the last one seen, for a quick look.
//
// Thread contract: plain functions; a manifest is written by one process at a time (the one
// that submits or refreshes), replaced whole (write, then rename) so readers never see half.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/sweep/sweep_plan.h"

namespace distill {

struct ManifestTask {
  int index = -1;  // in the latest plan; -1: planned by an earlier version of the sweep file
  std::string hash;
  std::string name;
  std::vector<std::pair<std::string, std::string>> axis_values;
  std::vector<std::string> tags;
  bool trains_teacher = false;
  bool uses_shared_teacher = false;
  std::string slurm_job;  // "<array job>_<array index>" of its latest submission; empty: none
  std::string state;      // last state seen: pending, running, completed, failed, ... (sweepStateNames)
};

struct SweepManifest {
  int format = 1;
  std::string id;  // "<name>-<UTC time of the first plan>": the runs' sweep:<id> tag
  std::string name;
  std::string file;  // the sweep file it was planned from
  std::string created_at;
  std::string backend;       // local | slurm
  std::string teacher;       // shared | per-task | run | file
  std::string teacher_note;
  std::string teacher_task;  // shared: the hash of the task that trains it
  std::vector<ManifestTask> tasks;  // the latest plan's order, then earlier tasks
  std::vector<std::string> slurm_jobs;  // every array job submitted, oldest first
  // The sbatch settings of the latest Slurm submission (flags over the sweep file's slurm:),
  // which `sweep resubmit` uses again; nullopt before one.
  std::optional<SlurmSettings> slurm;

  const ManifestTask* find(const std::string& hash) const;
  ManifestTask* find(const std::string& hash);
};

std::string manifestPath(const std::string& sweep_dir);
std::string taskFolder(const std::string& sweep_dir, const std::string& hash);
std::string taskDatabase(const std::string& sweep_dir, const std::string& hash);
std::string taskConfigPath(const std::string& sweep_dir, const std::string& hash);
std::string taskLogPath(const std::string& sweep_dir, const std::string& hash);

// nullopt when the folder has no sweep.json; throws ConfigError for a file that is not one.
std::optional<SweepManifest> readManifest(const std::string& sweep_dir);
void writeManifest(const std::string& sweep_dir, const SweepManifest& manifest);

// The manifest after planning `plan` into the folder: an existing manifest keeps its id, its
// tasks' Slurm jobs and states (tasks no longer planned stay, with index -1); a new one gets
// an id from the plan's name and the time. Writes each planned task's config.yaml.
SweepManifest applyPlan(const std::string& sweep_dir, const std::optional<SweepManifest>& existing,
                        const SweepPlan& plan, const std::string& backend);

// What a task's database says about its run: the newest run (a task has one, or more after a
// failed start). `status` is empty when there is no database or no run yet.
struct TaskRun {
  std::string status;  // running | completed | stopped | failed | interrupted, or empty
  int64_t run_id = 0;
  int runs = 0;
  std::string error;
  double duration_s = 0.0;
  // A running run's heartbeat, Unix time: its newest metric point, or the last start of its
  // process (its lock file's write) when that is newer; 0: neither (see `started`).
  double last_alive = 0.0;
  double started = 0.0;     // Unix time the run was created (its heartbeat before either)
  // A live process holds its lock (core/store/run_files.h): it is driven, whatever its
  // heartbeat's age. False when the lock is free, missing, or cannot be probed from here.
  bool driven = false;
  std::map<std::string, double> final_metrics;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> environment;  // student_parameters and the rest
  std::string uuid;
  // How far its training got: `phase` (teacher | student) and the epoch within it from its
  // newest training-loss point; `progress` over both phases' epochs (1 when completed, -1
  // when unknown).
  std::string phase;
  double epoch = 0.0;
  double progress = -1.0;
};
// Reads without blocking the worker that writes it (read-only, WAL). A database too new or
// not yet set up reads as no run.
TaskRun readTaskRun(const std::string& database);

// The state shown for a task: its run's when the run completed, else Slurm's (PREEMPTED,
// TIMEOUT, REQUEUED, NODE_FAIL, OUT_OF_MEMORY, CANCELLED each their own, lower case), else the
// run's, else `pending`. `slurm_state` is a state as sacct/squeue/scontrol print it, or empty.
std::string taskState(const TaskRun& run, const std::string& slurm_state);
// Whether a state is final (nothing will change it without a new submission).
bool isFinalState(const std::string& state);

// The last `lines` lines of a text file (a task's log); empty when it cannot be read.
std::string fileTail(const std::string& path, int lines);

}  // namespace distill
