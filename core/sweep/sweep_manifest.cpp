#include "core/sweep/sweep_manifest.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/runtime/file_io.h"
#include "core/store/run_files.h"
#include "core/store/run_store.h"

namespace fs = std::filesystem;

namespace distill {
namespace {

const char* teacherName(SweepTeacher teacher) {
  switch (teacher) {
    case SweepTeacher::Shared: return "shared";
    case SweepTeacher::FromRun: return "run";
    case SweepTeacher::File: return "file";
    case SweepTeacher::Auto:
    case SweepTeacher::PerTask: break;
  }
  return "per-task";
}

std::string utcNow(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, format, &utc);
  return text;
}

nlohmann::json taskJson(const ManifestTask& task) {
  nlohmann::json axes = nlohmann::json::array();
  for (const auto& [key, value] : task.axis_values) axes.push_back({key, value});
  return {{"index", task.index},
          {"hash", task.hash},
          {"name", task.name},
          {"axes", axes},
          {"tags", task.tags},
          {"trains_teacher", task.trains_teacher},
          {"uses_shared_teacher", task.uses_shared_teacher},
          {"slurm_job", task.slurm_job},
          {"state", task.state}};
}

ManifestTask taskFromJson(const nlohmann::json& json) {
  ManifestTask task;
  task.index = json.value("index", -1);
  task.hash = json.at("hash").get<std::string>();
  task.name = json.value("name", "");
  for (const auto& pair : json.value("axes", nlohmann::json::array()))
    task.axis_values.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
  task.tags = json.value("tags", std::vector<std::string>());
  task.trains_teacher = json.value("trains_teacher", false);
  task.uses_shared_teacher = json.value("uses_shared_teacher", false);
  task.slurm_job = json.value("slurm_job", "");
  task.state = json.value("state", "");
  return task;
}

nlohmann::json slurmJson(const SlurmSettings& s) {
  return {{"partition", s.partition},         {"account", s.account},         {"time", s.time},
          {"mem", s.mem},                     {"constraint", s.constraint},   {"gpus_per_task", s.gpus_per_task},
          {"cpus_per_task", s.cpus_per_task}, {"max_running", s.max_running}, {"signal_seconds", s.signal_seconds},
          {"sbatch", s.sbatch_lines}};
}

SlurmSettings slurmFromJson(const nlohmann::json& json) {
  SlurmSettings s;
  s.partition = json.value("partition", "");
  s.account = json.value("account", "");
  s.time = json.value("time", "");
  s.mem = json.value("mem", "");
  s.constraint = json.value("constraint", "");
  s.gpus_per_task = json.value("gpus_per_task", 0);
  s.cpus_per_task = json.value("cpus_per_task", 0);
  s.max_running = json.value("max_running", 0);
  s.signal_seconds = json.value("signal_seconds", s.signal_seconds);
  s.sbatch_lines = json.value("sbatch", std::vector<std::string>());
  return s;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

const ManifestTask* SweepManifest::find(const std::string& hash) const {
  for (const auto& task : tasks)
    if (task.hash == hash) return &task;
  return nullptr;
}

ManifestTask* SweepManifest::find(const std::string& hash) {
  for (auto& task : tasks)
    if (task.hash == hash) return &task;
  return nullptr;
}

std::string manifestPath(const std::string& sweep_dir) { return (fs::path(sweep_dir) / "sweep.json").string(); }
std::string taskFolder(const std::string& sweep_dir, const std::string& hash) {
  return (fs::path(sweep_dir) / "tasks" / hash).string();
}
std::string taskDatabase(const std::string& sweep_dir, const std::string& hash) {
  return (fs::path(taskFolder(sweep_dir, hash)) / "runs.db").string();
}
std::string taskConfigPath(const std::string& sweep_dir, const std::string& hash) {
  return (fs::path(taskFolder(sweep_dir, hash)) / "config.yaml").string();
}
std::string taskLogPath(const std::string& sweep_dir, const std::string& hash) {
  return (fs::path(taskFolder(sweep_dir, hash)) / "log.txt").string();
}

std::optional<SweepManifest> readManifest(const std::string& sweep_dir) {
  const std::string path = manifestPath(sweep_dir);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  try {
    const nlohmann::json json = nlohmann::json::parse(in);
    SweepManifest manifest;
    manifest.format = json.value("format", 1);
    if (manifest.format != 1)
      throw ConfigError({{"SWEEP", path + ": manifest format " + std::to_string(manifest.format) + " is newer than this workbench reads (1)"}});
    manifest.id = json.at("id").get<std::string>();
    manifest.name = json.value("name", "");
    manifest.file = json.value("file", "");
    manifest.created_at = json.value("created_at", "");
    manifest.backend = json.value("backend", "local");
    manifest.teacher = json.value("teacher", "per-task");
    manifest.teacher_note = json.value("teacher_note", "");
    manifest.teacher_task = json.value("teacher_task", "");
    for (const auto& task : json.at("tasks")) manifest.tasks.push_back(taskFromJson(task));
    manifest.slurm_jobs = json.value("slurm_jobs", std::vector<std::string>());
    if (json.contains("slurm")) manifest.slurm = slurmFromJson(json.at("slurm"));
    return manifest;
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError({{"SWEEP", path + ": not a sweep manifest (" + std::string(e.what()) + ")"}});
  }
}

void writeManifest(const std::string& sweep_dir, const SweepManifest& manifest) {
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& task : manifest.tasks) tasks.push_back(taskJson(task));
  nlohmann::json json = {{"format", manifest.format},     {"id", manifest.id},
                               {"name", manifest.name},         {"file", manifest.file},
                               {"created_at", manifest.created_at}, {"backend", manifest.backend},
                               {"teacher", manifest.teacher},   {"teacher_note", manifest.teacher_note},
                               {"teacher_task", manifest.teacher_task}, {"slurm_jobs", manifest.slurm_jobs},
                               {"tasks", tasks}};
  if (manifest.slurm) json["slurm"] = slurmJson(*manifest.slurm);
  const std::string path = manifestPath(sweep_dir);
  const std::string temporary = path + ".tmp";
  try {
    writeWholeFile(temporary, json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  } catch (const std::exception& e) {
    throw StoreError(e.what());
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) throw StoreError(path + ": cannot write the manifest (" + ec.message() + ")");
}

SweepManifest applyPlan(const std::string& sweep_dir, const std::optional<SweepManifest>& existing,
                        const SweepPlan& plan, const std::string& backend) {
  SweepManifest manifest;
  if (existing) {
    manifest = *existing;
  } else {
    manifest.id = plan.spec.name + "-" + utcNow("%Y%m%dT%H%M%SZ");
    manifest.created_at = utcNow("%Y-%m-%dT%H:%M:%SZ");
  }
  manifest.name = plan.spec.name;
  manifest.file = plan.spec.file;
  manifest.backend = backend;
  manifest.teacher = teacherName(plan.teacher);
  manifest.teacher_note = plan.teacher_note;
  manifest.teacher_task = plan.teacher == SweepTeacher::Shared && !plan.tasks.empty() ? plan.tasks.front().hash : "";

  std::vector<ManifestTask> tasks;
  std::set<std::string> planned;
  for (const auto& task : plan.tasks) {
    ManifestTask entry;
    if (const ManifestTask* before = manifest.find(task.hash)) entry = *before;
    entry.index = task.index;
    entry.hash = task.hash;
    entry.name = task.config.name;
    entry.axis_values = task.axis_values;
    entry.tags = sweepTags(manifest.id, task);
    entry.trains_teacher = task.trains_teacher;
    entry.uses_shared_teacher = task.uses_shared_teacher;
    tasks.push_back(entry);
    planned.insert(task.hash);

    std::error_code ec;
    fs::create_directories(taskFolder(sweep_dir, task.hash), ec);
    if (ec) throw StoreError(taskFolder(sweep_dir, task.hash) + ": cannot create the task's folder (" + ec.message() + ")");
    std::string text = fmt::format("# {} of sweep {}: {}\n", task.config.name, manifest.id, task.hash);
    if (task.uses_shared_teacher)
      text += "# teacher.source is filled in when the run starts: the teacher file of the sweep's run 0 (task " +
              plan.tasks.front().hash + ")\n";
    try {
      writeWholeFile(taskConfigPath(sweep_dir, task.hash), text + toYaml(task.config));
    } catch (const std::exception& e) {
      throw StoreError(e.what());
    }
  }
  for (const auto& task : manifest.tasks) {
    if (planned.count(task.hash)) continue;
    ManifestTask kept = task;
    kept.index = -1;
    tasks.push_back(kept);
  }
  manifest.tasks = std::move(tasks);
  writeManifest(sweep_dir, manifest);
  return manifest;
}

namespace {
// "2026-12-07T04:12:30.123Z" (the store's created_at) as Unix time; 0 when it is not one.
double unixTimeOf(const std::string& iso) {
  std::tm tm{};
  std::istringstream in(iso);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return 0.0;
  double fraction = 0.0;
  if (in.peek() == '.') {
    std::string digits;
    in.get();
    while (std::isdigit(in.peek())) digits += static_cast<char>(in.get());
    if (!digits.empty()) fraction = std::stod("0." + digits);
  }
  return static_cast<double>(timegm(&tm)) + fraction;
}
}  // namespace

TaskRun readTaskRun(const std::string& database) {
  TaskRun result;
  std::error_code ec;
  if (!fs::is_regular_file(database, ec)) return result;
  try {
    RunStore store(database, RunStore::Mode::ReadOnly);
    auto runs = store.listRuns();  // newest first, with a dead process's run as interrupted
    result.runs = static_cast<int>(runs.size());
    if (runs.empty()) return result;
    const RunRecord& run = runs.front();
    result.status = statusName(run.status);
    result.run_id = run.id;
    result.error = run.error;
    result.duration_s = run.duration_s;
    result.final_metrics = run.final_metrics;
    result.uuid = run.uuid;
    store.loadParams(runs);
    result.params = runs.front().params;
    if (const auto full = store.getRun(run.id)) result.environment = full->environment;
    result.started = unixTimeOf(run.created_at);
    // The heartbeat of a running run: its newest point (training writes one every few steps).
    if (run.status == RunStatus::Running) {
      for (const auto& key : store.metricKeys(run.id)) {
        for (const auto& point : store.metrics(run.id, key)) result.last_alive = std::max(result.last_alive, point.wall_time);
      }
      // Its lock file is written when its process starts or resumes: a requeued task's first
      // sign of life, before its first new point.
      if (!run.uuid.empty()) {
        const LockProbe lock = probeRunLock(store.lockPath(run.uuid));
        result.driven = lock.state == LockProbe::State::Held;
        result.last_alive = std::max(result.last_alive, lock.last_alive);
      }
    }
    // Progress: the newest point of the training losses, over both phases' epochs.
    const auto number = [&](const std::string& key) {
      const auto it = result.params.find(key);
      try {
        return it == result.params.end() ? 0.0 : std::stod(it->second);
      } catch (const std::exception&) {
        return 0.0;
      }
    };
    const auto source = result.params.find("teacher.source");
    const double teacher_epochs =
        source == result.params.end() || source->second == "train" ? number("teacher.epochs") : 0.0;
    const double student_epochs = number("train.epochs");
    if (run.status == RunStatus::Completed) {
      result.progress = 1.0;
    } else if (teacher_epochs + student_epochs > 0) {
      double teacher_done = 0.0, student_done = 0.0;
      for (const auto& point : store.metrics(run.id, "train/teacher_loss")) teacher_done = std::max(teacher_done, point.epoch);
      for (const auto& point : store.metrics(run.id, "train/student_loss")) student_done = std::max(student_done, point.epoch);
      if (student_done > 0.0 || teacher_epochs == 0.0) {
        result.phase = "student";
        result.epoch = student_done;
        teacher_done = teacher_epochs;
      } else {
        result.phase = "teacher";
        result.epoch = teacher_done;
      }
      result.progress = std::clamp((std::min(teacher_done, teacher_epochs) + std::min(student_done, student_epochs)) /
                                       (teacher_epochs + student_epochs),
                                   0.0, 1.0);
    }
  } catch (const StoreError&) {
    // Not set up yet (the worker is creating it) or unreadable: no run to show.
    return TaskRun{};
  }
  return result;
}

std::string taskState(const TaskRun& run, const std::string& slurm_state) {
  if (run.status == "completed") return "completed";
  if (!slurm_state.empty()) {
    std::string state = lower(slurm_state.substr(0, slurm_state.find(' ')));  // "CANCELLED by 0"
    if (state == "completed" || state == "failed") {
      // The job ended: its run says how (stopped by a signal, failed with a message).
      if (!run.status.empty() && run.status != "running") return run.status;
      return "failed";
    }
    if (state == "running" && run.status.empty()) return "starting";
    if (state == "completing") return "running";
    return state;
  }
  if (!run.status.empty()) return run.status;
  return "pending";
}

bool isFinalState(const std::string& state) {
  static const std::set<std::string> final_states{"completed", "failed",  "stopped",       "interrupted",
                                                  "cancelled", "timeout", "node_fail",     "out_of_memory",
                                                  "preempted", "boot_fail", "deadline",    "skipped"};
  return final_states.count(state) > 0;
}

std::string fileTail(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  // A progress bar rewrites its line with carriage returns: keep what a terminal would show.
  std::string shown;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (const size_t cr = line.rfind('\r'); cr != std::string::npos) line = line.substr(cr + 1);
    shown += line + "\n";
    start = end + 1;
  }
  while (!shown.empty() && (shown.back() == '\n')) shown.pop_back();
  size_t position = shown.size();
  for (int i = 0; i < lines && position != std::string::npos && position > 0; ++i)
    position = shown.rfind('\n', position - 1);
  return position == std::string::npos || position == 0 ? shown : shown.substr(position + 1);
}

}  // namespace distill
