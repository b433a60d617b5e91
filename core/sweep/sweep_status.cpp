#include "core/sweep/sweep_status.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "core/sweep/slurm.h"

namespace fs = std::filesystem;

namespace distill {

namespace {
// "42 s", "17 min", "3.2 h"
std::string ageText(double seconds) {
  char text[32];
  if (seconds < 120) std::snprintf(text, sizeof text, "%.0f s", seconds);
  else if (seconds < 2 * 3600) std::snprintf(text, sizeof text, "%.0f min", seconds / 60);
  else std::snprintf(text, sizeof text, "%.1f h", seconds / 3600);
  return text;
}
}  // namespace

std::string taskOutputPath(const std::string& sweep_dir, const ManifestTask& task) {
  if (!task.slurm_job.empty()) {
    const fs::path out = fs::path(sweep_dir) / "slurm" / (task.slurm_job + ".out");
    std::error_code ec;
    if (fs::exists(out, ec)) return out.string();
  }
  return taskLogPath(sweep_dir, task.hash);
}

std::vector<TaskStatus> sweepStatus(const std::string& sweep_dir, const SweepManifest& manifest, SlurmClient* slurm,
                                    std::string* slurm_source, double lost_after_s) {
  std::map<std::string, std::string> slurm_states;
  const bool any_job = std::any_of(manifest.tasks.begin(), manifest.tasks.end(),
                                   [](const ManifestTask& t) { return !t.slurm_job.empty(); });
  std::set<std::string> unlisted;
  bool controller = false;
  if (slurm && any_job) slurm_states = slurm->states(manifest, slurm_source, &unlisted, &controller);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
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
    status.source = !status.slurm.empty() && status.state != "completed" ? "slurm"
                    : !status.run.status.empty()                          ? "database"
                                                                          : "";
    if (status.state == "pending" && status.run.status.empty() && status.slurm.empty() && isFinalState(task.state) &&
        task.state != "completed") {
      status.state = task.state;
      status.source = "manifest";
    }
    if (status.run.status == "running") {
      const double heartbeat = status.run.last_alive > 0 ? status.run.last_alive : status.run.started;
      if (heartbeat > 0) status.heartbeat_age_s = std::max(0.0, now - heartbeat);
      // Slurm silent, or only accounting speaking of a job it thinks has not ended: the
      // heartbeat decides, unless a live process holds the run's lock.
      const bool slurm_silent = status.slurm.empty();
      const bool slurm_stale = !status.slurm.empty() && !controller && !isFinalState(status.state);
      if ((slurm_silent || slurm_stale) && !status.run.driven && heartbeat > 0) {
        status.source = "heartbeat";
        if (status.heartbeat_age_s > lost_after_s) {
          status.state = "lost";
          status.note = "no heartbeat for " + ageText(status.heartbeat_age_s);
          if (slurm_stale) status.note += " (sacct's " + status.slurm + " is stale: the controller did not answer)";
        } else {
          status.state = "running";
        }
      }
    }
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
