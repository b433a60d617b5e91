// A sweep's tasks as they stand now: each task's run read from its own database, Slurm's word
// for the tasks it still knows, and the state shown (sweep_manifest.h's taskState). The one
// reading that `distill sweep status|run|resubmit` and the window's Sweeps page share.
//
//   std::string source;
//   SlurmClient slurm;
//   for (const TaskStatus& t : sweepStatus(dir, manifest, &slurm, &source)) ... t.state ...
//
// Thread contract: plain functions; any thread (the window calls them on a worker: asking
// Slurm runs sacct/scontrol/squeue and waits for them). The SlurmClient is used by one thread.
#pragma once

#include <string>
#include <vector>

#include "core/sweep/sweep_manifest.h"

namespace distill {

class SlurmClient;

struct TaskStatus {
  ManifestTask task;   // a copy of the manifest's entry
  TaskRun run;         // its database's newest run
  std::string slurm;   // Slurm's state as Slurm prints it ("CANCELLED by 0"); empty: not known there
  std::string state;   // what is shown: completed, running, failed, cancelled, timeout, ...
  std::string log;     // the task's output: its Slurm .out file when it has one, else log.txt
};

// Every task of the manifest, in its order. `slurm` null: Slurm is not asked (a local sweep, or
// a quick look); it is asked only when some task has a Slurm job. A task that never ran and is
// in none of the records the controller still holds of its array job is cancelled (without
// accounting, scancel of a pending array task leaves no trace; its Slurm word then reads
// "CANCELLED (taken out of its pending array)"; one that failed before its run existed and
// ended more than MinJobAge ago reads so too). A task with no run, unknown to Slurm, keeps the
// final state the manifest last recorded for it (a local worker that failed before its run
// existed), else it is pending.
std::vector<TaskStatus> sweepStatus(const std::string& sweep_dir, const SweepManifest& manifest, SlurmClient* slurm,
                                    std::string* slurm_source = nullptr);

// Whether Slurm may still start the task or is running it (so it must not be submitted again).
bool activeInSlurm(const TaskStatus& status);

// The states `sweep resubmit --failed` submits again: the task ended without completing and
// nothing will run it by itself (failed, cancelled, timeout, out_of_memory, node_fail,
// preempted, boot_fail, deadline). Not stopped or interrupted: those were stopped on purpose
// (Ctrl-C, a signal) and `sweep run` resumes them.
bool isFailedState(const std::string& state);

// The file holding a task's output (its Slurm .out when it has one, else its log.txt).
std::string taskOutputPath(const std::string& sweep_dir, const ManifestTask& task);

}  // namespace distill
