#include "core/config/config.h"

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

YAML::Node modelNode(const ModelConfig& m) {
  YAML::Node node;
  node["arch"] = m.arch;
  node["hidden"] = listNode(m.hidden);
  node["activation"] = m.activation;
  node["dropout"] = number(m.dropout);
  node["channels"] = listNode(m.channels);
  node["blocks"] = m.blocks;
  node["kernel"] = m.kernel;
  node["pool"] = m.pool;
  return node;
}

YAML::Node toNode(const ExperimentConfig& c) {
  YAML::Node root;
  root["name"] = c.name;
  root["seed"] = c.seed;
  root["device"] = c.device;
  if (c.threads == 0)
    root["threads"] = "auto";
  else
    root["threads"] = c.threads;
  root["gemm"] = c.gemm;
  YAML::Node d;
  d["name"] = c.dataset.name;
  d["path"] = c.dataset.path;
  d["limit_train"] = c.dataset.limit_train;
  d["limit_test"] = c.dataset.limit_test;
  d["mean"] = number(c.dataset.mean);
  d["std"] = number(c.dataset.std);
  d["augment"] = c.dataset.augment;
  d["label_column"] = c.dataset.label_column;
  d["test_fraction"] = number(c.dataset.test_fraction);
  root["dataset"] = d;
  YAML::Node t = modelNode(c.teacher.model);
  YAML::Node teacher;
  teacher["source"] = c.teacher.source;
  for (auto it = t.begin(); it != t.end(); ++it) teacher[it->first.as<std::string>()] = it->second;
  teacher["epochs"] = c.teacher.epochs;
  root["teacher"] = teacher;
  YAML::Node student;
  student["source"] = c.student_source;
  YAML::Node s = modelNode(c.student);
  for (auto it = s.begin(); it != s.end(); ++it) student[it->first.as<std::string>()] = it->second;
  root["student"] = student;
  YAML::Node k;
  k["method"] = c.distill.method;
  k["temperature"] = number(c.distill.temperature);
  k["alpha"] = number(c.distill.alpha);
  k["teacher_access"] = c.distill.teacher_access;
  k["topk"] = c.distill.topk;
  k["topk_renormalize"] = c.distill.topk_renormalize;
  k["jsd_beta"] = number(c.distill.jsd_beta);
  k["dkd_alpha"] = number(c.distill.dkd_alpha);
  k["dkd_beta"] = number(c.distill.dkd_beta);
  k["warmup_epochs"] = number(c.distill.warmup_epochs);
  k["hint_student_layer"] = c.distill.hint_student_layer;
  k["hint_teacher_layer"] = c.distill.hint_teacher_layer;
  k["hint_weight"] = number(c.distill.hint_weight);
  k["hint_epochs"] = c.distill.hint_epochs;
  k["cache_teacher_logits"] = c.distill.cache_teacher_logits;
  root["distill"] = k;
  YAML::Node tr;
  tr["epochs"] = c.train.epochs;
  tr["batch_size"] = c.train.batch_size;
  tr["optimizer"] = c.train.optimizer;
  tr["lr"] = number(c.train.lr);
  tr["momentum"] = number(c.train.momentum);
  tr["nesterov"] = c.train.nesterov;
  tr["weight_decay"] = number(c.train.weight_decay);
  tr["schedule"] = c.train.schedule;
  tr["step_size"] = c.train.step_size;
  tr["gamma"] = number(c.train.gamma);
  tr["log_every"] = c.train.log_every;
  tr["eval_every"] = c.train.eval_every;
  tr["autocast"] = c.train.autocast;
  root["train"] = tr;
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

void readModel(Reader& r, const std::string& prefix, ModelConfig& m) {
  r.read(prefix + ".arch", m.arch);
  r.read(prefix + ".hidden", m.hidden);
  r.read(prefix + ".activation", m.activation);
  r.read(prefix + ".dropout", m.dropout);
  r.read(prefix + ".channels", m.channels);
  r.read(prefix + ".blocks", m.blocks);
  r.read(prefix + ".kernel", m.kernel);
  r.read(prefix + ".pool", m.pool);
}

ExperimentConfig fromNode(const YAML::Node& root, std::vector<ConfigIssue>& issues) {
  ExperimentConfig c = defaultConfig();
  Reader r(root, issues);
  r.read("name", c.name);
  int64_t seed = static_cast<int64_t>(c.seed);
  r.read("seed", seed);
  if (seed < 0)
    issues.push_back({"seed", "expected a whole number >= 0, got " + std::to_string(seed)});
  else
    c.seed = static_cast<uint64_t>(seed);
  r.read("device", c.device);
  auto threads = r.find("threads");
  if (threads && !threads.IsNull()) {
    if (threads.IsScalar() && threads.Scalar() == "auto") {
      c.threads = 0;
    } else {
      int64_t n = 0;
      r.read("threads", n);
      if (n < 0 || n > 1024)
        issues.push_back({"threads", "expected 'auto' or a thread count between 1 and 1024, got " + std::to_string(n)});
      else
        c.threads = static_cast<int>(n);
    }
  }
  r.read("gemm", c.gemm);
  r.read("dataset.name", c.dataset.name);
  r.read("dataset.path", c.dataset.path);
  r.read("dataset.limit_train", c.dataset.limit_train);
  r.read("dataset.limit_test", c.dataset.limit_test);
  r.read("dataset.mean", c.dataset.mean);
  r.read("dataset.std", c.dataset.std);
  r.read("dataset.augment", c.dataset.augment);
  r.read("dataset.label_column", c.dataset.label_column);
  r.read("dataset.test_fraction", c.dataset.test_fraction);
  r.read("teacher.source", c.teacher.source);
  readModel(r, "teacher", c.teacher.model);
  r.read("teacher.epochs", c.teacher.epochs);
  r.read("student.source", c.student_source);
  // A TorchScript file by its bare path, as `distill mirror` takes it: stored in the one form.
  if (!c.student_source.empty() && c.student_source != "init" && c.student_source.rfind("torchscript:", 0) != 0)
    c.student_source = "torchscript:" + c.student_source;
  readModel(r, "student", c.student);
  r.read("distill.method", c.distill.method);
  r.read("distill.temperature", c.distill.temperature);
  r.read("distill.alpha", c.distill.alpha);
  r.read("distill.teacher_access", c.distill.teacher_access);
  r.read("distill.topk", c.distill.topk);
  r.read("distill.topk_renormalize", c.distill.topk_renormalize);
  r.read("distill.jsd_beta", c.distill.jsd_beta);
  r.read("distill.dkd_alpha", c.distill.dkd_alpha);
  r.read("distill.dkd_beta", c.distill.dkd_beta);
  r.read("distill.warmup_epochs", c.distill.warmup_epochs);
  r.read("distill.hint_student_layer", c.distill.hint_student_layer);
  r.read("distill.hint_teacher_layer", c.distill.hint_teacher_layer);
  r.read("distill.hint_weight", c.distill.hint_weight);
  r.read("distill.hint_epochs", c.distill.hint_epochs);
  r.read("distill.cache_teacher_logits", c.distill.cache_teacher_logits);
  r.read("train.epochs", c.train.epochs);
  r.read("train.batch_size", c.train.batch_size);
  r.read("train.optimizer", c.train.optimizer);
  r.read("train.lr", c.train.lr);
  r.read("train.momentum", c.train.momentum);
  r.read("train.nesterov", c.train.nesterov);
  r.read("train.weight_decay", c.train.weight_decay);
  r.read("train.schedule", c.train.schedule);
  r.read("train.step_size", c.train.step_size);
  r.read("train.gamma", c.train.gamma);
  r.read("train.log_every", c.train.log_every);
  r.read("train.eval_every", c.train.eval_every);
  r.read("train.autocast", c.train.autocast);
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

bool oneOf(const std::string& value, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (value == a) return true;
  return false;
}

std::string listOf(std::initializer_list<const char*> allowed) {
  std::string text;
  for (const char* a : allowed) text += (text.empty() ? "" : ", ") + std::string(a);
  return text;
}

void validateModel(const ModelConfig& m, const std::string& prefix, std::vector<ConfigIssue>& issues) {
  const auto archs = {"mlp", "cnn", "resnet"};
  if (!oneOf(m.arch, archs)) issues.push_back({prefix + ".arch", "expected one of " + listOf(archs) + ", got '" + m.arch + "'"});
  const auto acts = {"relu", "gelu", "tanh", "sigmoid", "leaky_relu", "silu"};
  if (!oneOf(m.activation, acts))
    issues.push_back({prefix + ".activation", "expected one of " + listOf(acts) + ", got '" + m.activation + "'"});
  if (!(m.dropout >= 0.0 && m.dropout < 1.0))
    issues.push_back({prefix + ".dropout", "expected a probability in [0, 1), got " + std::to_string(m.dropout)});
  for (auto width : m.hidden)
    if (width <= 0 || width > 1'000'000)
      issues.push_back({prefix + ".hidden", "expected widths between 1 and 1000000, got " + std::to_string(width)});
  if (m.arch == "mlp" && m.hidden.size() > 64)
    issues.push_back({prefix + ".hidden", "expected at most 64 hidden layers"});
  if (m.arch == "resnet" && (m.blocks < 1 || m.blocks > 32))
    issues.push_back({prefix + ".blocks", "expected 1 to 32 residual blocks per stage, got " + std::to_string(m.blocks)});
  if (m.arch == "cnn" || m.arch == "resnet") {
    if (m.channels.empty() || m.channels.size() > 4)
      issues.push_back({prefix + ".channels", "expected 1 to 4 " + std::string(m.arch == "cnn" ? "convolution blocks" : "stages") +
                                                  " (the image halves at each)"});
    for (auto ch : m.channels)
      if (ch <= 0 || ch > 4096)
        issues.push_back({prefix + ".channels", "expected channel counts between 1 and 4096, got " + std::to_string(ch)});
    if (m.kernel < 1 || m.kernel > 15 || m.kernel % 2 == 0)
      issues.push_back({prefix + ".kernel", "expected an odd kernel size between 1 and 15, got " + std::to_string(m.kernel)});
    const auto pools = {"max", "avg"};
    if (!oneOf(m.pool, pools)) issues.push_back({prefix + ".pool", "expected one of " + listOf(pools) + ", got '" + m.pool + "'"});
  }
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
  // JSON output (list --json, show, export, compare) must be valid UTF-8: refused at the door.
  if (!isValidUtf8(c.name)) issues.push_back({"name", "the run name is " + describeInvalidUtf8(c.name)});
  const auto datasets = {"fashion-mnist", "mnist", "idx", "cifar10", "cifar100", "csv"};
  if (!oneOf(c.dataset.name, datasets))
    issues.push_back({"dataset.name", "expected one of " + listOf(datasets) + ", got '" + c.dataset.name + "'"});
  if (c.dataset.name == "idx" && c.dataset.path.empty())
    issues.push_back({"dataset.path", "required for dataset.name 'idx': a folder with train-/t10k- IDX files"});
  if (c.dataset.name == "csv" && c.dataset.path.empty())
    issues.push_back({"dataset.path", "required for dataset.name 'csv': a .csv file, or a folder with train.csv and test.csv"});
  if ((c.dataset.name == "cifar10" || c.dataset.name == "cifar100") && c.dataset.path.empty())
    issues.push_back({"dataset.path", "required for " + c.dataset.name + ": the folder of the dataset's binary version"});
  if (c.dataset.label_column.empty()) issues.push_back({"dataset.label_column", "expected a column name"});
  if (c.dataset.augment && c.dataset.name == "csv")
    issues.push_back({"dataset.augment", "crop-and-flip augmentation needs images; a CSV table has none"});
  if (!(c.dataset.test_fraction > 0.0 && c.dataset.test_fraction < 1.0))
    issues.push_back({"dataset.test_fraction", "expected a fraction in (0, 1), got " + std::to_string(c.dataset.test_fraction)});
  if (c.dataset.limit_train < 0)
    issues.push_back({"dataset.limit_train", "expected 0 (all) or a positive count, got " + std::to_string(c.dataset.limit_train)});
  if (c.dataset.limit_test < 0)
    issues.push_back({"dataset.limit_test", "expected 0 (all) or a positive count, got " + std::to_string(c.dataset.limit_test)});
  if (!(c.dataset.std > 0.0) || !std::isfinite(c.dataset.std))
    issues.push_back({"dataset.std", "expected a positive number, got " + std::to_string(c.dataset.std)});
  if (!std::isfinite(c.dataset.mean)) issues.push_back({"dataset.mean", "expected a finite number"});

  static const std::regex device_pattern("auto|cpu|cuda|cuda:[0-9]+");
  if (!std::regex_match(c.device, device_pattern))
    issues.push_back({"device", "expected auto, cpu, cuda or cuda:N, got '" + c.device + "'"});

  if (c.gemm != "auto" && c.gemm != "onednn" && c.gemm != "blas")
    issues.push_back({"gemm", "expected auto, onednn or blas, got '" + c.gemm + "'"});

  const std::string& source = c.teacher.source;
  static const std::regex run_pattern("run:[0-9]+");
  if (source.empty() || (source != "train" && source.rfind("run:", 0) == 0 && !std::regex_match(source, run_pattern)) ||
      source == "torchscript:")
    issues.push_back({"teacher.source", "expected 'train', 'run:<id>', 'torchscript:<path>' or the path of a teacher .pt file, got '" +
                                            source + "'"});
  if (c.student_source != "init" && (c.student_source.rfind("torchscript:", 0) != 0 || c.student_source == "torchscript:"))
    issues.push_back({"student.source", "expected 'init' or 'torchscript:<path>', got '" + c.student_source + "'"});
  validateModel(c.teacher.model, "teacher", issues);
  if (c.teacher.epochs < 0)
    issues.push_back({"teacher.epochs", "expected a number of epochs >= 0, got " + std::to_string(c.teacher.epochs)});
  if (c.teacher.source == "train" && c.teacher.epochs == 0)
    issues.push_back({"teacher.epochs", "must be at least 1 when teacher.source is 'train'"});
  validateModel(c.student, "student", issues);

  const auto methods = lossMethods();
  if (std::find(methods.begin(), methods.end(), c.distill.method) == methods.end()) {
    std::string known;
    for (const auto& m : methods) known += (known.empty() ? "" : ", ") + m;
    issues.push_back({"distill.method", "expected one of " + known + ", got '" + c.distill.method + "'"});
  }
  const auto accesses = {"logits", "topk", "label"};
  if (!oneOf(c.distill.teacher_access, accesses))
    issues.push_back({"distill.teacher_access", "expected one of " + listOf(accesses) + ", got '" + c.distill.teacher_access + "'"});
  else if (c.distill.teacher_access != "logits" && methodNeedsWhiteBoxLogits(c.distill.method))
    issues.push_back({"distill.teacher_access", "method '" + c.distill.method +
                                                    "' needs the teacher's logits (teacher_access: logits), got '" +
                                                    c.distill.teacher_access + "'"});
  if (c.distill.method == "reverse_kl" &&
      (c.distill.teacher_access == "label" || (c.distill.teacher_access == "topk" && c.distill.topk_renormalize)))
    issues.push_back({"distill.teacher_access", "reverse_kl is infinite when the teacher gives classes probability 0 ('" +
                                                    c.distill.teacher_access +
                                                    "' access); use jsd, tvd or kd, or topk with a tail bucket"});
  if (c.distill.topk < 1 || c.distill.topk > 100000)
    issues.push_back({"distill.topk", "expected k >= 1, got " + std::to_string(c.distill.topk)});
  if (!(c.distill.jsd_beta >= 0.0 && c.distill.jsd_beta <= 1.0))
    issues.push_back({"distill.jsd_beta", "expected a weight in [0, 1], got " + std::to_string(c.distill.jsd_beta)});
  if (!(c.distill.dkd_alpha >= 0.0) || !std::isfinite(c.distill.dkd_alpha))
    issues.push_back({"distill.dkd_alpha", "expected a weight >= 0, got " + std::to_string(c.distill.dkd_alpha)});
  if (!(c.distill.dkd_beta >= 0.0) || !std::isfinite(c.distill.dkd_beta))
    issues.push_back({"distill.dkd_beta", "expected a weight >= 0, got " + std::to_string(c.distill.dkd_beta)});
  if (!(c.distill.warmup_epochs >= 0.0) || !std::isfinite(c.distill.warmup_epochs))
    issues.push_back({"distill.warmup_epochs", "expected a number of epochs >= 0, got " + std::to_string(c.distill.warmup_epochs)});
  if (!(c.distill.hint_weight >= 0.0) || !std::isfinite(c.distill.hint_weight))
    issues.push_back({"distill.hint_weight", "expected a weight >= 0, got " + std::to_string(c.distill.hint_weight)});
  if (c.distill.hint_epochs < 0)
    issues.push_back({"distill.hint_epochs", "expected a number of epochs >= 0, got " + std::to_string(c.distill.hint_epochs)});
  if (!(c.distill.temperature > 0.0) || !std::isfinite(c.distill.temperature))
    issues.push_back({"distill.temperature", "expected a temperature > 0, got " + std::to_string(c.distill.temperature)});
  if (!(c.distill.alpha >= 0.0 && c.distill.alpha <= 1.0))
    issues.push_back({"distill.alpha", "expected a weight in [0, 1], got " + std::to_string(c.distill.alpha)});

  if (c.train.epochs < 0)
    issues.push_back({"train.epochs", "expected a number of epochs >= 0, got " + std::to_string(c.train.epochs)});
  if (c.train.batch_size <= 0 || c.train.batch_size > 1'000'000)
    issues.push_back({"train.batch_size", "expected a batch size between 1 and 1000000, got " + std::to_string(c.train.batch_size)});
  const auto optimizers = {"sgd", "adam", "adamw"};
  if (!oneOf(c.train.optimizer, optimizers))
    issues.push_back({"train.optimizer", "expected one of " + listOf(optimizers) + ", got '" + c.train.optimizer + "'"});
  if (!(c.train.lr > 0.0) || !std::isfinite(c.train.lr))
    issues.push_back({"train.lr", "expected a learning rate > 0, got " + std::to_string(c.train.lr)});
  if (!(c.train.momentum >= 0.0 && c.train.momentum < 1.0))
    issues.push_back({"train.momentum", "expected a momentum in [0, 1), got " + std::to_string(c.train.momentum)});
  if (c.train.nesterov && c.train.optimizer == "sgd" && c.train.momentum == 0.0)
    issues.push_back({"train.nesterov", "needs train.momentum > 0"});
  if (!(c.train.weight_decay >= 0.0) || !std::isfinite(c.train.weight_decay))
    issues.push_back({"train.weight_decay", "expected a weight decay >= 0, got " + std::to_string(c.train.weight_decay)});
  const auto schedules = {"constant", "step", "cosine"};
  if (!oneOf(c.train.schedule, schedules))
    issues.push_back({"train.schedule", "expected one of " + listOf(schedules) + ", got '" + c.train.schedule + "'"});
  if (c.train.step_size <= 0)
    issues.push_back({"train.step_size", "expected a number of epochs >= 1, got " + std::to_string(c.train.step_size)});
  if (!(c.train.gamma > 0.0 && c.train.gamma <= 1.0))
    issues.push_back({"train.gamma", "expected a decay factor in (0, 1], got " + std::to_string(c.train.gamma)});
  if (c.train.log_every <= 0)
    issues.push_back({"train.log_every", "expected a number of steps >= 1, got " + std::to_string(c.train.log_every)});
  if (c.train.eval_every < 0)
    issues.push_back({"train.eval_every", "expected 0 (each epoch) or a number of steps, got " + std::to_string(c.train.eval_every)});
  const auto autocasts = {"off", "bf16", "fp16"};
  if (!oneOf(c.train.autocast, autocasts))
    issues.push_back({"train.autocast", "expected one of " + listOf(autocasts) + ", got '" + c.train.autocast + "'"});
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
  checkKeys(doc, schema, "", issues);
  for (const auto& assignment : overrides) applyOverride(doc, assignment, schema, issues);
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

namespace {
void flattenNode(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out,
                 std::vector<std::string>* order) {
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.as<std::string>();
      flattenNode(it->second, prefix.empty() ? key : prefix + "." + key, out, order);
    }
    return;
  }
  if (order) order->push_back(prefix);
  if (node.IsSequence()) {
    std::string text = "[";
    for (size_t i = 0; i < node.size(); ++i) text += (i ? ", " : "") + node[i].Scalar();
    out[prefix] = text + "]";
  } else {
    out[prefix] = node.IsScalar() ? node.Scalar() : std::string();
  }
}
}  // namespace

std::map<std::string, std::string> flatten(const ExperimentConfig& config) {
  std::map<std::string, std::string> out;
  flattenNode(toNode(config), "", out, nullptr);
  return out;
}

std::vector<std::string> configKeys() {
  std::map<std::string, std::string> unused;
  std::vector<std::string> order;
  flattenNode(toNode(defaultConfig()), "", unused, &order);
  return order;
}

std::string defaultDatasetPath(const std::string& dataset_name) {
  if (dataset_name == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  if (dataset_name == "mnist") return "/usr/share/datasets/mnist";
  return "";
}

namespace {
std::string describeModel(const ModelConfig& m) {
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
  return teacher + "->" + describeModel(c.student) + " " + c.distill.method + " T" + shortNumber(c.distill.temperature) +
         " a" + shortNumber(c.distill.alpha);
}

}  // namespace distill
