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

// How long a task whose run is still marked running may go without a heartbeat (its newest
// metric point or its process's last start, TaskRun::last_alive; the run's creation before
// either) before it is shown `lost`, when nothing better
// tells: Slurm cannot be asked (sacct, scontrol and squeue fail or are missing), no longer knows
// the job, or only accounting answered (sacct alone may keep RUNNING for a job whose node or
// controller went away). Training writes a point every few steps and each evaluation writes
// several, so 15 minutes of silence is far beyond a slow step or a long evaluation; a run whose
// lock a live process holds (TaskRun::driven) is running whatever its heartbeat's age.
constexpr double kLostAfterSeconds = 15 * 60;

struct TaskStatus {
  ManifestTask task;   // a copy of the manifest's entry
  TaskRun run;         // its database's newest run
  std::string slurm;   // Slurm's state as Slurm prints it ("CANCELLED by 0"); empty: not known there
  // What is shown: completed, running, failed, cancelled, timeout, ..., and `lost`: its run is
  // marked running, Slurm does not tell, and its heartbeat is older than the limit.
  std::string state;
  // Where `state` came from: "slurm" (Slurm's word, with the database for how a job ended),
  // "heartbeat" (Slurm silent or stale: the run's heartbeat), "database" (the run's own status),
  // "manifest" (the state last recorded, for a worker that failed before its run existed), or
  // "" (never started: pending).
  std::string source;
  double heartbeat_age_s = -1.0;  // for a run marked running: seconds since its heartbeat; -1: none
  std::string note;    // why, for a state that needs it: "no heartbeat for 42 min"
  std::string log;     // the task's output: its Slurm .out file when it has one, else log.txt
};

// Every task of the manifest, in its order. `slurm` null: Slurm is not asked (a local sweep, or
// a quick look); it is asked only when some task has a Slurm job. A task that never ran and is
// in none of the records the controller still holds of its array job is cancelled (without
// accounting, scancel of a pending array task leaves no trace; its Slurm word then reads
// "CANCELLED (taken out of its pending array)"; one that failed before its run existed and
// ended more than MinJobAge ago reads so too). A task with no run, unknown to Slurm, keeps the
// final state the manifest last recorded for it (a local worker that failed before its run
// existed), else it is pending. A task whose run is marked running and not driven by a live
// process here, about which Slurm says nothing (not asked, not answering, job forgotten) or
// only sacct speaks with a state that has not ended, is running while its heartbeat is younger
// than `lost_after_s` and `lost` after (kLostAfterSeconds).
std::vector<TaskStatus> sweepStatus(const std::string& sweep_dir, const SweepManifest& manifest, SlurmClient* slurm,
                                    std::string* slurm_source = nullptr, double lost_after_s = kLostAfterSeconds);

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
