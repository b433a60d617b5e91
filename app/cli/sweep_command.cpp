#include "app/cli/sweep_command.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "app/cli/cli_common.h"
#include "app/cli/console_progress.h"
#include "core/config/config.h"
#include "core/errors.h"
#include "core/store/run_import.h"
#include "core/store/run_store.h"
#include "core/sweep/local_backend.h"
#include "core/sweep/slurm.h"
#include "core/sweep/sweep_control.h"
#include "core/sweep/sweep_manifest.h"
#include "core/sweep/sweep_plan.h"
#include "core/sweep/sweep_status.h"
#include "core/tasks/task_catalog.h"
#include "core/text/utf8.h"
#include "core/train/experiment_runner.h"

namespace fs = std::filesystem;

namespace distill::cli {
namespace {

std::string databasePath(const std::string& db) { return db.empty() ? defaultDatabasePath() : db; }

std::string jsonText(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string absolute(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

// The binary the workers run: this one.
std::string selfPath() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("distill") : self.string();
}

SweepPlan planFile(const std::string& file, const std::string& db) {
  const SweepSpec spec = loadSweepFile(file);
  return planSweep(spec, [&](const std::string& run) { return teacherFromRun(run, databasePath(db)); });
}

std::string axisText(const std::vector<std::pair<std::string, std::string>>& values) {
  std::string text;
  for (const auto& [key, value] : values) text += (text.empty() ? "" : " ") + key + "=" + value;
  return text;
}

// Every task's state now, Slurm asked when a task has a job (core/sweep/sweep_status.h).
std::vector<TaskStatus> viewTasks(const std::string& dir, const SweepManifest& manifest, std::string* slurm_source,
                                  double lost_after_s = kLostAfterSeconds) {
  SlurmClient slurm;
  return sweepStatus(dir, manifest, &slurm, slurm_source, lost_after_s);
}

std::string resultText(const TaskRun& run) {
  if (run.final_metrics.empty()) return run.error;
  return headlineSummary(taskDisplay(taskOfRun(run.params)), run.final_metrics);
}

// ---- signals -----------------------------------------------------------------------------

std::atomic<int> g_sweep_stops{0};
extern "C" void onSweepSignal(int) { g_sweep_stops.fetch_add(1); }

RunControl* g_task_control = nullptr;
extern "C" void onTaskSignal(int) {
  if (g_task_control && !g_task_control->stopRequested()) {
    g_task_control->requestStop();
    return;
  }
  std::_Exit(kExitStopped);
}

class SignalScope {
 public:
  SignalScope(std::initializer_list<int> signals, void (*handler)(int)) : signals_(signals) {
    for (int s : signals_) previous_.push_back(std::signal(s, handler));
  }
  ~SignalScope() {
    for (size_t i = 0; i < signals_.size(); ++i) std::signal(signals_[i], previous_[i]);
  }

 private:
  std::vector<int> signals_;
  std::vector<void (*)(int)> previous_;
};

void printImport(const ImportReport& report, bool json) {
  if (json) {
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& run : report.runs)
      runs.push_back({{"action", importActionName(run.action)}, {"run_id", run.run_id}, {"uuid", run.uuid},
                      {"name", run.name}, {"status", run.status}, {"source", run.source},
                      {"source_id", run.source_id}, {"note", run.note}});
    fmt::print("{}\n", jsonText({{"runs", runs}, {"databases", report.databases}, {"problems", report.problems}}, 2));
    return;
  }
  for (const auto& run : report.runs) {
    if (run.action == ImportedRun::Action::Unchanged) continue;
    fmt::print("{:<9} run {:>4}  {:<11}  {}  (run {} of {}){}\n", importActionName(run.action), run.run_id, run.status,
               terminalText(run.name, 40), run.source_id, run.source, run.note.empty() ? "" : ": " + run.note);
  }
  for (const auto& problem : report.problems) fmt::print(stderr, "warning: not imported: {}\n", problem);
  fmt::print("{} added, {} updated, {} unchanged, {} skipped from {} database(s)\n", report.count(ImportedRun::Action::Added),
             report.count(ImportedRun::Action::Updated), report.count(ImportedRun::Action::Unchanged),
             report.count(ImportedRun::Action::Skipped), report.databases.size());
}

std::vector<std::string> taskDatabases(const std::string& dir, const SweepManifest& manifest) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& task : manifest.tasks)
    if (fs::is_regular_file(taskDatabase(dir, task.hash), ec)) files.push_back(taskDatabase(dir, task.hash));
  return files;
}

SweepManifest requireManifest(const std::string& dir) {
  auto manifest = readManifest(dir);
  if (!manifest) throw ConfigError({{"SWEEP", "'" + dir + "' holds no sweep (no sweep.json): give the folder of `distill sweep run --out`"}});
  return *manifest;
}

}  // namespace

SweepCommands::SweepCommands(CLI::App& app, std::string& db) {
  sweep_ = app.add_subcommand("sweep", "run many runs over config axes, locally or on a Slurm cluster (see docs/sweeps.md)");
  sweep_->require_subcommand(1);

  plan_ = sweep_->add_subcommand("plan", "print the runs a sweep file makes, refusing bad axes");
  plan_->add_option("file", file_, "the sweep file (YAML)")->required()->type_name("FILE");
  plan_->add_flag("--json", json_, "JSON output for scripts");
  plan_->add_option("--db", db, "the database a teacher: run:<id> is read from")->type_name("FILE");

  run_ = sweep_->add_subcommand("run", "run a sweep's runs that have not completed: local workers or a Slurm job array");
  run_->add_option("file", file_, "the sweep file (YAML)")->required()->type_name("FILE");
  run_->add_option("-o,--out", dir_, "the sweep's folder (default: the sweep's name, here); on shared storage for Slurm")
      ->type_name("DIR");
  run_->add_option("--backend", backend_, "local (worker processes here) or slurm (sbatch)")
      ->check(CLI::IsMember({"local", "slurm"}));
  run_->add_option("-j,--jobs", jobs_, "local: runs at a time (default 1)")->check(CLI::Range(1, 1024));
  run_->add_option("--threads", threads_, "local: threads per run (default: the cores divided by --jobs)")
      ->check(CLI::Range(0, 1024));
  run_->add_flag("--import", import_after_, "import the runs into the main database when the sweep ends (local, or slurm --wait)");
  run_->add_flag("--wait", wait_, "slurm: wait until every task has ended");
  run_->add_option("--partition", partition_, "slurm: sbatch --partition");
  run_->add_option("--account", account_, "slurm: sbatch --account");
  run_->add_option("--time", time_, "slurm: sbatch --time, per task (e.g. 01:00:00)");
  run_->add_option("--mem", mem_, "slurm: sbatch --mem, per task (e.g. 8G)");
  run_->add_option("--gpus-per-task", gpus_per_task_, "slurm: sbatch --gpus-per-task")->check(CLI::Range(0, 64));
  run_->add_option("--cpus-per-task", cpus_per_task_, "slurm: sbatch --cpus-per-task (also the run's threads)")
      ->check(CLI::Range(0, 1024));
  run_->add_option("--constraint", constraint_, "slurm: sbatch --constraint");
  run_->add_option("--max-running", max_running_, "slurm: tasks running at once (the array's %K; 0: no limit)")
      ->check(CLI::Range(0, 100000));
  run_->add_option("--signal-seconds", signal_seconds_,
                   "slurm: stop, checkpoint and requeue this long before the time limit (default 120; 0: never)")
      ->check(CLI::Range(0, 65535));
  run_->add_option("--sbatch", sbatch_lines_, "slurm: an extra #SBATCH line (repeatable), e.g. --sbatch=--qos=low")
      ->type_name("LINE")
      ->allow_extra_args(false);
  run_->add_option("--distill", distill_, "slurm: the distill binary the nodes run (default: this one)")->type_name("PATH");
  run_->add_option("--db", db, "the main database (teacher: run:<id>, --import)")->type_name("FILE");

  resubmit_ = sweep_->add_subcommand(
      "resubmit", "submit again the tasks that failed, were cancelled or ran out of time or memory (--failed)");
  resubmit_->add_option("dir", dir_, "the sweep's folder")->required()->type_name("SWEEP");
  resubmit_->add_flag("--failed", failed_only_,
                      "the tasks whose state is failed, cancelled, timeout, out_of_memory, node_fail or preempted");
  resubmit_backend_ = resubmit_->add_option("--backend", backend_, "local or slurm (default: the sweep's)")
                          ->check(CLI::IsMember({"local", "slurm"}));
  resubmit_->add_option("-j,--jobs", jobs_, "local: runs at a time (default 1)")->check(CLI::Range(1, 1024));
  resubmit_->add_option("--threads", threads_, "local: threads per run (default: the cores divided by --jobs)")
      ->check(CLI::Range(0, 1024));
  resubmit_->add_flag("--import", import_after_, "import the runs into the main database when they end (local, or slurm --wait)");
  resubmit_->add_flag("--wait", wait_, "slurm: wait until every task has ended");
  resubmit_->add_option("--partition", partition_, "slurm: sbatch --partition (default: the last submission's)");
  resubmit_->add_option("--account", account_, "slurm: sbatch --account");
  resubmit_->add_option("--time", time_, "slurm: sbatch --time, per task");
  resubmit_->add_option("--mem", mem_, "slurm: sbatch --mem, per task (more after out_of_memory)");
  resubmit_->add_option("--gpus-per-task", gpus_per_task_, "slurm: sbatch --gpus-per-task")->check(CLI::Range(0, 64));
  resubmit_->add_option("--cpus-per-task", cpus_per_task_, "slurm: sbatch --cpus-per-task")->check(CLI::Range(0, 1024));
  resubmit_->add_option("--constraint", constraint_, "slurm: sbatch --constraint");
  resubmit_->add_option("--max-running", max_running_, "slurm: tasks running at once (0: no limit)")
      ->check(CLI::Range(0, 100000));
  resubmit_->add_option("--signal-seconds", signal_seconds_, "slurm: stop and requeue this long before the time limit")
      ->check(CLI::Range(0, 65535));
  resubmit_->add_option("--sbatch", sbatch_lines_, "slurm: an extra #SBATCH line (repeatable)")
      ->type_name("LINE")
      ->allow_extra_args(false);
  resubmit_->add_option("--distill", distill_, "slurm: the distill binary the nodes run (default: this one)")->type_name("PATH");
  resubmit_->add_option("--db", db, "the main database (--import)")->type_name("FILE");

  status_ = sweep_->add_subcommand("status", "each task's state (from its database and Slurm), result or log tail");
  status_->add_option("dir", dir_, "the sweep's folder")->required()->type_name("SWEEP");
  status_->add_flag("--json", json_, "JSON output for scripts");
  status_->add_option("--lost-after", lost_after_minutes_,
                      "minutes without a heartbeat after which a run Slurm does not tell about is shown lost (default 15)")
      ->check(CLI::Range(0.1, 1e6))
      ->type_name("MINUTES");

  import_sweep_ = sweep_->add_subcommand("import", "import the sweep's runs into the main database (again: updates)");
  import_sweep_->add_option("dir", dir_, "the sweep's folder")->required()->type_name("SWEEP");
  import_sweep_->add_flag("--json", json_, "JSON output for scripts");
  import_sweep_->add_option("--db", db, "the main database")->type_name("FILE");

  cancel_ = sweep_->add_subcommand("cancel", "cancel a sweep: scancel its unfinished Slurm tasks, or stop the local `sweep run` running it");
  cancel_->add_option("dir", dir_, "the sweep's folder")->required()->type_name("SWEEP");

  task_ = sweep_->add_subcommand("task", "run one task of a sweep (what the backends start; resumes its own run)");
  task_->add_option("dir", dir_, "the sweep's folder")->required()->type_name("SWEEP");
  task_->add_option("hash", hash_, "the task's config hash")->required()->type_name("HASH");
  task_->add_option("--threads", threads_, "threads when the config says auto")->check(CLI::Range(0, 1024));

  import_ = app.add_subcommand("import", "merge runs from other databases (files or folders of them) by run UUID");
  import_->add_option("paths", import_paths_, "database files, or folders searched for *.db")->required()->type_name("FILE|FOLDER...");
  import_->add_flag("--json", json_, "JSON output for scripts");
  import_->add_option("--db", db, "the database to import into")->type_name("FILE");
}

bool SweepCommands::parsed() const { return sweep_->parsed() || import_->parsed(); }

int SweepCommands::execute(const std::string& db) {
  if (import_->parsed()) return importFiles(db);
  if (plan_->parsed()) return plan(db);
  if (run_->parsed()) return run(db);
  if (resubmit_->parsed()) {
    backend_given_ = resubmit_backend_->count() > 0;
    return resubmit(db);
  }
  if (status_->parsed()) return status();
  if (import_sweep_->parsed()) return importSweep(db);
  if (cancel_->parsed()) return cancel();
  return task();
}

// ---- plan --------------------------------------------------------------------------------

int SweepCommands::plan(const std::string& db) {
  const SweepPlan plan = planFile(file_, db);
  if (json_) {
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& task : plan.tasks) {
      nlohmann::json axes = nlohmann::json::object();
      for (const auto& [key, value] : task.axis_values) axes[key] = value;
      runs.push_back({{"index", task.index}, {"hash", task.hash}, {"name", task.config.name}, {"axes", axes},
                      {"overrides", task.overrides}, {"trains_teacher", task.trains_teacher},
                      {"uses_shared_teacher", task.uses_shared_teacher}});
    }
    nlohmann::json axes = nlohmann::json::array();
    for (const auto& axis : plan.spec.axes) axes.push_back(axis.key);
    fmt::print("{}\n", jsonText({{"name", plan.spec.name}, {"base", plan.spec.base_origin}, {"axes", axes},
                                 {"teacher", plan.teacher_note}, {"runs", runs}},
                                2));
    return kExitOk;
  }
  std::vector<std::string> keys;
  for (const auto& axis : plan.spec.axes) keys.push_back(axis.key);
  std::string key_list;
  for (const auto& key : keys) key_list += (key_list.empty() ? "" : ", ") + key;
  fmt::print("sweep {}: {} run(s) over {}; base {}\n", plan.spec.name, plan.tasks.size(), key_list, plan.spec.base_origin);
  fmt::print("teacher: {}\n", plan.teacher_note);
  std::vector<size_t> widths;
  for (const auto& key : keys) widths.push_back(key.size());
  for (const auto& task : plan.tasks)
    for (size_t a = 0; a < task.axis_values.size(); ++a) widths[a] = std::max(widths[a], task.axis_values[a].second.size());
  std::string header = fmt::format("{:>5}  {:<16}", "run", "hash");
  for (size_t a = 0; a < keys.size(); ++a) header += fmt::format("  {:<{}}", keys[a], widths[a]);
  fmt::print("{}  name\n", header);
  for (const auto& task : plan.tasks) {
    std::string line = fmt::format("{:>5}  {:<16}", task.index, task.hash);
    for (size_t a = 0; a < task.axis_values.size(); ++a) line += fmt::format("  {:<{}}", task.axis_values[a].second, widths[a]);
    fmt::print("{}  {}{}\n", line, task.config.name, task.trains_teacher ? "  (trains the teacher)" : "");
  }
  return kExitOk;
}

// ---- run ---------------------------------------------------------------------------------

int SweepCommands::run(const std::string& db) {
  SweepPlan plan = planFile(file_, db);
  const std::string dir = absolute(dir_.empty() ? plan.spec.name : dir_);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw StoreError(dir + ": cannot create the sweep's folder (" + ec.message() + ")");
  const auto existing = readManifest(dir);
  if (existing && existing->name != plan.spec.name)
    throw ConfigError({{"--out", dir + " holds sweep '" + existing->name + "'; give this sweep (" + plan.spec.name + ") a folder of its own"}});
  SweepManifest manifest = applyPlan(dir, existing, plan, backend_);

  // What to run: every planned task not completed, and not still queued or running in Slurm.
  std::string slurm_source;
  const std::vector<TaskStatus> statuses = viewTasks(dir, manifest, &slurm_source);
  std::vector<std::string> todo;
  int completed = 0, active = 0;
  for (const auto& status : statuses) {
    if (status.task.index < 0) continue;
    if (status.state == "completed") {
      ++completed;
    } else if (activeInSlurm(status) || (status.state == "running" && status.run.status == "running")) {
      ++active;
    } else {
      todo.push_back(status.task.hash);
    }
  }
  fmt::print("sweep {} in {}: {} run(s); {} completed, {} queued or running, {} to run\n", manifest.id, dir,
             completed + active + todo.size(), completed, active, todo.size());
  fmt::print("teacher: {}\n", manifest.teacher_note);
  return submit(dir, manifest, statuses, todo, backend_, slurmSettings(plan.spec.slurm), db);
}

SlurmSettings SweepCommands::slurmSettings(SlurmSettings settings) const {
  if (!partition_.empty()) settings.partition = partition_;
  if (!account_.empty()) settings.account = account_;
  if (!time_.empty()) settings.time = time_;
  if (!mem_.empty()) settings.mem = mem_;
  if (!constraint_.empty()) settings.constraint = constraint_;
  if (gpus_per_task_ >= 0) settings.gpus_per_task = gpus_per_task_;
  if (cpus_per_task_ >= 0) settings.cpus_per_task = cpus_per_task_;
  if (max_running_ >= 0) settings.max_running = max_running_;
  if (signal_seconds_ >= 0) settings.signal_seconds = signal_seconds_;
  for (const auto& line : sbatch_lines_) settings.sbatch_lines.push_back(line);
  return settings;
}

// ---- resubmit ------------------------------------------------------------------------------

int SweepCommands::resubmit(const std::string& db) {
  if (!failed_only_)
    throw ConfigError(std::vector<ConfigIssue>{
        {"--failed", "say which tasks to submit again: --failed (failed, cancelled, timeout, out_of_memory, node_fail, "
                     "preempted); `distill sweep run FILE` runs every task that has not completed"}});
  const std::string dir = absolute(dir_);
  SweepManifest manifest = requireManifest(dir);
  std::string slurm_source;
  const std::vector<TaskStatus> statuses = viewTasks(dir, manifest, &slurm_source);
  const std::vector<std::string> todo = failedTasks(statuses);
  std::map<std::string, int> counts;
  for (const auto& status : statuses)
    if (status.task.index >= 0) ++counts[status.state];  // dropped from the sweep file: not part of the sweep now
  std::string summary;
  for (const auto& [state, count] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(count) + " " + state;
  if (todo.empty()) {
    fmt::print("nothing to resubmit: no task of sweep {} failed, was cancelled or ran out of time or memory ({})\n",
               manifest.id, summary.empty() ? std::string("no tasks") : summary);
    return kExitOk;
  }
  const std::string backend = backend_given_ ? backend_ : manifest.backend;
  fmt::print("sweep {} in {}: {}; resubmitting {} run(s) ({})\n", manifest.id, dir, summary, todo.size(), backend);
  for (const auto& status : statuses)
    if (std::find(todo.begin(), todo.end(), status.task.hash) != todo.end())
      fmt::print("  run {:>3} {:<14} {}\n", status.task.index, status.state, axisText(status.task.axis_values));
  // The settings of the sweep's last Slurm submission, else its file's slurm: section.
  SlurmSettings settings;
  if (manifest.slurm) {
    settings = *manifest.slurm;
  } else if (std::error_code ec; !manifest.file.empty() && fs::is_regular_file(manifest.file, ec)) {
    settings = loadSweepFile(manifest.file).slurm;
  }
  return submit(dir, manifest, statuses, todo, backend, slurmSettings(settings), db);
}

// ---- submission, shared by run and resubmit ---------------------------------------------------

int SweepCommands::submit(const std::string& dir, SweepManifest& manifest, const std::vector<TaskStatus>& statuses,
                          const std::vector<std::string>& todo, const std::string& backend, const SlurmSettings& settings,
                          const std::string& db) {
  const auto in_todo = [&](const std::string& hash) { return std::find(todo.begin(), todo.end(), hash) != todo.end(); };
  const TaskStatus* teacher_status = nullptr;
  for (const auto& status : statuses)
    if (!manifest.teacher_task.empty() && status.task.hash == manifest.teacher_task) teacher_status = &status;
  const bool teacher_in_todo = teacher_status && in_todo(teacher_status->task.hash);
  manifest.backend = backend;
  std::optional<LocalRunnerLock> runner_lock;  // local: taken before the workers start

  if (backend == "slurm") {
    if (!todo.empty()) {
      // A teacher already queued in an earlier submission: the new tasks wait for that job.
      std::string teacher_job;
      if (teacher_status && !teacher_in_todo && activeInSlurm(*teacher_status)) {
        const std::string& job = manifest.find(teacher_status->task.hash)->slurm_job;
        teacher_job = job.substr(0, job.find('_'));
      }
      SlurmClient client;
      const auto jobs = client.submit(dir, manifest, todo, settings, distill_.empty() ? selfPath() : absolute(distill_), teacher_job);
      manifest.slurm = settings;
      writeManifest(dir, manifest);
      for (const auto& job : jobs) fmt::print("submitted job array {}\n", job);
    }
    if (!wait_) {
      fmt::print("follow it with: distill sweep status {}\n", dir);
      return kExitOk;
    }
    // Wait until every planned task has ended; Ctrl-C stops waiting (the jobs go on).
    SignalScope signals({SIGINT, SIGTERM}, onSweepSignal);
    const int stops_before = g_sweep_stops.load();
    std::map<std::string, std::string> shown;
    for (;;) {
      const auto now = viewTasks(dir, manifest, nullptr);
      bool all_final = true;
      for (const auto& status : now) {
        if (status.task.index < 0) continue;
        if (shown[status.task.hash] != status.state) {
          shown[status.task.hash] = status.state;
          fmt::print("  run {:>3} {:<14} {}\n", status.task.index, status.state, axisText(status.task.axis_values));
          std::fflush(stdout);
        }
        // A lost task (no word from Slurm, no heartbeat) will not end by itself either.
        all_final = all_final && (isFinalState(status.state) || status.state == "lost");
      }
      if (all_final) break;
      if (g_sweep_stops.load() != stops_before) {
        fmt::print(stderr, "stopped waiting; the jobs go on: distill sweep status {}\n", dir);
        return kExitStopped;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  } else {
    // Local: the teacher's task first when it is to run; its dependants wait for it.
    if (teacher_status && !teacher_in_todo && teacher_status->state != "completed" && !todo.empty())
      throw ConfigError({{"teacher", "the sweep's teacher (run 0, task " + teacher_status->task.hash + ") is " +
                                         teacher_status->state + "; run again once it has completed"}});
    // Threads for a config that says auto (the worker ignores them otherwise).
    const int threads = threads_ > 0 ? threads_ : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / jobs_);
    std::vector<LocalJob> jobs;
    std::map<std::string, const ManifestTask*> by_hash;
    for (const auto& hash : todo) {
      const ManifestTask* task = manifest.find(hash);
      by_hash[hash] = task;
      LocalJob job;
      job.id = hash;
      job.argv = {selfPath(), "sweep", "task", dir, hash, "--threads", std::to_string(threads)};
      job.log_path = taskLogPath(dir, hash);
      job.first = teacher_in_todo && hash == manifest.teacher_task;
      job.needs_first = teacher_in_todo && task->uses_shared_teacher;
      jobs.push_back(std::move(job));
    }
    // Held while the workers run and the manifest is written after them: `distill sweep cancel`
    // (and the window) find this process by it.
    runner_lock.emplace(dir);
    SignalScope signals({SIGINT, SIGTERM}, onSweepSignal);
    const int total = static_cast<int>(jobs.size());
    int done = 0;
    runLocal(jobs, jobs_, g_sweep_stops, [&](const LocalEvent& event) {
      const ManifestTask& task = *by_hash.at(event.job->id);
      switch (event.kind) {
        case LocalEvent::Kind::Started:
          fmt::print("started   run {:>3}  {}  ({})\n", task.index, axisText(task.axis_values), taskLogPath(dir, task.hash));
          break;
        case LocalEvent::Kind::Skipped:
          ++done;
          fmt::print("skipped   run {:>3}  {}{}\n", task.index, axisText(task.axis_values),
                     g_sweep_stops.load() > 0 ? " (stopped)" : " (the teacher's run did not complete)");
          break;
        case LocalEvent::Kind::Finished: {
          ++done;
          const TaskRun result = readTaskRun(taskDatabase(dir, task.hash));
          const bool stopped = event.exit_code == kExitStopped || event.exit_code == 128 + SIGTERM;
          const std::string state = !result.status.empty() ? result.status : stopped ? "stopped" : "failed";
          // A worker that failed before its run existed: only the manifest remembers it.
          if (result.status.empty()) manifest.find(task.hash)->state = event.exit_code == 0 ? "" : state;
          fmt::print("[{}/{}] run {:>3}  {:<10} {}  {:.0f} s  {}\n", done, total, task.index, state,
                     axisText(task.axis_values), event.seconds, terminalText(resultText(result)));
          if (event.exit_code != 0 && !stopped) {
            const std::string tail = fileTail(taskLogPath(dir, task.hash), 3);
            std::istringstream lines(tail);
            for (std::string line; std::getline(lines, line);) fmt::print("          | {}\n", terminalText(line));
          }
          break;
        }
      }
      std::fflush(stdout);
    });
  }

  // The sweep as it now stands.
  const auto final_statuses = sweepStatus(dir, manifest, nullptr);
  std::map<std::string, int> counts;
  for (const auto& status : final_statuses) {
    if (status.task.index < 0) continue;
    ++counts[status.state];
    if (ManifestTask* task = manifest.find(status.task.hash)) task->state = status.state;
  }
  writeManifest(dir, manifest);
  std::string summary;
  for (const auto& [state, count] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(count) + " " + state;
  fmt::print("sweep {}: {}\n", manifest.id, summary);
  if (import_after_) printImport(importRuns(databasePath(db), taskDatabases(dir, manifest)), false);
  else fmt::print("import the runs with: distill sweep import {}\n", dir);
  if (g_sweep_stops.load() > 0) return kExitStopped;
  const bool all_completed = counts.size() == 1 && counts.count("completed");
  return all_completed ? kExitOk : kExitRunFailed;
}

// ---- status, cancel, import ----------------------------------------------------------------

int SweepCommands::status() {
  const std::string dir = absolute(dir_);
  const SweepManifest manifest = requireManifest(dir);
  std::string slurm_source;
  const auto views = viewTasks(dir, manifest, &slurm_source, lost_after_minutes_ * 60.0);
  if (json_) {
    nlohmann::json tasks = nlohmann::json::array();
    for (const auto& view : views) {
      nlohmann::json axes = nlohmann::json::object();
      for (const auto& [key, value] : view.task.axis_values) axes[key] = value;
      nlohmann::json item = {{"index", view.task.index}, {"hash", view.task.hash}, {"name", view.task.name},
                             {"axes", axes}, {"state", view.state}, {"run_status", view.run.status},
                             {"run_id", view.run.run_id}, {"slurm_job", view.task.slurm_job},
                             {"slurm_state", view.slurm}, {"error", view.run.error},
                             {"final", view.run.final_metrics}, {"database", taskDatabase(dir, view.task.hash)},
                             {"log", view.log}, {"state_source", view.source}, {"note", view.note}};
      if (view.run.last_alive > 0) item["last_alive"] = view.run.last_alive;
      if (view.heartbeat_age_s >= 0) item["heartbeat_age_s"] = view.heartbeat_age_s;
      if (!isFinalState(view.state) || view.state == "completed") item["log_tail"] = nullptr;
      else item["log_tail"] = fileTail(view.log, 5);
      tasks.push_back(item);
    }
    fmt::print("{}\n", jsonText({{"id", manifest.id}, {"name", manifest.name}, {"backend", manifest.backend},
                                 {"teacher", manifest.teacher_note}, {"slurm_source", slurm_source},
                                 {"lost_after_s", lost_after_minutes_ * 60.0}, {"tasks", tasks}},
                                2));
    return kExitOk;
  }
  fmt::print("sweep {} ({}), {}\n", manifest.id, manifest.backend, dir);
  fmt::print("teacher: {}\n", manifest.teacher_note);
  if (!slurm_source.empty()) fmt::print("slurm: {}\n", slurm_source);
  // The FROM column: where each state came from (slurm, heartbeat, database, manifest).
  fmt::print("{:>5}  {:<14} {:<9} {:<12} {}\n", "run", "state", "from", "slurm job", "axes, result");
  std::map<std::string, int> counts;
  for (const auto& view : views) {
    ++counts[view.state];
    std::string detail = resultText(view.run);
    if (!view.note.empty())
      detail = view.note;
    else if (view.run.status == "running" && view.heartbeat_age_s >= 0)
      detail = fmt::format("last heartbeat {:.0f} s ago", view.heartbeat_age_s);
    fmt::print("{:>5}  {:<14} {:<9} {:<12} {}  {}\n", view.task.index < 0 ? std::string("-") : std::to_string(view.task.index),
               view.state, view.source.empty() ? "-" : view.source, view.task.slurm_job.empty() ? "" : view.task.slurm_job,
               axisText(view.task.axis_values), terminalText(detail));
    if (isFinalState(view.state) && view.state != "completed") {
      std::istringstream lines(fileTail(view.log, 3));
      for (std::string line; std::getline(lines, line);) fmt::print("       | {}\n", terminalText(line));
    }
  }
  std::string summary;
  for (const auto& [state, count] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(count) + " " + state;
  fmt::print("{}\n", summary);
  if (counts.count("lost"))
    fmt::print("lost: marked running, but Slurm does not tell and no heartbeat for over {:g} min; `distill sweep cancel` "
               "and `distill sweep run` again (it resumes from the last checkpoint)\n",
               lost_after_minutes_);
  return kExitOk;
}

int SweepCommands::cancel() {
  const std::string dir = absolute(dir_);
  const SweepManifest manifest = requireManifest(dir);
  SlurmClient slurm;
  const CancelResult result = cancelSweep(dir, manifest, sweepStatus(dir, manifest, &slurm), slurm);
  for (const auto& job : result.slurm_jobs) fmt::print("cancelled job array {}\n", job);
  if (result.local_runner > 0)
    fmt::print("stopped the local runner (process {}): its runs stop between steps, stored stopped\n", result.local_runner);
  if (result.slurm_jobs.empty() && result.local_runner == 0) fmt::print("{}\n", result.message);
  return kExitOk;
}

int SweepCommands::importSweep(const std::string& db) {
  const std::string dir = absolute(dir_);
  const SweepManifest manifest = requireManifest(dir);
  const auto files = taskDatabases(dir, manifest);
  if (files.empty()) {
    fmt::print("no task of sweep {} has a database yet\n", manifest.id);
    return kExitOk;
  }
  printImport(importRuns(databasePath(db), files), json_);
  return kExitOk;
}

int SweepCommands::importFiles(const std::string& db) {
  const ImportReport report = importRuns(databasePath(db), import_paths_);
  printImport(report, json_);
  return report.databases.empty() && !report.problems.empty() ? kExitBadInput : kExitOk;
}

// ---- task: the worker ----------------------------------------------------------------------

int SweepCommands::task() {
  const std::string dir = absolute(dir_);
  const SweepManifest manifest = requireManifest(dir);
  const ManifestTask* task = manifest.find(hash_);
  if (!task) throw ConfigError({{"HASH", "sweep " + manifest.id + " has no task " + hash_}});
  const std::string config_path = taskConfigPath(dir, task->hash);
  std::ifstream in(config_path, std::ios::binary);
  if (!in) throw ConfigError({{"HASH", "cannot read " + config_path}});
  std::stringstream text;
  text << in.rdbuf();
  ExperimentConfig config = parseConfig(text.str(), config_path);
  if (threads_ > 0 && config.threads == 0) config.threads = threads_;

  if (task->uses_shared_teacher) {
    // The teacher file of the sweep's teacher task, checked to be that run's own.
    const std::string teacher_db = taskDatabase(dir, manifest.teacher_task);
    const TaskRun teacher = readTaskRun(teacher_db);
    if (teacher.status != "completed")
      throw ConfigError({{"teacher.source", "the sweep's teacher (task " + manifest.teacher_task + ") has not completed (" +
                                                (teacher.status.empty() ? std::string("not started") : teacher.status) + ")"}});
    RunStore store(teacher_db, RunStore::Mode::ReadOnly);
    const std::string file = store.checkpointFile(teacher.run_id, "teacher");
    if (file.empty()) throw ConfigError({{"teacher.source", "the sweep's teacher run in " + teacher_db + " saved no teacher"}});
    config.teacher.source = file;
  }

  const std::string db_path = taskDatabase(dir, task->hash);
  std::optional<ResumeRun> resume;
  {
    RunStore store(db_path);
    const auto runs = store.listRuns();
    if (!runs.empty()) {
      const ResumeCheck check = checkResume(store, runs.front().id);
      switch (check.verdict) {
        case ResumeCheck::Verdict::Completed:
          fmt::print("{}: {}\n", task->name, check.why);
          return kExitOk;
        case ResumeCheck::Verdict::StillRunning:
          throw ConfigError({{"HASH", task->name + ": " + check.why}});
        case ResumeCheck::Verdict::Possible:
        case ResumeCheck::Verdict::Undecidable:  // a requeued task on another node: its old process is gone
          resume = ResumeRun{runs.front().id, true};
          fmt::print("{}: {}\n", task->name, check.why);
          std::fflush(stdout);  // before the run's own lines on standard error, in a shared log
          break;
        case ResumeCheck::Verdict::NoCheckpoint:
        case ResumeCheck::Verdict::NotFound:
          break;  // a new run
      }
    }
  }

  RunControl control;
  ConsoleProgress progress(false);
  // From here on a signal stops the run between steps (USR1: Slurm's warning before the time
  // limit, when the batch script did not catch it); one before the run exists ends the task
  // without creating it.
  g_task_control = &control;
  SignalScope signals({SIGINT, SIGTERM, SIGUSR1}, onTaskSignal);
  std::unique_ptr<ExperimentRunner> runner =
      resume ? std::make_unique<ExperimentRunner>(*resume, db_path, progress, control)
             : std::make_unique<ExperimentRunner>(config, db_path, progress, control);
  if (control.stopRequested()) {
    g_task_control = nullptr;
    fmt::print(stderr, "{}: stopped before its run began\n", task->name);
    return kExitStopped;
  }
  const int64_t run_id = runner->createRun();
  if (!resume) {
    RunStore store(db_path);
    for (const auto& tag : task->tags) store.addTag(run_id, tag);
  }
  fmt::print(stderr, "run {} \"{}\" -> {}\n", run_id, runner->config().name, db_path);
  const RunResult result = runner->run();
  g_task_control = nullptr;
  progress.finish();
  fmt::print("run {} {}: {}\n", run_id, statusName(runStatusOf(result.outcome)),
             headlineSummary(taskDisplay(runner->config().task), result.final));
  if (result.outcome == RunOutcome::Failed) {
    fmt::print(stderr, "error: run {} failed: {}\n", run_id, result.error);
    return kExitRunFailed;
  }
  return result.outcome == RunOutcome::Stopped ? kExitStopped : kExitOk;
}

}  // namespace distill::cli
