// The config key table: one row per dotted key of ExperimentConfig, read by everything that
// lists keys. Parsing, YAML/flatten output, validation, `distill config-keys` (and through it
// docs/config.md and the man page), and the window's experiment form all walk this table, so
// a new key is one row here (plus its member in config.h) and appears everywhere.
//
// A row says: the key, where its value lives (get/set), its kind, the values it accepts
// (choices, a range for the form, a validator with the words of its message), which form
// section shows it under which label, and its help text. Rules that join two keys (a dataset
// path required for some datasets, nesterov needing momentum) stay in config.cpp's
// crossKeyIssues().
//
// Thread contract: the table is built once, on first use (thread-safe static), and never
// changes; any thread may read it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace distill {

enum class ConfigKind {
  Text,         // any text (device, teacher.source: validated by a function)
  Choice,       // one of `choices`, exactly
  Integer,      // a whole number
  Number,       // a double
  Flag,         // true | false
  IntegerList,  // [a, b, ...] of whole numbers (a single number reads as a one-item list)
};

// Where the form shows a key: one group box per section, in this order.
enum class FormSection { Run, Dataset, Teacher, Student, Distillation, Training };

// A key's value, in the slot its kind uses (text for Text and Choice).
struct ConfigValue {
  std::string text;
  int64_t integer = 0;
  double number = 0.0;
  bool flag = false;
  std::vector<int64_t> list;
};

struct ConfigKey {
  std::string key;  // dotted: "train.lr"
  ConfigKind kind = ConfigKind::Text;
  FormSection section = FormSection::Run;
  std::string label;  // the form's label ("Learning rate")
  ConfigValue (*get)(const ExperimentConfig&) = nullptr;
  void (*set)(ExperimentConfig&, const ConfigValue&) = nullptr;
  // One paragraph in Markdown (`code`, [links](...)): docs/config.md, the man page, tooltips.
  std::string help;
  // Choice: every accepted value, in the order the form offers them. Text: suggestions only.
  std::vector<std::string> choices;
  // Integer/Number: the range the form's spin box allows (validation may be stricter).
  double minimum = 0.0;
  double maximum = 1e9;
  int decimals = 0;       // Number: 0 = a text field, else a spin box with these decimals
  double step = 1.0;      // the form's spin box step (Integer, and Number with decimals)
  // Whether a value is accepted (for lists: each element); nullptr: any value of its kind.
  bool (*valid)(const ConfigValue&) = nullptr;
  // The words after "expected" in the message: "expected <expected>, got <value>". Choice
  // keys without it say "one of a, b, c".
  std::string expected;
  // Checked while reading rather than by validate(): the typed member cannot hold a bad value
  // (seed is unsigned; threads 'auto').
  bool checked_on_read = false;
  // Integer keys where 0 reads and writes as the text 'auto' (threads).
  bool zero_is_auto = false;
  // The form's word for 0 in a spin box ("all", "each epoch", "auto"); empty: none.
  std::string zero_label;
  // Model keys (teacher.*, student.*) used only by these archs: validated only for them, and
  // the form enables them only for them. Empty: every arch.
  std::vector<std::string> archs;
  // Keys read only by these tasks (`task`): validated only for them, and the form shows them
  // only for them. Empty: every task.
  std::vector<std::string> tasks;
  // The form enables the key only while the key `enabled_by` has one of `enabled_values`
  // (train.momentum only for the sgd optimizer); empty: always. The form's hint only:
  // validation checks the key whatever its neighbours say.
  std::string enabled_by;
  std::vector<std::string> enabled_values;

  // Chained setters, so that each row of the table reads as one sentence.
  ConfigKey& withHelp(std::string text);
  ConfigKey& withChoices(std::vector<std::string> values);
  ConfigKey& withRange(double min, double max);
  ConfigKey& withSpin(int spin_decimals, double spin_step);
  ConfigKey& withCheck(bool (*check)(const ConfigValue&), std::string expected_text);
  ConfigKey& checkedOnRead();
  ConfigKey& autoZero();
  ConfigKey& withZeroLabel(std::string text);
  ConfigKey& forArchs(std::vector<std::string> names);
  ConfigKey& forTasks(std::vector<std::string> names);
  ConfigKey& enabledWhen(std::string key, std::vector<std::string> values);
};

// Every key in document order (the order of toYaml and `distill config-keys`).
const std::vector<ConfigKey>& configKeyTable();
// The row of a dotted key, or nullptr.
const ConfigKey* findConfigKey(const std::string& key);
// Whether `row` applies to `config` (its task is one of row.tasks, its model's arch one of
// row.archs).
bool configKeyApplies(const ConfigKey& row, const ExperimentConfig& config);
// The issue of one key's value, or an empty message when it is accepted.
ConfigIssue checkConfigValue(const ConfigKey& row, const ConfigValue& value);
// The value as the form and docs show it ("0.05", "[800, 800]", "true", "auto").
std::string configValueText(const ConfigKey& row, const ConfigValue& value);
// A section's title in the form and the docs.
std::string formSectionTitle(FormSection section);

// Generated reference text of every key with its default and help, for docs/config.md (a
// Markdown table) and packaging/man/distill.1 (roff); tests keep the committed files equal.
std::string configKeysMarkdown();
std::string configKeysMan();

}  // namespace distill
