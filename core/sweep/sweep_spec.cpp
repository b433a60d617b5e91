#include "core/sweep/sweep_spec.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/config/config.h"
#include "core/config/config_keys.h"
#include "core/runtime/installation.h"

namespace fs = std::filesystem;

namespace distill {
namespace {

// More values than this in one axis is a typo (a step of 1e-6), not a sweep.
constexpr size_t kMaxAxisValues = 100000;

ConfigError issue(const std::string& key, const std::string& message) { return ConfigError({{key, message}}); }

std::string flowText(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetSeqFormat(YAML::Flow);
  out.SetMapFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

// A value as `--set` text: a scalar as written, a list in flow style ("[64, 64]").
std::string valueText(const YAML::Node& node) { return node.IsScalar() ? node.Scalar() : flowText(node); }

double number(const YAML::Node& node, const std::string& key, const std::string& field) {
  try {
    if (node.IsScalar()) {
      const double value = node.as<double>();
      if (std::isfinite(value)) return value;
    }
  } catch (const YAML::Exception&) {
  }
  throw issue(key, field + ": expected a number, got '" + valueText(node) + "'");
}

int64_t whole(const YAML::Node& node, const std::string& key, const std::string& field) {
  const double value = number(node, key, field);
  if (value != std::floor(value) || std::fabs(value) > 9e15)
    throw issue(key, field + ": expected a whole number, got '" + valueText(node) + "'");
  return static_cast<int64_t>(value);
}

bool flag(const YAML::Node& node, const std::string& key, const std::string& field) {
  try {
    return node.as<bool>();
  } catch (const YAML::Exception&) {
    throw issue(key, field + ": expected true or false, got '" + valueText(node) + "'");
  }
}

std::string scalarText(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) throw issue(key, "expected a single value, got '" + valueText(node) + "'");
  return node.Scalar();
}

// Numbers an axis generates, as the shortest text that reads back: 12 significant digits for
// ranges (0.1 + 2 * 0.1 is 0.30000000000000004), `digits` for random draws.
std::string numberText(double value, bool integer, int digits = 12) {
  if (integer) return std::to_string(static_cast<int64_t>(std::llround(value)));
  const double rounded = std::stod(fmt::format("{:.{}g}", value, digits));
  return fmt::format("{}", rounded == 0.0 ? 0.0 : rounded);
}

// splitmix64: a small generator whose sequence is the same on every platform and library (the
// standard distributions are not), so that a sweep file plans the same draws everywhere.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

bool numericKind(const ConfigKey& row) { return row.kind == ConfigKind::Integer || row.kind == ConfigKind::Number; }

void requireNumeric(const ConfigKey& row, const std::string& key, const char* what) {
  if (!numericKind(row))
    throw issue(key, std::string(what) + " needs a numeric key; " + row.key + " takes " +
                         (row.kind == ConfigKind::IntegerList ? "a list" : "text or a choice") + ": list its values instead");
}

void checkFields(const YAML::Node& node, const std::string& key, const std::set<std::string>& allowed,
                 const std::string& form) {
  for (const auto& field : node) {
    const std::string name = field.first.as<std::string>();
    if (!allowed.count(name)) throw issue(key, "unknown field '" + name + "' (" + form + ")");
  }
}

// {from, to, step} or {from, to, count[, log]}: both ends included.
std::vector<std::string> rangeValues(const YAML::Node& node, const ConfigKey& row, const std::string& key) {
  requireNumeric(row, key, "a range");
  const bool integer = row.kind == ConfigKind::Integer;
  checkFields(node, key, {"from", "to", "step", "count", "log"}, "a range has from, to and step, or from, to and count");
  if (!node["from"] || !node["to"]) throw issue(key, "a range needs from and to");
  const double from = integer ? static_cast<double>(whole(node["from"], key, "from")) : number(node["from"], key, "from");
  const double to = integer ? static_cast<double>(whole(node["to"], key, "to")) : number(node["to"], key, "to");
  const bool log = node["log"] && flag(node["log"], key, "log");
  std::vector<std::string> values;
  if (node["step"]) {
    if (node["count"] || log) throw issue(key, "a range has either step, or count (with log)");
    const double step = integer ? static_cast<double>(whole(node["step"], key, "step")) : number(node["step"], key, "step");
    if (step == 0.0 || (to - from) * step < 0.0)
      throw issue(key, fmt::format("step {} never goes from {} to {}", step, from, to));
    const double span = (to - from) / step;
    if (span + 1 > static_cast<double>(kMaxAxisValues)) throw issue(key, fmt::format("{:.0f} values (at most {})", span + 1, kMaxAxisValues));
    // Included up to a rounding error, so that {from: 0.1, to: 0.5, step: 0.1} ends at 0.5.
    const auto steps = static_cast<int64_t>(std::floor(span + 1e-9));
    for (int64_t i = 0; i <= steps; ++i) values.push_back(numberText(from + static_cast<double>(i) * step, integer));
    return values;
  }
  if (!node["count"]) throw issue(key, "a range needs step, or count");
  const int64_t count = whole(node["count"], key, "count");
  if (count < 1 || count > static_cast<int64_t>(kMaxAxisValues)) throw issue(key, fmt::format("count: expected 1..{}, got {}", kMaxAxisValues, count));
  if (log && (from <= 0.0 || to <= 0.0)) throw issue(key, "log: from and to must be above 0");
  for (int64_t i = 0; i < count; ++i) {
    const double t = count == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(count - 1);
    const double value = log ? std::exp(std::log(from) + t * (std::log(to) - std::log(from))) : from + t * (to - from);
    values.push_back(numberText(value, integer));
  }
  return values;
}

// {random: [lo, hi], count: N, seed: S, log: bool}: N draws, uniform (or log-uniform) in
// [lo, hi); integers in [lo, hi] both included. Each key draws from its own sequence.
std::vector<std::string> randomValues(const YAML::Node& node, const ConfigKey& row, const std::string& key) {
  requireNumeric(row, key, "a random draw");
  const bool integer = row.kind == ConfigKind::Integer;
  checkFields(node, key, {"random", "count", "seed", "log"}, "a random draw has random: [lo, hi], count, seed and log");
  const YAML::Node bounds = node["random"];
  if (!bounds.IsSequence() || bounds.size() != 2) throw issue(key, "random: expected [lo, hi]");
  const double lo = number(bounds[0], key, "random"), hi = number(bounds[1], key, "random");
  if (!(lo < hi) && !(integer && lo == hi)) throw issue(key, fmt::format("random: expected lo < hi, got [{}, {}]", lo, hi));
  if (integer && (lo != std::floor(lo) || hi != std::floor(hi))) throw issue(key, "random: expected whole numbers for an integer key");
  if (!node["count"]) throw issue(key, "a random draw needs count");
  const int64_t count = whole(node["count"], key, "count");
  if (count < 1 || count > static_cast<int64_t>(kMaxAxisValues)) throw issue(key, fmt::format("count: expected 1..{}, got {}", kMaxAxisValues, count));
  const int64_t seed = node["seed"] ? whole(node["seed"], key, "seed") : 0;
  const bool log = node["log"] && flag(node["log"], key, "log");
  if (log && lo <= 0.0) throw issue(key, "log: the range must be above 0");
  SplitMix generator{static_cast<uint64_t>(seed) ^ fnv1a(row.key)};
  std::vector<std::string> values;
  for (int64_t i = 0; i < count; ++i) {
    const double u = generator.uniform();
    double value = 0.0;
    if (integer && !log) {
      value = lo + std::floor(u * (hi - lo + 1.0));
    } else if (integer) {  // log-uniform over [lo, hi + 1), floored: each integer by its share
      value = std::floor(std::exp(std::log(lo) + u * (std::log(hi + 1.0) - std::log(lo))));
    } else {
      value = log ? std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo))) : lo + u * (hi - lo);
    }
    values.push_back(numberText(value, integer, 6));
  }
  return values;
}

SweepAxis readAxis(const std::string& name, const YAML::Node& node) {
  const std::string key = "axes." + name;
  const ConfigKey* row = findConfigKey(name);
  if (!row) throw issue(key, "unknown config key (distill config-keys lists them)");
  if (name == "name") throw issue(key, "the sweep names its runs; name is not an axis");
  SweepAxis axis;
  axis.key = name;
  // A list item of a list key may be a list ([[64], [128, 128]]) or one number (64 is [64]).
  auto item = [&](const YAML::Node& value) {
    if (value.IsMap() || (value.IsSequence() && row->kind != ConfigKind::IntegerList))
      throw issue(key, "expected one value per item, got '" + valueText(value) + "'");
    if (value.IsNull()) throw issue(key, "an empty value (~) in the grid");
    return valueText(value);
  };
  if (node.IsSequence()) {
    for (const auto& value : node) axis.values.push_back(item(value));
  } else if (node.IsMap() && node["random"]) {
    axis.kind = SweepAxis::Kind::Random;
    axis.values = randomValues(node, *row, key);
  } else if (node.IsMap() && node["values"]) {
    checkFields(node, key, {"values"}, "a grid is a list, or values: [...]");
    if (!node["values"].IsSequence()) throw issue(key, "values: expected a list");
    for (const auto& value : node["values"]) axis.values.push_back(item(value));
  } else if (node.IsMap()) {
    axis.kind = SweepAxis::Kind::Range;
    axis.values = rangeValues(node, *row, key);
  } else if (node.IsScalar()) {
    axis.values.push_back(node.Scalar());  // one value: the same as `set:`
  }
  if (axis.values.empty()) throw issue(key, "empty grid: the axis has no values");
  if (axis.values.size() > kMaxAxisValues) throw issue(key, fmt::format("{} values (at most {})", axis.values.size(), kMaxAxisValues));
  return axis;
}

// `set:` as KEY=VALUE overrides: dotted keys, or nested sections, or both.
void readOverrides(const YAML::Node& node, const std::string& prefix, std::vector<std::string>& out) {
  if (!node.IsMap()) throw issue(prefix.empty() ? "set" : "set." + prefix, "expected a mapping of config keys to values");
  for (const auto& entry : node) {
    const std::string key = (prefix.empty() ? "" : prefix + ".") + entry.first.as<std::string>();
    if (entry.second.IsMap()) {
      readOverrides(entry.second, key, out);
      continue;
    }
    if (!findConfigKey(key)) throw issue("set." + key, "unknown config key");
    out.push_back(key + "=" + valueText(entry.second));
  }
}

std::string readFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw issue(what, "cannot read '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void readBase(const YAML::Node& node, SweepSpec& spec) {
  if (!node || node.IsNull()) {
    spec.base_origin = "default config";
    return;
  }
  if (node.IsMap()) {
    YAML::Emitter out;
    out << node;
    spec.base_text = out.c_str();
    spec.base_origin = "inline base";
    return;
  }
  if (!node.IsScalar()) throw issue("base", "expected a preset's name, a config file or a mapping");
  const std::string name = node.Scalar();
  const fs::path path = fs::path(spec.folder) / name;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    spec.base_origin = path.lexically_normal().string();
    spec.base_text = readFile(spec.base_origin, "base");
  } else if (const auto preset = findPreset(name)) {
    spec.base_origin = "preset " + name;
    spec.base_text = readFile(*preset, "base");
  } else {
    throw issue("base", "'" + name + "' is neither a config file (looked in " + spec.folder + ") nor a preset");
  }
}

void readTeacher(const YAML::Node& node, SweepSpec& spec) {
  if (!node) return;
  const std::string value = scalarText(node, "teacher");
  if (value == "auto") {
    spec.teacher = SweepTeacher::Auto;
  } else if (value == "shared") {
    spec.teacher = SweepTeacher::Shared;
  } else if (value == "per-task") {
    spec.teacher = SweepTeacher::PerTask;
  } else if (value.rfind("run:", 0) == 0) {
    spec.teacher = SweepTeacher::FromRun;
    spec.teacher_source = value;
  } else if (!value.empty()) {
    // A file every task reads, absolute so that a worker in its task folder finds it.
    spec.teacher = SweepTeacher::File;
    const bool torchscript = value.rfind("torchscript:", 0) == 0;
    const fs::path path = torchscript ? value.substr(12) : value;
    const std::string absolute = (path.is_absolute() ? path : fs::path(spec.folder) / path).lexically_normal().string();
    spec.teacher_source = (torchscript ? "torchscript:" : "") + absolute;
  } else {
    throw issue("teacher", "expected auto, shared, per-task, run:<id> or a teacher file");
  }
}

void readSlurm(const YAML::Node& node, SlurmSettings& slurm) {
  if (!node) return;
  if (!node.IsMap()) throw issue("slurm", "expected a mapping (partition, account, time, mem, ...)");
  for (const auto& entry : node) {
    const std::string field = entry.first.as<std::string>();
    const std::string key = "slurm." + field;
    const YAML::Node& value = entry.second;
    if (field == "partition") slurm.partition = scalarText(value, key);
    else if (field == "account") slurm.account = scalarText(value, key);
    else if (field == "time") slurm.time = scalarText(value, key);
    else if (field == "mem") slurm.mem = scalarText(value, key);
    else if (field == "constraint") slurm.constraint = scalarText(value, key);
    else if (field == "gpus_per_task") slurm.gpus_per_task = static_cast<int>(whole(value, key, "gpus_per_task"));
    else if (field == "cpus_per_task") slurm.cpus_per_task = static_cast<int>(whole(value, key, "cpus_per_task"));
    else if (field == "max_running") slurm.max_running = static_cast<int>(whole(value, key, "max_running"));
    else if (field == "signal_seconds") slurm.signal_seconds = static_cast<int>(whole(value, key, "signal_seconds"));
    else if (field == "sbatch") {
      if (!value.IsSequence()) throw issue(key, "expected a list of #SBATCH lines");
      for (const auto& line : value) slurm.sbatch_lines.push_back(scalarText(line, key));
    } else {
      throw issue(key, "unknown field (partition, account, time, mem, constraint, gpus_per_task, cpus_per_task, "
                       "max_running, signal_seconds, sbatch)");
    }
  }
  if (slurm.gpus_per_task < 0) throw issue("slurm.gpus_per_task", "expected 0 or more");
  if (slurm.cpus_per_task < 0) throw issue("slurm.cpus_per_task", "expected 0 or more");
  if (slurm.max_running < 0) throw issue("slurm.max_running", "expected 0 (no limit) or more");
  if (slurm.signal_seconds < 0 || slurm.signal_seconds > 65535) throw issue("slurm.signal_seconds", "expected 0..65535");
}

}  // namespace

SweepSpec parseSweep(const std::string& text, const std::string& origin, const std::string& folder) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw issue("", origin + ": not valid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) throw issue("", origin + ": expected a mapping with base: and axes:");
  for (const auto& entry : root) {
    static const std::set<std::string> sections{"name", "base", "set", "axes", "teacher", "slurm"};
    const std::string section = entry.first.as<std::string>();
    if (!sections.count(section)) throw issue(section, "unknown section (name, base, set, axes, teacher, slurm)");
  }
  SweepSpec spec;
  spec.folder = fs::absolute(folder.empty() ? "." : folder).lexically_normal().string();
  if (root["name"]) spec.name = scalarText(root["name"], "name");
  readBase(root["base"], spec);
  if (root["set"] && !root["set"].IsNull()) readOverrides(root["set"], "", spec.overrides);
  const YAML::Node axes = root["axes"];
  if (!axes || axes.IsNull()) throw issue("axes", "the sweep has no axes (axes: {distill.temperature: [2, 4]})");
  if (!axes.IsMap()) throw issue("axes", "expected a mapping of config keys to values");
  if (axes.size() == 0) throw issue("axes", "the sweep has no axes (axes: {distill.temperature: [2, 4]})");
  std::set<std::string> seen;
  for (const auto& entry : axes) {
    const std::string key = entry.first.as<std::string>();
    if (!seen.insert(key).second) throw issue("axes." + key, "the key is given twice");
    spec.axes.push_back(readAxis(key, entry.second));
  }
  readTeacher(root["teacher"], spec);
  readSlurm(root["slurm"], spec.slurm);
  if (spec.name.empty()) spec.name = "sweep";
  for (char c : spec.name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      throw issue("name", "'" + spec.name + "': use letters, digits, '-', '_' and '.' (it names jobs and tags)");
  return spec;
}

SweepSpec loadSweepFile(const std::string& path) {
  const std::string text = readFile(path, "");
  SweepSpec spec = parseSweep(text, path, fs::absolute(path).parent_path().string());
  spec.file = fs::absolute(path).lexically_normal().string();
  if (!YAML::Load(text)["name"]) {
    spec.name = fs::path(path).stem().string();
    for (char& c : spec.name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '-';
  }
  return spec;
}

}  // namespace distill
