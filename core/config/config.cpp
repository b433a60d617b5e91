#include "core/config/config.h"

#include "core/config/config_keys.h"

#include "core/losses/methods.h"
#include "core/text/utf8.h"

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>  // YAML::DeepRecursion
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <regex>
#include <sstream>

namespace distill {

std::string ConfigIssue::toString() const { return key.empty() ? message : key + ": " + message; }

namespace {

std::string joinIssues(const std::vector<ConfigIssue>& issues) {
  std::string text;
  for (const auto& issue : issues) {
    if (!text.empty()) text += "\n";
    text += issue.toString();
  }
  return text;
}

// ---- typed config -> YAML tree ----------------------------------------------------------

// Shortest text that reads back as the same double ("0.286", not "0.28599999999999998").
YAML::Node number(double value) { return YAML::Node(fmt::format("{}", value)); }

YAML::Node listNode(const std::vector<int64_t>& values) {
  YAML::Node node(YAML::NodeType::Sequence);
  for (auto v : values) node.push_back(v);
  node.SetStyle(YAML::EmitterStyle::Flow);
  return node;
}

YAML::Node valueNode(const ConfigKey& row, const ConfigValue& value) {
  switch (row.kind) {
    case ConfigKind::Text:
    case ConfigKind::Choice:
      return YAML::Node(value.text);
    case ConfigKind::Integer:
      if (row.zero_is_auto && value.integer == 0) return YAML::Node("auto");
      return YAML::Node(value.integer);
    case ConfigKind::Number:
      return number(value.number);
    case ConfigKind::Flag:
      return YAML::Node(value.flag);
    case ConfigKind::IntegerList:
      return listNode(value.list);
  }
  return YAML::Node();
}

std::vector<std::string> keyParts(const std::string& key) {
  std::vector<std::string> parts;
  std::stringstream stream(key);
  for (std::string part; std::getline(stream, part, '.');) parts.push_back(part);
  return parts;
}

// The tree of every key in the table's order (yaml-cpp keeps insertion order).
YAML::Node toNode(const ExperimentConfig& c) {
  YAML::Node root;
  for (const auto& row : configKeyTable()) {
    const auto parts = keyParts(row.key);
    if (parts.size() == 1) {
      root[parts[0]] = valueNode(row, row.get(c));
    } else {  // the table's keys have at most one section level
      YAML::Node section = root[parts[0]];
      section[parts[1]] = valueNode(row, row.get(c));
    }
  }
  return root;
}

// ---- YAML tree -> typed config ----------------------------------------------------------

// Reads dotted keys from a merged tree, collecting a typed issue per bad value.
class Reader {
 public:
  Reader(const YAML::Node& root, std::vector<ConfigIssue>& issues) : root_(root), issues_(issues) {}

  YAML::Node find(const std::string& key) const {
    YAML::Node node = YAML::Clone(root_);
    std::stringstream parts(key);
    std::string part;
    while (std::getline(parts, part, '.')) {
      if (!node.IsMap()) return YAML::Node();
      node = node[part];
      if (!node) return YAML::Node();
    }
    return node;
  }

  void read(const std::string& key, std::string& out) {
    auto node = find(key);
    if (!node || node.IsNull()) return;
    if (node.IsMap())  // `--set lm.tokenizer=hf:` or `key: a: b`: YAML reads "word:" as a mapping's key
      return fail(key, "expected a text value, got a YAML mapping (a value ending in ':' or holding ': ' reads as "
                       "one: quote it, e.g. " + key + "=\"hf:\")");
    if (!node.IsScalar()) return fail(key, "expected a text value");
    out = node.Scalar();
  }
  void read(const std::string& key, bool& out) {
    auto node = find(key);
    if (!node || node.IsNull()) return;
    try {
      if (!node.IsScalar()) throw YAML::Exception(YAML::Mark(), "");
      out = node.as<bool>();
    } catch (const YAML::Exception&) {
      fail(key, "expected true or false, got " + show(node));
    }
  }
  void read(const std::string& key, int64_t& out) {
    auto node = find(key);
    if (!node || node.IsNull()) return;
    try {
      if (!node.IsScalar()) throw YAML::Exception(YAML::Mark(), "");
      out = node.as<int64_t>();
    } catch (const YAML::Exception&) {
      fail(key, "expected a whole number, got " + show(node));
    }
  }
  void read(const std::string& key, double& out) {
    auto node = find(key);
    if (!node || node.IsNull()) return;
    try {
      if (!node.IsScalar()) throw YAML::Exception(YAML::Mark(), "");
      out = node.as<double>();
    } catch (const YAML::Exception&) {
      fail(key, "expected a number, got " + show(node));
    }
  }
  void read(const std::string& key, std::vector<int64_t>& out) {
    auto node = find(key);
    if (!node || node.IsNull()) return;
    if (node.IsScalar()) {  // a single width, e.g. --set student.hidden=32
      int64_t single = 0;
      read(key, single);
      out = {single};
      return;
    }
    if (!node.IsSequence()) return fail(key, "expected a list of whole numbers such as [800, 800]");
    std::vector<int64_t> values;
    for (const auto& item : node) {
      try {
        values.push_back(item.as<int64_t>());
      } catch (const YAML::Exception&) {
        return fail(key, "expected a list of whole numbers, found " + show(item));
      }
    }
    out = values;
  }

 private:
  static std::string show(const YAML::Node& node) {
    if (node.IsScalar()) return "'" + node.Scalar() + "'";
    if (node.IsSequence()) return "a list";
    if (node.IsMap()) return "a mapping";
    return "nothing";
  }
  void fail(const std::string& key, const std::string& message) { issues_.push_back({key, message}); }

  YAML::Node root_;
  std::vector<ConfigIssue>& issues_;
};

// Reads one key in its kind's slot; false when absent or unreadable (the issue is recorded).
bool readValue(Reader& r, const ConfigKey& row, ConfigValue& value, std::vector<ConfigIssue>& issues) {
  auto node = r.find(row.key);
  if (!node || node.IsNull()) return false;
  const size_t before = issues.size();
  switch (row.kind) {
    case ConfigKind::Text:
    case ConfigKind::Choice:
      r.read(row.key, value.text);
      break;
    case ConfigKind::Integer:
      if (row.zero_is_auto && node.IsScalar() && node.Scalar() == "auto")
        value.integer = 0;
      else
        r.read(row.key, value.integer);
      break;
    case ConfigKind::Number:
      r.read(row.key, value.number);
      break;
    case ConfigKind::Flag:
      r.read(row.key, value.flag);
      break;
    case ConfigKind::IntegerList:
      r.read(row.key, value.list);
      break;
  }
  return issues.size() == before;
}

ExperimentConfig fromNode(const YAML::Node& root, std::vector<ConfigIssue>& issues) {
  ExperimentConfig c = defaultConfig();
  Reader r(root, issues);
  for (const auto& row : configKeyTable()) {
    ConfigValue value = row.get(c);
    if (!readValue(r, row, value, issues)) continue;
    if (row.checked_on_read) {
      ConfigIssue issue = checkConfigValue(row, value);
      if (!issue.message.empty()) {
        issues.push_back(std::move(issue));
        continue;
      }
    }
    row.set(c, value);
  }
  // A TorchScript file by its bare path, as `distill mirror` takes it: stored in the one form.
  const auto prefixed = [&](const char* prefix) { return c.student_source.rfind(prefix, 0) == 0; };
  if (!c.student_source.empty() && c.student_source != "init" && !prefixed("torchscript:") && !prefixed("hf:") &&
      !prefixed("teacher-blocks:"))
    c.student_source = "torchscript:" + c.student_source;
  return c;
}

// Reports keys of `user` that the schema (`schema`, the defaults' tree) does not have.
void checkKeys(const YAML::Node& user, const YAML::Node& schema, const std::string& prefix,
               std::vector<ConfigIssue>& issues) {
  if (!user.IsMap()) {
    if (!user.IsNull())
      issues.push_back({prefix, prefix.empty() ? "expected a mapping of config keys at the top level"
                                               : "expected a mapping of keys"});
    return;
  }
  for (auto it = user.begin(); it != user.end(); ++it) {
    if (!it->first.IsScalar()) {  // e.g. `? [a, b]: 1` or `{a: 1}: 2` (found by fuzz_config)
      issues.push_back({prefix.empty() ? "(top level)" : prefix,
                        "expected key names, found a list or mapping used as a key"});
      continue;
    }
    const std::string key = it->first.as<std::string>();
    const std::string dotted = prefix.empty() ? key : prefix + "." + key;
    const YAML::Node expected = schema[key];
    if (!expected) {
      std::string known;
      for (auto s = schema.begin(); s != schema.end(); ++s)
        known += (known.empty() ? "" : ", ") + s->first.as<std::string>();
      issues.push_back({dotted, "unknown key (known here: " + known + ")"});
      continue;
    }
    if (expected.IsMap()) checkKeys(it->second, expected, dotted, issues);
  }
}

void mergeInto(YAML::Node target, const YAML::Node& source) {
  for (auto it = source.begin(); it != source.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    if (it->second.IsMap() && target[key] && target[key].IsMap())
      mergeInto(target[key], it->second);
    else
      target[key] = YAML::Clone(it->second);
  }
}

// Levels of lists and mappings a config may nest. A config needs 3 (teacher: hidden: [..]);
// yaml-cpp's own guard stops far deeper (about 500 block or 1,000 flow levels) with the
// message "bad file", so depth gets its own message, with this limit, at either depth.
constexpr int kMaxConfigDepth = 32;

std::string tooDeepMessage(const std::string& origin, const YAML::Mark& mark) {
  return origin + ": nested too deep at line " + std::to_string(mark.line + 1) + ", column " +
         std::to_string(mark.column + 1) + ": at most " + std::to_string(kMaxConfigDepth) +
         " levels of lists and mappings (a config needs 3)";
}

// The first list or mapping below `depth` others that passes the limit. `budget` bounds the
// nodes visited, since aliases can make a small document a very large tree.
std::optional<YAML::Mark> tooDeep(const YAML::Node& node, int depth, int64_t& budget) {
  if (!node.IsSequence() && !node.IsMap()) return std::nullopt;
  if (depth >= kMaxConfigDepth) return node.Mark();
  for (auto it = node.begin(); it != node.end() && --budget > 0; ++it) {
    if (node.IsMap()) {
      if (auto mark = tooDeep(it->first, depth + 1, budget)) return mark;
      if (auto mark = tooDeep(it->second, depth + 1, budget)) return mark;
    } else if (auto mark = tooDeep(*it, depth + 1, budget)) {
      return mark;
    }
  }
  return std::nullopt;
}

YAML::Node parseDocument(const std::string& text, const std::string& origin) {
  try {
    YAML::Node node = YAML::Load(text);
    if (node.IsNull()) return YAML::Node(YAML::NodeType::Map);
    int64_t budget = 1000000;
    if (const auto mark = tooDeep(node, 0, budget)) throw ConfigError({{"", tooDeepMessage(origin, *mark)}});
    return node;
  } catch (const YAML::DeepRecursion& e) {
    throw ConfigError({{"", tooDeepMessage(origin, e.mark)}});
  } catch (const YAML::ParserException& e) {
    throw ConfigError({{"", origin + ": not valid YAML or JSON at line " + std::to_string(e.mark.line + 1) +
                                ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg}});
  }
}

void applyOverride(YAML::Node& doc, const std::string& assignment, const YAML::Node& schema,
                   std::vector<ConfigIssue>& issues) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    issues.push_back({"", "--set expects KEY=VALUE (e.g. distill.temperature=2), got '" + assignment + "'"});
    return;
  }
  const std::string key = assignment.substr(0, eq);
  const std::string value_text = assignment.substr(eq + 1);
  std::vector<std::string> parts;
  std::stringstream stream(key);
  for (std::string part; std::getline(stream, part, '.');) parts.push_back(part);

  YAML::Node schema_node = YAML::Clone(schema);
  for (const auto& part : parts) {
    if (!schema_node.IsMap() || !schema_node[part]) {
      issues.push_back({key, "unknown key"});
      return;
    }
    schema_node = schema_node[part];
  }
  if (schema_node.IsMap()) {
    issues.push_back({key, "is a section; set one of its keys (e.g. " + key + "." +
                               schema_node.begin()->first.as<std::string>() + "=...)"});
    return;
  }
  YAML::Node value;
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::ParserException&) {
    value = YAML::Node(value_text);
  }
  if (value.IsNull() && !value_text.empty()) value = YAML::Node(value_text);
  if (value_text.empty()) value = YAML::Node(std::string());

  // Walk by value so that missing sections are created as maps.
  std::vector<YAML::Node> chain{doc};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = chain.back()[parts[i]];
    if (!next.IsMap()) {
      chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next = chain.back()[parts[i]];
    }
    chain.push_back(next);
  }
  chain.back()[parts.back()] = value;
}

// ---- keys that were replaced: read from older files (stored runs' configs too) and --set ----

// distill.cache_teacher_logits, a flag until issue 21, became distill.teacher_cache: `false`
// reads as `off`; `true` as the default `auto`, which caches the logits where the flag did
// (and, for topk access, the exact top-k file instead).
constexpr const char* kFormerCacheFlag = "cache_teacher_logits";

std::optional<bool> formerCacheFlag(const YAML::Node& value, std::vector<ConfigIssue>& issues) {
  try {
    return value.as<bool>();
  } catch (const YAML::Exception&) {
    issues.push_back({"distill.cache_teacher_logits", "expected true or false (the key is now distill.teacher_cache: "
                                                      "auto, off, logits or topk)"});
    return std::nullopt;
  }
}

// The file's own keys: the former flag is removed and, when false, becomes teacher_cache: off
// (a file that sets both must agree).
void migrateFormerKeys(YAML::Node& doc, std::vector<ConfigIssue>& issues) {
  const YAML::Node view = doc;  // const lookups: operator[] on a mutable node inserts the key
  if (!view.IsMap() || !view["distill"] || !view["distill"].IsMap()) return;
  const YAML::Node section = view["distill"];
  const YAML::Node former = section[kFormerCacheFlag];
  if (!former) return;
  const auto on = formerCacheFlag(former, issues);
  YAML::Node distill = doc["distill"];
  distill.remove(kFormerCacheFlag);
  if (!on || *on) return;
  const YAML::Node current = section["teacher_cache"];
  if (current && current.IsScalar() && current.Scalar() != "off") {
    issues.push_back({"distill.teacher_cache", "is '" + current.Scalar() +
                                                   "' but the former distill.cache_teacher_logits is false; keep "
                                                   "only distill.teacher_cache"});
    return;
  }
  distill["teacher_cache"] = "off";
}

// A --set of the former flag is a --set of distill.teacher_cache (off or auto); others pass.
std::string migrateFormerOverride(const std::string& assignment, std::vector<ConfigIssue>& issues) {
  const std::string prefix = std::string("distill.") + kFormerCacheFlag + "=";
  if (assignment.rfind(prefix, 0) != 0) return assignment;
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(prefix.size()));
  } catch (const YAML::Exception&) {
  }
  const auto on = formerCacheFlag(value, issues);
  return on ? std::string("distill.teacher_cache=") + (*on ? "auto" : "off") : std::string();
}

// The list lengths of a model, which depend on its arch (each width's range is in the table).
void modelShapeIssues(const ModelConfig& m, const std::string& prefix, std::vector<ConfigIssue>& issues) {
  if (m.arch == "mlp" && m.hidden.size() > 64)
    issues.push_back({prefix + ".hidden", "expected at most 64 hidden layers"});
  if ((m.arch == "cnn" || m.arch == "resnet") && (m.channels.empty() || m.channels.size() > 4))
    issues.push_back({prefix + ".channels", "expected 1 to 4 " + std::string(m.arch == "cnn" ? "convolution blocks" : "stages") +
                                                " (the image halves at each)"});
  if (m.arch == "gpt" && m.heads >= 1 && m.d_model % m.heads != 0)
    issues.push_back({prefix + ".heads", std::to_string(m.heads) + " does not divide " + prefix + ".d_model " +
                                             std::to_string(m.d_model)});
}

// A model family belongs to the task whose inputs it reads: a GPT reads tokens, the
// classifiers read images or table rows.
void modelTaskIssues(const ModelConfig& m, const std::string& source, const std::string& task, const std::string& prefix,
                     std::vector<ConfigIssue>& issues) {
  // Built from these keys: a trained teacher or one of an earlier run, a fresh student. (A
  // TorchScript module or a weights file brings its own shape, checked when loaded.)
  if (source != "train" && source != "init" && source.rfind("run:", 0) != 0) return;
  if (task == "lm" && m.arch != "gpt")
    issues.push_back({prefix + ".arch", "the lm task trains gpt models, got '" + m.arch + "'"});
  if (task == "image" && m.arch == "gpt")
    issues.push_back({prefix + ".arch", "gpt is a language model: set task: lm, or use mlp, cnn or resnet"});
}

// Hugging Face models (hf:<folder>) and students made of the teacher's blocks are language
// models; the blocks are copied when the run starts, or after phase 1 for a teacher the run
// trains, so the teacher must have blocks (not TorchScript). (The folders themselves are
// checked when a run resolves its sources: core/tasks/teacher_source.h.)
void modelSourceIssues(const ExperimentConfig& c, std::vector<ConfigIssue>& issues) {
  const auto prefixed = [](const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; };
  const bool hf_teacher = prefixed(c.teacher.source, "hf:");
  const bool hf_student = prefixed(c.student_source, "hf:");
  const bool blocks = prefixed(c.student_source, "teacher-blocks:");
  if (c.task != "lm") {
    if (hf_teacher)
      issues.push_back({"teacher.source", "'" + c.teacher.source + "' is a Hugging Face language model; it needs task: lm "
                                          "(the " + c.task + " task's teachers are train, run:<id>, torchscript:<path> "
                                          "or a .pt file)"});
    if (hf_student || blocks)
      issues.push_back({"student.source", "'" + c.student_source + "' makes a language model; it needs task: lm (the " +
                                              c.task + " task's students are init or torchscript:<path>)"});
    return;
  }
  if (!blocks) return;
  // A teacher.source train teacher's blocks are copied after phase 1 trains it.
  if (prefixed(c.teacher.source, "torchscript:"))
    issues.push_back({"student.source", "'" + c.student_source + "' needs a teacher of known blocks (hf:<folder>, "
                                        "run:<id> or a .pt file); a TorchScript teacher's are not known"});
}

// Rules that join keys, or whose message is not "expected X, got Y"; every single-key rule
// is a row of the key table (core/config/config_keys.cpp).
void crossKeyIssues(const ExperimentConfig& c, std::vector<ConfigIssue>& issues) {
  // JSON output (list --json, show, export, compare) must be valid UTF-8: refused at the door.
  if (!isValidUtf8(c.name)) issues.push_back({"name", "the run name is " + describeInvalidUtf8(c.name)});
  if (c.dataset.name == "idx" && c.dataset.path.empty())
    issues.push_back({"dataset.path", "required for dataset.name 'idx': a folder with train-/t10k- IDX files"});
  if (c.dataset.name == "csv" && c.dataset.path.empty())
    issues.push_back({"dataset.path", "required for dataset.name 'csv': a .csv file, or a folder with train.csv and test.csv"});
  if ((c.dataset.name == "cifar10" || c.dataset.name == "cifar100") && c.dataset.path.empty())
    issues.push_back({"dataset.path", "required for " + c.dataset.name + ": the folder of the dataset's binary version"});
  if (c.dataset.label_column.empty()) issues.push_back({"dataset.label_column", "expected a column name"});
  if (c.dataset.augment && c.dataset.name == "csv")
    issues.push_back({"dataset.augment", "crop-and-flip augmentation needs images; a CSV table has none"});
  if (!std::isfinite(c.dataset.mean)) issues.push_back({"dataset.mean", "expected a finite number"});
  modelShapeIssues(c.teacher.model, "teacher", issues);
  modelSourceIssues(c, issues);
  modelTaskIssues(c.teacher.model, c.teacher.source, c.task, "teacher", issues);
  modelTaskIssues(c.student, c.student_source, c.task, "student", issues);
  if (c.task == "lm" && c.dataset.augment)
    issues.push_back({"dataset.augment", "crop-and-flip augmentation needs images; the lm task reads text"});
  // The language-model decoders' (core/tasks/lm/causal_lm.h): the image models have no blocks to
  // checkpoint and compute in float32 only, and so does a TorchScript teacher, as exported.
  if (c.task != "lm" && c.student_gradient_checkpointing)
    issues.push_back({"student.gradient_checkpointing", "recomputes a language model's transformer blocks; it needs "
                                                        "task: lm (the " + c.task + " task's models have none)"});
  if (c.teacher.dtype != "float32") {
    if (c.task != "lm")
      issues.push_back({"teacher.dtype", "'" + c.teacher.dtype + "' is for a language-model teacher; it needs task: lm "
                                         "(the " + c.task + " task's models compute in float32)"});
    else if (c.teacher.source.rfind("torchscript:", 0) == 0)
      issues.push_back({"teacher.dtype", "'" + c.teacher.dtype + "': a TorchScript teacher computes as it was exported, "
                                         "in float32 (use float32)"});
  }
  if (c.teacher.source == "train" && c.teacher.epochs == 0)
    issues.push_back({"teacher.epochs", "must be at least 1 when teacher.source is 'train'"});
  modelShapeIssues(c.student, "student", issues);
  const auto& access_choices = findConfigKey("distill.teacher_access")->choices;
  const bool known_access =
      std::find(access_choices.begin(), access_choices.end(), c.distill.teacher_access) != access_choices.end();
  if (known_access && c.distill.teacher_access != "logits" && methodNeedsWhiteBoxLogits(c.distill.method))
    issues.push_back({"distill.teacher_access", "method '" + c.distill.method +
                                                    "' needs the teacher's logits (teacher_access: logits), got '" +
                                                    c.distill.teacher_access + "'"});
  if (c.distill.teacher_cache == "topk" && methodNeedsWhiteBoxLogits(c.distill.method))
    issues.push_back({"distill.teacher_cache", "method '" + c.distill.method +
                                                   "' needs the teacher's logits; the topk cache keeps only its "
                                                   "top-k log-probabilities (use auto, logits or off)"});
  if (c.distill.method == "reverse_kl" &&
      (c.distill.teacher_access == "label" || (c.distill.teacher_access == "topk" && c.distill.topk_renormalize)))
    issues.push_back({"distill.teacher_access", "reverse_kl is infinite when the teacher gives classes probability 0 ('" +
                                                    c.distill.teacher_access +
                                                    "' access); use jsd, tvd or kd, or topk with a tail bucket"});
  if (c.distill.teacher_access == "text") {
    if (c.task != "lm")
      issues.push_back({"distill.teacher_access", "`text` access is generated text, which only the lm task has; "
                                                  "for classifiers use `label` (the teacher's top-1 prediction)"});
    else if (!c.generation.sequence_kd)
      issues.push_back({"distill.teacher_access", "`text` access trains on the teacher's generated text: set "
                                                  "generation.sequence_kd: true"});
    else if (c.generation.on_policy > 0.0)
      issues.push_back({"generation.on_policy", "on-policy batches are scored by the teacher's token "
                                                "distributions, which `text` access does not see; use 0"});
  }
  if (c.task == "lm" && c.generation.prompt_tokens + c.generation.new_tokens > c.lm.context &&
      (c.generation.sequence_kd || c.generation.on_policy > 0.0))
    issues.push_back({"generation.new_tokens", "a prompt of " + std::to_string(c.generation.prompt_tokens) +
                                                   " tokens and " + std::to_string(c.generation.new_tokens) +
                                                   " new tokens need " +
                                                   std::to_string(c.generation.prompt_tokens + c.generation.new_tokens) +
                                                   " positions; lm.context is " + std::to_string(c.lm.context)});
  if (c.train.nesterov && c.train.optimizer == "sgd" && c.train.momentum == 0.0)
    issues.push_back({"train.nesterov", "needs train.momentum > 0"});
}

}  // namespace

ConfigError::ConfigError(std::vector<ConfigIssue> issues)
    : std::runtime_error(joinIssues(issues)), issues_(std::move(issues)) {}

ExperimentConfig defaultConfig() {
  ExperimentConfig c;
  c.teacher.model.arch = "mlp";
  c.teacher.model.hidden = {1200, 1200};
  c.teacher.model.dropout = 0.2;
  c.teacher.epochs = 10;
  c.student.arch = "mlp";
  c.student.hidden = {800, 800};
  c.student.dropout = 0.0;
  return c;
}

std::vector<ConfigIssue> validate(const ExperimentConfig& c) {
  std::vector<ConfigIssue> issues;
  for (const auto& row : configKeyTable()) {
    if (row.checked_on_read || !configKeyApplies(row, c)) continue;
    ConfigIssue issue = checkConfigValue(row, row.get(c));
    if (!issue.message.empty()) issues.push_back(std::move(issue));
  }
  crossKeyIssues(c, issues);
  return issues;
}

ExperimentConfig parseConfigWithOverrides(const std::string& text, const std::vector<std::string>& overrides,
                                          const std::string& origin) {
  const YAML::Node schema = toNode(defaultConfig());
  YAML::Node doc = parseDocument(text, origin);
  std::vector<ConfigIssue> issues;
  if (!doc.IsMap()) {
    throw ConfigError({{"", origin + ": expected a mapping of config keys (e.g. 'train:' and 'distill:' sections)"}});
  }
  migrateFormerKeys(doc, issues);
  checkKeys(doc, schema, "", issues);
  for (const auto& assignment : overrides) {
    const std::string current = migrateFormerOverride(assignment, issues);
    if (!current.empty()) applyOverride(doc, current, schema, issues);
  }
  if (!issues.empty()) throw ConfigError(issues);

  YAML::Node merged = YAML::Clone(schema);
  mergeInto(merged, doc);
  ExperimentConfig config = fromNode(merged, issues);
  if (!issues.empty()) throw ConfigError(issues);
  issues = validate(config);
  if (!issues.empty()) throw ConfigError(issues);
  return config;
}

ExperimentConfig parseConfig(const std::string& text, const std::string& origin) {
  return parseConfigWithOverrides(text, {}, origin);
}

ExperimentConfig loadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({{"", "cannot read config file '" + path + "'"}});
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parseConfig(buffer.str(), path);
}

std::string toYaml(const ExperimentConfig& config) {
  YAML::Emitter out;
  out << toNode(config);
  return std::string(out.c_str()) + "\n";
}

std::map<std::string, std::string> flatten(const ExperimentConfig& config) {
  std::map<std::string, std::string> out;
  for (const auto& row : configKeyTable()) out[row.key] = configValueText(row, row.get(config));
  return out;
}

std::vector<std::string> configKeys() {
  std::vector<std::string> keys;
  for (const auto& row : configKeyTable()) keys.push_back(row.key);
  return keys;
}

std::string defaultDatasetPath(const std::string& dataset_name) {
  if (dataset_name == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  if (dataset_name == "mnist") return "/usr/share/datasets/mnist";
  return "";
}

namespace {
std::string describeModel(const ModelConfig& m) {
  if (m.arch == "gpt") return "gpt" + std::to_string(m.layers) + "x" + std::to_string(m.d_model);  // layers x width
  std::string text = m.arch;
  const auto& widths = m.arch == "cnn" ? m.channels : m.hidden;
  for (size_t i = 0; i < widths.size(); ++i) text += (i ? "x" : "") + std::to_string(widths[i]);
  return text;
}
std::string shortNumber(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

std::string describe(const ExperimentConfig& c) {
  std::string teacher = c.teacher.source == "train" ? describeModel(c.teacher.model) : c.teacher.source;
  const bool hf_student = c.student_source.rfind("hf:", 0) == 0 || c.student_source.rfind("teacher-blocks:", 0) == 0;
  const std::string student = hf_student ? c.student_source : describeModel(c.student);
  return teacher + "->" + student + " " + c.distill.method + " T" + shortNumber(c.distill.temperature) +
         " a" + shortNumber(c.distill.alpha);
}

}  // namespace distill
