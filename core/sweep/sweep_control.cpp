#include "core/sweep/sweep_control.h"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/runtime/runtime.h"
#include "core/store/run_files.h"
#include "core/sweep/slurm.h"

namespace fs = std::filesystem;

namespace distill {

std::string localRunnerLockPath(const std::string& sweep_dir) {
  return (fs::path(sweep_dir) / "local-runner.lock").string();
}

namespace {
// The pid and host RunLock wrote into the lock file's header ("pid=N", "host=H" lines).
LocalRunner readRunner(const std::string& path) {
  LocalRunner runner;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("pid=", 0) == 0) runner.pid = static_cast<pid_t>(std::strtol(line.c_str() + 4, nullptr, 10));
    if (line.rfind("host=", 0) == 0) runner.host = line.substr(5);
  }
  return runner;
}
}  // namespace

LocalRunnerLock::LocalRunnerLock(const std::string& sweep_dir) {
  const std::string path = localRunnerLockPath(sweep_dir);
  if (probeRunLock(path).state == LockProbe::State::Held) {
    const LocalRunner runner = readRunner(path);
    throw ConfigError(std::vector<ConfigIssue>{{"SWEEP", sweep_dir + " is being run by process " + std::to_string(runner.pid) + " on " +
                                     runner.host + "; wait for it, or stop it with `distill sweep cancel " + sweep_dir + "`"}});
  }
  try {
    lock_ = std::make_unique<RunLock>(path);
  } catch (const std::runtime_error& e) {
    throw StoreError(std::string("the sweep's runner lock: ") + e.what());
  }
  lock_->markRecorded();  // removed when released: a free lock file would only be clutter
}

LocalRunnerLock::~LocalRunnerLock() = default;

LocalRunner localRunner(const std::string& sweep_dir) {
  const std::string path = localRunnerLockPath(sweep_dir);
  if (probeRunLock(path).state != LockProbe::State::Held) return {};
  return readRunner(path);
}

CancelResult cancelSweep(const std::string& sweep_dir, const SweepManifest& manifest,
                         const std::vector<TaskStatus>& statuses, SlurmClient& slurm) {
  CancelResult result;
  std::vector<std::string> done;
  if (!manifest.slurm_jobs.empty()) {
    std::map<std::string, std::string> states;
    for (const auto& status : statuses) states[status.task.hash] = status.state;
    result.slurm_jobs = slurm.cancel(manifest, states);
    if (!result.slurm_jobs.empty()) {
      std::string jobs;
      for (const auto& job : result.slurm_jobs) jobs += (jobs.empty() ? "" : ", ") + job;
      done.push_back("cancelled job array" + std::string(result.slurm_jobs.size() > 1 ? "s " : " ") + jobs);
    }
  }
  const LocalRunner runner = localRunner(sweep_dir);
  if (runner.pid > 0) {
    if (runner.host != hostName())
      throw ConfigError(std::vector<ConfigIssue>{{"SWEEP", "the sweep's local runner is process " + std::to_string(runner.pid) + " on " + runner.host +
                                       ", not this machine (" + hostName() + "): cancel it there"}});
    if (::kill(runner.pid, SIGTERM) != 0 && errno != ESRCH)
      throw StoreError("cannot signal the sweep's local runner, process " + std::to_string(runner.pid) + ": " +
                       std::strerror(errno));
    result.local_runner = runner.pid;
    done.push_back("stopped the local runner (process " + std::to_string(runner.pid) +
                   "): its runs stop between steps, stored stopped");
  }
  if (done.empty()) {
    result.message = manifest.slurm_jobs.empty() ? "nothing to cancel: no `distill sweep run` of this sweep is running here"
                                                 : "nothing to cancel: every task has ended";
  } else {
    for (const auto& line : done) result.message += (result.message.empty() ? "" : "; ") + line;
  }
  return result;
}

std::vector<std::string> failedTasks(const std::vector<TaskStatus>& statuses) {
  std::vector<std::string> hashes;
  for (const auto& status : statuses)
    if (status.task.index >= 0 && isFailedState(status.state) && !activeInSlurm(status)) hashes.push_back(status.task.hash);
  return hashes;
}

}  // namespace distill
