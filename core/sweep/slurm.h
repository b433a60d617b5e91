// The Slurm backend: a sweep's tasks as job arrays submitted with `sbatch`, their states from
// `sacct` (or, where accounting is off, `scontrol show job` and `squeue`), cancelled with
// `scancel`. No daemon and no ssh of our own: the commands of the machine it runs on (a login
// node), with SLURM_CONF and the rest of the environment as the user has them.
//
// Each array task runs `distill sweep task DIR HASH` (core/sweep/local_backend.h's worker), its
// database in its task folder on shared storage. The batch script asks for USR1 `signal_seconds`
// before the time limit (`--signal=B:USR1@S`): it then stops the worker between steps (the run
// is stored `stopped`, its last epoch checkpoint kept), requeues the task with `scontrol
// requeue`, and the task's next start resumes the run. Arrays longer than the cluster's
// MaxArraySize are split. A shared teacher's task is submitted first, alone, and the other
// arrays wait for it (`--dependency=afterok:<job>`).
//
// The text functions (script, parsing of the commands' output) are pure; SlurmClient runs the
// commands through a ProgramRunner, which tests replace.
//
// Thread contract: plain functions and a client used by one thread.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/sweep/process.h"
#include "core/sweep/sweep_manifest.h"
#include "core/sweep/sweep_spec.h"

namespace distill {

// One array job's batch script.
struct SbatchScript {
  std::string sweep_dir;    // absolute
  std::string sweep_id;
  std::string tasks_file;   // one task hash per line: array index i runs line i + 1
  std::string distill;      // the distill binary the nodes run (absolute, on shared storage)
  int tasks = 0;            // array size
  SlurmSettings settings;
  std::string dependency;   // e.g. "afterok:123"; empty: none
};
std::string sbatchScriptText(const SbatchScript& script);

// "PENDING" -> "pending", "CANCELLED by 0" -> "cancelled", "OUT_OF_MEMORY" -> "out_of_memory".
std::string slurmStateName(const std::string& raw);

// Task states by "<array job>_<index>" from each command's output (array ranges expanded).
std::map<std::string, std::string> parseSacct(const std::string& output);     // -n -P -X -o JobID,State
std::map<std::string, std::string> parseSqueue(const std::string& output);    // -h -r -o "%i|%T"
std::map<std::string, std::string> parseScontrolJobs(const std::string& output);  // show job
// MaxArraySize from `scontrol show config`; `fallback` when absent.
int parseMaxArraySize(const std::string& output, int fallback);
// "2-5%2" -> 2 3 4 5; "1,3-4" -> 1 3 4.
std::vector<int> expandArrayIndices(const std::string& text);
// Consecutive pieces of `count` tasks no longer than `max_size` each: (first, size).
std::vector<std::pair<int, int>> splitArray(int count, int max_size);

using ProgramRunner = std::function<ProgramResult(const std::vector<std::string>& argv)>;

class SlurmClient {
 public:
  explicit SlurmClient(ProgramRunner runner = runProgram) : run_(std::move(runner)) {}

  // Submits the tasks `hashes` (in order) of the sweep in `dir`: the shared teacher's task
  // first when it is among them, then arrays of the rest no longer than MaxArraySize (those
  // needing the teacher wait for its job). Records each task's job ("<job>_<index>") and the
  // array jobs in `manifest` (not written here). `teacher_job`: the job of a teacher's task
  // submitted earlier and still queued, which the tasks needing it wait for. Throws
  // StoreError naming sbatch's message. Returns the array jobs submitted.
  std::vector<std::string> submit(const std::string& dir, SweepManifest& manifest, const std::vector<std::string>& hashes,
                                  const SlurmSettings& settings, const std::string& distill,
                                  const std::string& teacher_job = "");

  // Each task's Slurm state as Slurm prints it, by task hash; tasks Slurm no longer knows are
  // absent (their database tells). `source` says which command answered (sacct, scontrol,
  // squeue) or why none did. `unlisted` (optional) gets the tasks absent although the
  // controller still shows their array job: without accounting, a task cancelled while its
  // array was pending leaves no record at all (scancel takes it out of the array), and nor
  // does one that ended more than MinJobAge ago; the task's database tells them apart.
  // `controller` (optional) is set to whether the controller (scontrol or squeue) answered:
  // when only sacct did, its word may be stale (slurmdbd keeps a job's last state it was
  // told, RUNNING, while the controller is down or has lost the node).
  std::map<std::string, std::string> states(const SweepManifest& manifest, std::string* source = nullptr,
                                            std::set<std::string>* unlisted = nullptr, bool* controller = nullptr);

  // Cancels the array jobs of the tasks that are not final; returns the jobs cancelled.
  // Throws StoreError with scancel's message.
  std::vector<std::string> cancel(const SweepManifest& manifest, const std::map<std::string, std::string>& task_states);

  int maxArraySize();

 private:
  ProgramRunner run_;
};

}  // namespace distill
