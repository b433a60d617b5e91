#include "core/sweep/slurm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/runtime/file_io.h"

namespace fs = std::filesystem;

namespace distill {
namespace {

// A word for bash in single quotes.
std::string shellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string trim(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!trim(line).empty()) out.push_back(trim(line));
  return out;
}

// "123_4" -> {"123_4"}; "123_[2-5%2]" -> 123_2 ... 123_5; "123" -> {"123"}.
std::vector<std::string> expandJobId(const std::string& id) {
  const size_t underscore = id.find('_');
  if (underscore == std::string::npos) return {id};
  const std::string job = id.substr(0, underscore);
  std::string indices = id.substr(underscore + 1);
  if (!indices.empty() && indices.front() == '[') indices = indices.substr(1, indices.find(']') - 1);
  std::vector<std::string> ids;
  for (int index : expandArrayIndices(indices)) ids.push_back(job + "_" + std::to_string(index));
  return ids;
}

void addStates(std::map<std::string, std::string>& states, const std::string& id, const std::string& state) {
  for (const auto& one : expandJobId(id)) states[one] = state;
}

std::string arrayJobOf(const std::string& task_job) { return task_job.substr(0, task_job.find('_')); }

}  // namespace

std::string sbatchScriptText(const SbatchScript& script) {
  const SlurmSettings& s = script.settings;
  std::string text = "#!/bin/bash\n";
  text += fmt::format("# Distill Workbench sweep {}: {} task(s); written by `distill sweep run --backend slurm`.\n",
                      script.sweep_id, script.tasks);
  text += fmt::format("#SBATCH --job-name=distill-{}\n", script.sweep_id);
  text += fmt::format("#SBATCH --array=0-{}{}\n", script.tasks - 1, s.max_running > 0 ? fmt::format("%{}", s.max_running) : "");
  text += fmt::format("#SBATCH --output={}/slurm/%A_%a.out\n", script.sweep_dir);
  text += "#SBATCH --open-mode=append\n#SBATCH --requeue\n";
  if (s.signal_seconds > 0) text += fmt::format("#SBATCH --signal=B:USR1@{}\n", s.signal_seconds);
  if (!s.partition.empty()) text += "#SBATCH --partition=" + s.partition + "\n";
  if (!s.account.empty()) text += "#SBATCH --account=" + s.account + "\n";
  if (!s.time.empty()) text += "#SBATCH --time=" + s.time + "\n";
  if (!s.mem.empty()) text += "#SBATCH --mem=" + s.mem + "\n";
  if (s.cpus_per_task > 0) text += fmt::format("#SBATCH --cpus-per-task={}\n", s.cpus_per_task);
  if (s.gpus_per_task > 0) text += fmt::format("#SBATCH --gpus-per-task={}\n", s.gpus_per_task);
  if (!s.constraint.empty()) text += "#SBATCH --constraint=" + s.constraint + "\n";
  if (!script.dependency.empty()) text += "#SBATCH --dependency=" + script.dependency + "\n";
  for (const auto& line : s.sbatch_lines)
    text += (line.rfind("#SBATCH", 0) == 0 ? line : "#SBATCH " + line) + "\n";
  text += R"SH(
set -u
sweep=)SH" + shellQuote(script.sweep_dir) + R"SH(
tasks=)SH" + shellQuote(script.tasks_file) + R"SH(
distill=)SH" + shellQuote(script.distill) + R"SH(
hash=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$tasks")
if [ -z "$hash" ]; then echo "no task at index $SLURM_ARRAY_TASK_ID in $tasks" >&2; exit 2; fi
echo "distill sweep task $hash: job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname), start $((${SLURM_RESTART_COUNT:-0} + 1))"

# Before the time limit Slurm sends USR1 here: the worker stops between steps (its run is
# stored as stopped, with its last epoch checkpoint), the task is requeued, and its next start
# resumes the run from that checkpoint.
requeue=0
on_usr1() { requeue=1; kill -TERM "$worker" 2>/dev/null; }
trap on_usr1 USR1
"$distill" sweep task "$sweep" "$hash" ${SLURM_CPUS_PER_TASK:+--threads "$SLURM_CPUS_PER_TASK"} &
worker=$!
while :; do
  wait "$worker"
  status=$?
  kill -0 "$worker" 2>/dev/null || break
done
if [ "$requeue" = 1 ]; then
  echo "requeued before the time limit"
  scontrol requeue "$SLURM_JOB_ID"
  exit 0
fi
exit "$status"
)SH";
  return text;
}

std::string slurmStateName(const std::string& raw) {
  std::string state = trim(raw);
  state = state.substr(0, state.find(' '));  // "CANCELLED by 0"
  if (!state.empty() && state.back() == '+') state.pop_back();  // sacct's truncation mark
  for (char& c : state) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return state;
}

std::vector<int> expandArrayIndices(const std::string& text) {
  std::vector<int> indices;
  std::string list = text.substr(0, text.find('%'));  // "%K": the throttle
  std::stringstream parts(list);
  for (std::string part; std::getline(parts, part, ',');) {
    part = trim(part);
    if (part.empty()) continue;
    try {
      const size_t dash = part.find('-');
      if (dash == std::string::npos) {
        indices.push_back(std::stoi(part));
        continue;
      }
      const int from = std::stoi(part.substr(0, dash)), to = std::stoi(part.substr(dash + 1));
      for (int i = from; i <= to && indices.size() < 1000000; ++i) indices.push_back(i);
    } catch (const std::exception&) {
      // Not a number: not an index list (a job without an array).
    }
  }
  return indices;
}

std::map<std::string, std::string> parseSacct(const std::string& output) {
  std::map<std::string, std::string> states;
  for (const auto& line : lines(output)) {
    const size_t bar = line.find('|');
    if (bar == std::string::npos) continue;
    const std::string id = line.substr(0, bar);
    if (id.find('.') != std::string::npos) continue;  // a step (123_4.batch), not the task
    std::string state = line.substr(bar + 1);
    state = state.substr(0, state.find('|'));
    addStates(states, id, state);
  }
  return states;
}

std::map<std::string, std::string> parseSqueue(const std::string& output) { return parseSacct(output); }

std::map<std::string, std::string> parseScontrolJobs(const std::string& output) {
  std::map<std::string, std::string> states;
  // One record per line with --oneliner; without it, records are separated by blank lines.
  std::string joined;
  for (const auto& line : lines(output)) joined += line.rfind("JobId=", 0) == 0 ? "\n" + line : " " + line;
  std::istringstream records(joined);
  for (std::string record; std::getline(records, record);) {
    std::map<std::string, std::string> fields;
    std::istringstream words(record);
    for (std::string word; words >> word;) {
      const size_t eq = word.find('=');
      if (eq != std::string::npos) fields.emplace(word.substr(0, eq), word.substr(eq + 1));
    }
    if (!fields.count("JobState") || !fields.count("JobId")) continue;
    const auto array = fields.find("ArrayJobId");
    const auto index = fields.find("ArrayTaskId");
    if (array != fields.end() && index != fields.end())
      addStates(states, array->second + "_" + index->second, fields["JobState"]);
    else
      states[fields["JobId"]] = fields["JobState"];
  }
  return states;
}

namespace {
// Whether a failed scontrol/squeue says the controller cannot be asked at all (not installed,
// not reachable, no configuration), as opposed to not knowing one job.
bool controllerUnreachable(const ProgramResult& result) {
  if (result.exit_code == 127) return true;
  for (const char* sign : {"Unable to contact slurm controller", "connect failure", "Socket timed out",
                           "Unable to process configuration", "Could not establish a configuration source"})
    if (result.errors.find(sign) != std::string::npos) return true;
  return false;
}

std::string firstLine(const std::string& text) {
  const std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? std::string("no message") : line;
}
}  // namespace

int parseMaxArraySize(const std::string& output, int fallback) {
  for (const auto& line : lines(output)) {
    if (line.rfind("MaxArraySize", 0) != 0) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    try {
      const int value = std::stoi(line.substr(eq + 1));
      if (value > 0) return value;
    } catch (const std::exception&) {
    }
  }
  return fallback;
}

std::vector<std::pair<int, int>> splitArray(int count, int max_size) {
  std::vector<std::pair<int, int>> pieces;
  if (max_size < 1) max_size = 1;
  for (int first = 0; first < count; first += max_size) pieces.emplace_back(first, std::min(max_size, count - first));
  return pieces;
}

int SlurmClient::maxArraySize() {
  // Indices run 0..MaxArraySize-1, so an array holds at most MaxArraySize tasks.
  const ProgramResult config = run_({"scontrol", "show", "config"});
  return config.exit_code == 0 ? parseMaxArraySize(config.output, 1001) : 1001;
}

std::vector<std::string> SlurmClient::submit(const std::string& dir, SweepManifest& manifest,
                                             const std::vector<std::string>& hashes, const SlurmSettings& settings,
                                             const std::string& distill, const std::string& teacher_job) {
  const fs::path slurm_dir = fs::path(dir) / "slurm";
  std::error_code ec;
  fs::create_directories(slurm_dir, ec);
  if (ec) throw StoreError(slurm_dir.string() + ": cannot create the folder (" + ec.message() + ")");

  std::vector<std::string> teacher_first, rest;
  for (const auto& hash : hashes) (hash == manifest.teacher_task && !hash.empty() ? teacher_first : rest).push_back(hash);
  std::vector<std::string> submitted;
  std::string dependency = teacher_job.empty() ? "" : "afterok:" + teacher_job;
  auto submitArray = [&](const std::vector<std::string>& tasks, const std::string& after) {
    const std::string stem = fmt::format("array-{}", manifest.slurm_jobs.size());
    SbatchScript script;
    script.sweep_dir = fs::absolute(dir).lexically_normal().string();
    script.sweep_id = manifest.id;
    script.tasks_file = (fs::absolute(slurm_dir) / (stem + ".tasks")).lexically_normal().string();
    script.distill = distill;
    script.tasks = static_cast<int>(tasks.size());
    script.settings = settings;
    script.dependency = after;
    std::string list;
    for (const auto& hash : tasks) list += hash + "\n";
    const std::string script_path = (slurm_dir / (stem + ".sbatch")).string();
    try {
      writeWholeFile(script.tasks_file, list);
      writeWholeFile(script_path, sbatchScriptText(script));
    } catch (const std::exception& e) {
      throw StoreError(e.what());
    }
    const ProgramResult result = run_({"sbatch", "--parsable", script_path});
    const std::string job = trim(result.output.substr(0, result.output.find(';')));
    if (result.exit_code != 0 || job.empty() || !std::all_of(job.begin(), job.end(), ::isdigit))
      throw StoreError("sbatch " + script_path + " failed (exit " + std::to_string(result.exit_code) +
                       "): " + trim(result.errors.empty() ? result.output : result.errors));
    manifest.slurm_jobs.push_back(job);
    for (size_t i = 0; i < tasks.size(); ++i)
      if (ManifestTask* task = manifest.find(tasks[i])) {
        task->slurm_job = job + "_" + std::to_string(i);
        task->state = "pending";
      }
    submitted.push_back(job);
    return job;
  };
  if (!teacher_first.empty()) dependency = "afterok:" + submitArray(teacher_first, "");
  const int max_size = maxArraySize();
  for (const auto& [first, size] : splitArray(static_cast<int>(rest.size()), max_size)) {
    const std::vector<std::string> piece(rest.begin() + first, rest.begin() + first + size);
    // Only tasks that read the shared teacher wait for it; a re-planned sweep may hold others.
    const bool waits = !dependency.empty() && std::any_of(piece.begin(), piece.end(), [&](const std::string& hash) {
      const ManifestTask* task = manifest.find(hash);
      return task && task->uses_shared_teacher;
    });
    submitArray(piece, waits ? dependency : "");
  }
  return submitted;
}

std::map<std::string, std::string> SlurmClient::states(const SweepManifest& manifest, std::string* source,
                                                      std::set<std::string>* unlisted, bool* controller) {
  std::set<std::string> jobs;
  for (const auto& task : manifest.tasks)
    if (!task.slurm_job.empty()) jobs.insert(arrayJobOf(task.slurm_job));
  std::map<std::string, std::string> by_job;
  std::set<std::string> shown_arrays;  // array jobs the controller showed records of
  std::string answered;
  bool controller_answered = false;
  if (!jobs.empty()) {
    std::string list;
    for (const auto& job : jobs) list += (list.empty() ? "" : ",") + job;
    const ProgramResult sacct = run_({"sacct", "-n", "-P", "-X", "-j", list, "-o", "JobID,State"});
    if (sacct.exit_code == 0) {
      by_job = parseSacct(sacct.output);
      answered = "sacct";
    } else {
      answered = "sacct unavailable (" + trim(sacct.errors) + ")";
    }
    // The controller knows recent jobs (MinJobAge) even without accounting, and knows best.
    // A controller that cannot be reached is asked once: each command then retries for about
    // 18 s, so asking it per array job and again through squeue would stall the answer.
    bool scontrol_answered = false;
    std::string unreachable;
    for (const auto& job : jobs) {
      const ProgramResult shown = run_({"scontrol", "--oneliner", "show", "job", job});
      if (shown.exit_code != 0) {
        if (controllerUnreachable(shown)) {
          unreachable = firstLine(shown.exit_code == 127 ? "scontrol: not found" : shown.errors);
          break;
        }
        continue;  // a job it has forgotten ("Invalid job id specified")
      }
      const auto records = parseScontrolJobs(shown.output);
      for (const auto& [id, state] : records) by_job[id] = state;
      if (!records.empty()) shown_arrays.insert(job);
      scontrol_answered = true;
    }
    if (scontrol_answered) answered += ", scontrol";
    bool squeue_answered = false;
    if (unreachable.empty()) {
      const ProgramResult queue = run_({"squeue", "-h", "-r", "-j", list, "-o", "%i|%T"});
      if (queue.exit_code == 0) {
        for (const auto& [id, state] : parseSqueue(queue.output)) by_job.emplace(id, state);
        answered += ", squeue";
        squeue_answered = true;
      }
    } else {
      answered += "; controller unreachable (" + unreachable + ")";
    }
    controller_answered = scontrol_answered || squeue_answered;
  }
  if (source) *source = answered;
  if (controller) *controller = controller_answered;
  std::map<std::string, std::string> states;
  for (const auto& task : manifest.tasks) {
    if (task.slurm_job.empty()) continue;
    const auto it = by_job.find(task.slurm_job);
    if (it != by_job.end()) states[task.hash] = it->second;
    else if (unlisted && shown_arrays.count(arrayJobOf(task.slurm_job))) unlisted->insert(task.hash);
  }
  return states;
}

std::vector<std::string> SlurmClient::cancel(const SweepManifest& manifest,
                                             const std::map<std::string, std::string>& task_states) {
  std::set<std::string> jobs;
  for (const auto& task : manifest.tasks) {
    if (task.slurm_job.empty()) continue;
    const auto it = task_states.find(task.hash);
    if (it != task_states.end() && isFinalState(it->second)) continue;
    jobs.insert(arrayJobOf(task.slurm_job));
  }
  if (jobs.empty()) return {};
  std::vector<std::string> argv{"scancel"};
  argv.insert(argv.end(), jobs.begin(), jobs.end());
  const ProgramResult result = run_(argv);
  if (result.exit_code != 0)
    throw StoreError("scancel failed (exit " + std::to_string(result.exit_code) + "): " + trim(result.errors));
  return {jobs.begin(), jobs.end()};
}

}  // namespace distill
