// Stopping a sweep and choosing what to run again: the one path that `distill sweep
// cancel|resubmit` and the window's Sweeps page ("Cancel sweep", "Resubmit failed") share.
//
//   SlurmClient slurm;
//   const auto statuses = sweepStatus(dir, manifest, &slurm);
//   CancelResult done = cancelSweep(dir, manifest, statuses, slurm);   // scancel, or SIGTERM
//   std::vector<std::string> again = failedTasks(statuses);            // resubmit --failed
//
// A local sweep's tasks run in the foreground of its `distill sweep run` (or `resubmit`), which
// holds DIR/local-runner.lock (its pid and host inside) while its workers run. Cancelling it
// sends that process SIGTERM, as Ctrl-C in its terminal would: it stops its workers between
// steps (their runs stored `stopped`, resumable by `sweep run`) and starts no more. A Slurm
// sweep's unfinished arrays are cancelled with scancel.
//
// Thread contract: plain functions and a lock object; any thread (the window calls them on a
// worker: scancel may take seconds). The SlurmClient is used by one thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/sweep/sweep_manifest.h"
#include "core/sweep/sweep_status.h"

namespace distill {

class RunLock;
class SlurmClient;

std::string localRunnerLockPath(const std::string& sweep_dir);

// Held by the process that runs a local sweep's workers, for as long as it runs them. Throws
// ConfigError naming the folder, the process and its host when another process runs the sweep
// (two runners would start the same tasks), StoreError when the lock file cannot be made.
class LocalRunnerLock {
 public:
  explicit LocalRunnerLock(const std::string& sweep_dir);
  ~LocalRunnerLock();
  LocalRunnerLock(const LocalRunnerLock&) = delete;
  LocalRunnerLock& operator=(const LocalRunnerLock&) = delete;

 private:
  std::unique_ptr<RunLock> lock_;
};

// The process running a local sweep's workers now: pid 0 when none holds the lock.
struct LocalRunner {
  pid_t pid = 0;
  std::string host;
};
LocalRunner localRunner(const std::string& sweep_dir);

struct CancelResult {
  std::vector<std::string> slurm_jobs;  // the array jobs scancel was given
  pid_t local_runner = 0;               // the local runner sent SIGTERM; 0: none
  std::string message;                  // what was done, one line for a person
};

// Cancels what still runs or waits of the sweep: the Slurm arrays with tasks that are not final
// (`statuses` as sweepStatus gave them), and the local runner when one runs on this host.
// Nothing to cancel is not an error (the message says so). Throws StoreError with scancel's
// message, ConfigError when the local runner is on another host (the signal cannot reach it:
// the message names the host and pid).
CancelResult cancelSweep(const std::string& sweep_dir, const SweepManifest& manifest,
                         const std::vector<TaskStatus>& statuses, SlurmClient& slurm);

// The planned tasks (index >= 0) `sweep resubmit --failed` submits again, in the sweep's order:
// their state isFailedState and Slurm does not still hold them (activeInSlurm).
std::vector<std::string> failedTasks(const std::vector<TaskStatus>& statuses);

}  // namespace distill
