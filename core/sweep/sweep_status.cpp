#include "core/sweep/sweep_status.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/sweep/slurm.h"

namespace fs = std::filesystem;

namespace distill {

std::string taskOutputPath(const std::string& sweep_dir, const ManifestTask& task) {
  if (!task.slurm_job.empty()) {
    const fs::path out = fs::path(sweep_dir) / "slurm" / (task.slurm_job + ".out");
    std::error_code ec;
    if (fs::exists(out, ec)) return out.string();
  }
  return taskLogPath(sweep_dir, task.hash);
}

std::vector<TaskStatus> sweepStatus(const std::string& sweep_dir, const SweepManifest& manifest, SlurmClient* slurm,
                                    std::string* slurm_source) {
  std::map<std::string, std::string> slurm_states;
  const bool any_job = std::any_of(manifest.tasks.begin(), manifest.tasks.end(),
                                   [](const ManifestTask& t) { return !t.slurm_job.empty(); });
  std::set<std::string> unlisted;
  if (slurm && any_job) slurm_states = slurm->states(manifest, slurm_source, &unlisted);
  std::vector<TaskStatus> statuses;
  statuses.reserve(manifest.tasks.size());
  for (const auto& task : manifest.tasks) {
    TaskStatus status;
    status.task = task;
    status.run = readTaskRun(taskDatabase(sweep_dir, task.hash));
    if (const auto it = slurm_states.find(task.hash); it != slurm_states.end()) status.slurm = it->second;
    // Out of its array's records, and it never ran: scancel took it out while it was pending.
    if (unlisted.count(task.hash) && status.run.runs == 0) status.slurm = "CANCELLED (taken out of its pending array)";
    status.state = taskState(status.run, status.slurm);
    if (status.state == "pending" && status.run.status.empty() && status.slurm.empty() && isFinalState(task.state) &&
        task.state != "completed")
      status.state = task.state;
    status.log = taskOutputPath(sweep_dir, task);
    statuses.push_back(std::move(status));
  }
  return statuses;
}

bool activeInSlurm(const TaskStatus& status) {
  static const std::set<std::string> active{"pending", "running", "starting", "requeued", "configuring",
                                            "completing", "suspended", "resizing", "requeue_hold", "requeue_fed"};
  return !status.slurm.empty() && active.count(status.state) > 0;
}

bool isFailedState(const std::string& state) {
  static const std::set<std::string> failed{"failed",    "cancelled", "timeout",   "out_of_memory",
                                            "node_fail", "preempted", "boot_fail", "deadline"};
  return failed.count(state) > 0;
}

}  // namespace distill
