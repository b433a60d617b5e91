#include "core/sweep/sweep_plan.h"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>

#include "core/config/config_keys.h"
#include "core/errors.h"
#include "core/store/run_store.h"

namespace distill {
namespace {

ConfigError issue(const std::string& key, const std::string& message) { return ConfigError({{key, message}}); }

bool startsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::string joinIssues(const ConfigError& error, const std::string& own_key) {
  std::string text;
  for (const auto& item : error.issues()) {
    if (!text.empty()) text += "; ";
    text += item.key == own_key || item.key.empty() ? item.message : item.toString();
  }
  return text;
}

// One axis value as the config reads it (in its key's slot) and as its canonical text ("4.0"
// -> "4", "64" -> "[64]"), or a ConfigError naming the axis and the value. Each value is read
// once through the config parser; the tasks then set the values read (the parser takes tens
// of milliseconds, which a sweep of a thousand runs would pay twice per run).
struct AxisValue {
  ConfigValue value;
  std::string text;
};

AxisValue readAxisValue(const SweepSpec& spec, const SweepAxis& axis, const std::string& value) {
  std::vector<std::string> overrides = spec.overrides;
  overrides.push_back(axis.key + "=" + value);
  try {
    const ExperimentConfig config = parseConfigWithOverrides(spec.base_text, overrides, spec.base_origin);
    const ConfigKey* row = findConfigKey(axis.key);
    AxisValue read{row->get(config), ""};
    read.text = configValueText(*row, read.value);
    return read;
  } catch (const ConfigError& e) {
    throw issue("axes." + axis.key, "value '" + value + "': " + joinIssues(e, axis.key));
  }
}

// Short labels for run names: the last part of each key unless two axes share it.
std::vector<std::string> axisLabels(const std::vector<SweepAxis>& axes) {
  std::map<std::string, int> uses;
  auto last = [](const std::string& key) { return key.substr(key.rfind('.') + 1); };
  for (const auto& axis : axes) ++uses[last(axis.key)];
  std::vector<std::string> labels;
  for (const auto& axis : axes) labels.push_back(uses[last(axis.key)] > 1 ? axis.key : last(axis.key));
  return labels;
}

std::string combinationText(const std::vector<std::pair<std::string, std::string>>& values) {
  std::string text;
  for (const auto& [key, value] : values) text += (text.empty() ? "" : ", ") + key + "=" + value;
  return text;
}

}  // namespace

bool changesTeacher(const std::string& key) {
  return key == "task" || startsWith(key, "teacher.") || startsWith(key, "dataset.") || startsWith(key, "lm.");
}

std::string configHash(const ExperimentConfig& config, const std::string& extra) {
  static const std::map<std::string, std::string> defaults = flatten(defaultConfig());
  std::string canonical;
  for (const auto& [key, value] : flatten(config)) {
    if (key == "name" || key == "threads") continue;
    const auto it = defaults.find(key);
    if (it != defaults.end() && it->second == value) continue;
    canonical += key + "=" + value + "\n";
  }
  canonical += extra;
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : canonical) hash = (hash ^ c) * 0x100000001b3ull;
  return fmt::format("{:016x}", hash);
}

std::vector<std::string> sweepTags(const std::string& sweep_id, const SweepTask& task) {
  std::vector<std::string> tags{"sweep:" + sweep_id};
  for (const auto& [key, value] : task.axis_values) tags.push_back(key + "=" + value);
  if (task.trains_teacher) tags.push_back("sweep-teacher");
  return tags;
}

FixedTeacher teacherFromRun(const std::string& run_source, const std::string& database) {
  int64_t run_id = 0;
  try {
    size_t used = 0;
    run_id = std::stoll(run_source.substr(4), &used);
    if (used != run_source.size() - 4) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw issue("teacher", "expected run:<id>, got '" + run_source + "'");
  }
  try {
    RunStore store(database, RunStore::Mode::ReadOnly);
    const auto run = store.getRun(run_id);
    if (!run) throw issue("teacher", run_source + ": no run " + std::to_string(run_id) + " in " + database);
    const std::string file = store.checkpointFile(run_id, "teacher");
    if (file.empty()) throw issue("teacher", run_source + ": run " + std::to_string(run_id) + " saved no teacher (it trained none, or ended before its first epoch)");
    FixedTeacher teacher;
    teacher.source = file;
    teacher.model = parseConfig(run->config_yaml, "run " + std::to_string(run_id)).teacher.model;
    teacher.origin = "run " + std::to_string(run_id) + " of " + database;
    return teacher;
  } catch (const StoreError& e) {
    throw issue("teacher", run_source + ": " + e.what());
  }
}

SweepPlan planSweep(const SweepSpec& spec, const TeacherResolver& resolve_run) {
  SweepPlan plan;
  plan.spec = spec;
  try {
    parseConfig(spec.base_text, spec.base_origin);
  } catch (const ConfigError& e) {
    throw issue("base", spec.base_origin + ": " + joinIssues(e, ""));
  }
  try {
    plan.base = parseConfigWithOverrides(spec.base_text, spec.overrides, spec.base_origin);
  } catch (const ConfigError& e) {
    throw issue("set", joinIssues(e, ""));
  }

  // Each value alone over the base: the first bad one is named with its axis.
  std::vector<SweepAxis> axes = spec.axes;
  std::vector<std::vector<ConfigValue>> read_values(axes.size());
  for (size_t a = 0; a < axes.size(); ++a)
    for (auto& value : axes[a].values) {
      AxisValue read = readAxisValue(spec, axes[a], value);
      value = read.text;
      read_values[a].push_back(std::move(read.value));
    }

  // The blocks of the product: each grid or range axis, and one block of all random axes.
  struct Block {
    std::vector<size_t> axes;
    size_t size = 0;
  };
  std::vector<Block> blocks;
  int random_block = -1;
  for (size_t a = 0; a < axes.size(); ++a) {
    if (axes[a].kind != SweepAxis::Kind::Random) {
      blocks.push_back({{a}, axes[a].values.size()});
      continue;
    }
    if (random_block < 0) {
      random_block = static_cast<int>(blocks.size());
      blocks.push_back({{a}, axes[a].values.size()});
      continue;
    }
    Block& block = blocks[static_cast<size_t>(random_block)];
    if (axes[a].values.size() != block.size)
      throw issue("axes." + axes[a].key, fmt::format("count {} differs from {}'s {}: random axes are drawn together, one point per draw",
                                                     axes[a].values.size(), axes[block.axes.front()].key, block.size));
    block.axes.push_back(a);
  }
  size_t total = 1;
  for (const auto& block : blocks) {
    total *= block.size;
    if (total > 100000) throw issue("axes", "more than 100000 runs; split the sweep");
  }

  // Who trains the teacher.
  std::string teacher_axis;
  for (const auto& axis : axes)
    if (teacher_axis.empty() && changesTeacher(axis.key)) teacher_axis = axis.key;
  SweepTeacher mode = spec.teacher;
  std::string run_source = spec.teacher_source;
  const std::string& base_source = plan.base.teacher.source;
  if ((mode == SweepTeacher::Auto || mode == SweepTeacher::Shared || mode == SweepTeacher::PerTask) &&
      startsWith(base_source, "run:")) {
    // A run of the main database: each task has a database of its own, so the run's teacher
    // file is what the tasks read.
    mode = SweepTeacher::FromRun;
    run_source = base_source;
  }
  if (mode == SweepTeacher::Auto) {
    if (base_source != "train") {
      mode = SweepTeacher::PerTask;
      plan.teacher_note = "every run reads teacher.source " + base_source;
    } else if (!teacher_axis.empty()) {
      mode = SweepTeacher::PerTask;
      plan.teacher_note = "every run trains its own teacher: axis " + teacher_axis + " changes it";
    } else if (total < 2) {
      mode = SweepTeacher::PerTask;
      plan.teacher_note = "the one run trains its teacher";
    } else {
      mode = SweepTeacher::Shared;
    }
  }
  if (mode == SweepTeacher::Shared) {
    if (base_source != "train")
      throw issue("teacher", "shared: the base's teacher.source is '" + base_source + "', so no task trains a teacher to share");
    if (!teacher_axis.empty())
      throw issue("teacher", "shared, but axis " + teacher_axis + " changes the teacher; use teacher: per-task");
    plan.teacher_note = "run 0 trains the teacher; every other run distils from its teacher file";
  } else if (mode == SweepTeacher::PerTask && plan.teacher_note.empty()) {
    plan.teacher_note = base_source == "train" ? "every run trains its own teacher" : "every run reads teacher.source " + base_source;
  }
  std::optional<FixedTeacher> fixed;
  if (mode == SweepTeacher::FromRun || mode == SweepTeacher::File) {
    for (const auto& axis : axes)
      if (startsWith(axis.key, "teacher."))
        throw issue("axes." + axis.key, "the teacher comes from " + (mode == SweepTeacher::File ? spec.teacher_source : run_source) +
                                            "; an axis over teacher keys needs teacher: per-task");
    if (mode == SweepTeacher::FromRun) {
      if (!resolve_run) throw issue("teacher", run_source + ": no database to find the run in");
      fixed = resolve_run(run_source);
      plan.teacher_note = "every run distils from the teacher of " + fixed->origin + " (" + fixed->source + ")";
    } else {
      plan.teacher_note = "every run reads the teacher " + spec.teacher_source;
    }
  }
  plan.teacher = mode;

  // The product, first block slowest.
  const std::vector<std::string> labels = axisLabels(axes);
  std::map<std::string, size_t> seen;  // hash -> task index
  std::vector<size_t> position(blocks.size(), 0);
  for (size_t index = 0; index < total; ++index) {
    size_t rest = index;
    for (size_t b = blocks.size(); b-- > 0;) {
      position[b] = rest % blocks[b].size;
      rest /= blocks[b].size;
    }
    SweepTask task;
    task.index = static_cast<int>(index);
    task.overrides = spec.overrides;
    task.config = plan.base;
    if (mode == SweepTeacher::File) {
      task.overrides.push_back("teacher.source=" + spec.teacher_source);
      task.config.teacher.source = spec.teacher_source;
    }
    std::map<size_t, size_t> chosen;  // axis -> value index
    for (size_t b = 0; b < blocks.size(); ++b)
      for (size_t a : blocks[b].axes) chosen[a] = position[b];
    std::string name = spec.name + "/" + std::to_string(index);
    for (const auto& [a, v] : chosen) {
      const std::string& value = axes[a].values[v];
      task.axis_values.emplace_back(axes[a].key, value);
      task.overrides.push_back(axes[a].key + "=" + value);
      name += " " + labels[a] + "=" + value;
      findConfigKey(axes[a].key)->set(task.config, read_values[a][v]);
    }
    if (fixed) {
      task.config.teacher.source = fixed->source;
      task.config.teacher.model = fixed->model;
    }
    // The rules that join keys: a combination of values each fine alone may break one.
    if (const auto problems = validate(task.config); !problems.empty())
      throw issue("axes", fmt::format("run {} ({}): {}", index, combinationText(task.axis_values), joinIssues(ConfigError(problems), "")));
    task.config.name = name;
    task.trains_teacher = mode == SweepTeacher::Shared && index == 0;
    task.uses_shared_teacher = mode == SweepTeacher::Shared && index > 0;
    const std::string config_hash = configHash(task.config);
    task.hash = task.uses_shared_teacher ? configHash(task.config, "teacher=shared:" + plan.tasks.front().hash + "\n") : config_hash;
    if (const auto it = seen.find(config_hash); it != seen.end())
      throw issue("axes", fmt::format("runs {} and {} have the same configuration ({} / {}); remove the repeated value",
                                      it->second, index, combinationText(plan.tasks[it->second].axis_values),
                                      combinationText(task.axis_values)));
    seen[config_hash] = index;
    plan.tasks.push_back(std::move(task));
  }
  return plan;
}

}  // namespace distill
