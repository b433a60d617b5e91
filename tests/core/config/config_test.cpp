#include <gtest/gtest.h>

#include "core/config/config.h"

namespace distill {
namespace {

// The message for a bad config names the key that is wrong.
std::vector<ConfigIssue> issuesFor(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parseConfigWithOverrides(text, overrides);
  } catch (const ConfigError& e) {
    return e.issues();
  }
  return {};
}

bool mentions(const std::vector<ConfigIssue>& issues, const std::string& key) {
  for (const auto& issue : issues)
    if (issue.key == key) return true;
  return false;
}

TEST(Config, DefaultsAreHintonOnFashionMnistAndValid) {
  const auto config = parseConfig("");
  EXPECT_TRUE(validate(config).empty());
  EXPECT_EQ(config.dataset.name, "fashion-mnist");
  EXPECT_EQ(config.teacher.model.hidden, (std::vector<int64_t>{1200, 1200}));
  EXPECT_DOUBLE_EQ(config.teacher.model.dropout, 0.2);
  EXPECT_EQ(config.student.hidden, (std::vector<int64_t>{800, 800}));
  EXPECT_DOUBLE_EQ(config.distill.temperature, 4.0);
  EXPECT_DOUBLE_EQ(config.distill.alpha, 0.9);
}

TEST(Config, YamlAndJsonGiveTheSameConfig) {
  const auto from_yaml = parseConfig("distill:\n  temperature: 2.5\nstudent:\n  hidden: [64, 32]\n");
  const auto from_json = parseConfig(R"({"distill": {"temperature": 2.5}, "student": {"hidden": [64, 32]}})");
  EXPECT_EQ(toYaml(from_yaml), toYaml(from_json));
  EXPECT_DOUBLE_EQ(from_json.distill.temperature, 2.5);
  EXPECT_EQ(from_json.student.hidden, (std::vector<int64_t>{64, 32}));
  EXPECT_DOUBLE_EQ(from_json.distill.alpha, 0.9);  // untouched keys keep their defaults
}

// A list or mapping used as a key is a config error naming where, not an escaping yaml-cpp
// exception (fuzz_config found `? [a, b]` aborting the parser).
TEST(Config, AListOrMappingUsedAsAKeyIsAConfigError) {
  EXPECT_THROW(parseConfigWithOverrides("? [a, b]\n: 1\n", {}), ConfigError);
  try {
    parseConfigWithOverrides("train:\n  ? {x: 1}\n  : 2\n", {});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_FALSE(e.issues().empty());
    EXPECT_EQ(e.issues().front().key, "train");
  }
}

TEST(Config, OverridesUseDottedKeysAndYamlValues) {
  const auto config = parseConfigWithOverrides(
      "", {"distill.temperature=8", "teacher.hidden=[512,256]", "train.optimizer=adamw", "threads=3", "seed=42"});
  EXPECT_DOUBLE_EQ(config.distill.temperature, 8.0);
  EXPECT_EQ(config.teacher.model.hidden, (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(config.train.optimizer, "adamw");
  EXPECT_EQ(config.threads, 3);
  EXPECT_EQ(config.seed, 42u);
}

TEST(Config, ToYamlRoundTrips) {
  const auto config = parseConfigWithOverrides("", {"teacher.arch=cnn", "teacher.channels=[8,16]", "name=my run"});
  const auto again = parseConfig(toYaml(config));
  EXPECT_EQ(toYaml(again), toYaml(config));
  EXPECT_EQ(flatten(again), flatten(config));
  EXPECT_EQ(flatten(config).at("teacher.channels"), "[8, 16]");
  EXPECT_EQ(flatten(config).at("name"), "my run");
}

TEST(Config, EveryKeyIsListedOnce) {
  const auto keys = configKeys();
  EXPECT_EQ(keys.size(), flatten(defaultConfig()).size());
  for (const char* key : {"dataset.name", "dataset.path", "dataset.limit_train", "dataset.limit_test", "teacher.arch",
                          "teacher.hidden", "teacher.epochs", "student.arch", "student.hidden", "distill.method",
                          "distill.temperature", "distill.alpha", "train.epochs", "train.batch_size", "train.optimizer",
                          "train.lr", "seed", "device", "threads"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
}

struct BadCase {
  const char* name;
  std::string text;
  std::vector<std::string> overrides;
  std::string key;  // the key the message must name ("" = document)
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class ConfigRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigRejects, WithAMessageNamingTheKey) {
  const auto& c = GetParam();
  const auto issues = issuesFor(c.text, c.overrides);
  ASSERT_FALSE(issues.empty()) << "accepted: " << c.name;
  EXPECT_TRUE(mentions(issues, c.key)) << c.name << ": " << ConfigError(issues).what();
  for (const auto& issue : issues) EXPECT_FALSE(issue.message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    BadInput, ConfigRejects,
    ::testing::Values(
        BadCase{"unknown_top_key", "learning_rate: 0.1\n", {}, "learning_rate"},
        BadCase{"unknown_nested_key", "distill:\n  temprature: 2\n", {}, "distill.temprature"},
        BadCase{"unknown_override", "", {"train.epoch=3"}, "train.epoch"},
        BadCase{"override_without_value", "", {"train.epochs"}, ""},
        BadCase{"temperature_zero", "distill: {temperature: 0}\n", {}, "distill.temperature"},
        BadCase{"temperature_negative", "", {"distill.temperature=-1"}, "distill.temperature"},
        BadCase{"alpha_above_one", "", {"distill.alpha=1.5"}, "distill.alpha"},
        BadCase{"alpha_negative", "", {"distill.alpha=-0.1"}, "distill.alpha"},
        BadCase{"batch_size_zero", "", {"train.batch_size=0"}, "train.batch_size"},
        BadCase{"epochs_negative", "", {"train.epochs=-1"}, "train.epochs"},
        BadCase{"teacher_epochs_negative", "", {"teacher.epochs=-2"}, "teacher.epochs"},
        BadCase{"epochs_not_a_number", "train: {epochs: many}\n", {}, "train.epochs"},
        BadCase{"epochs_fraction", "", {"train.epochs=2.5"}, "train.epochs"},
        BadCase{"lr_text", "train: {lr: fast}\n", {}, "train.lr"},
        BadCase{"hidden_not_list", "student: {hidden: {a: 1}}\n", {}, "student.hidden"},
        BadCase{"hidden_negative", "", {"student.hidden=[800,-5]"}, "student.hidden"},
        BadCase{"section_as_value", "train: 5\n", {}, "train"},
        BadCase{"unknown_method", "", {"distill.method=magic"}, "distill.method"},
        BadCase{"reverse_kl_label", "", {"distill.method=reverse_kl", "distill.teacher_access=label"}, "distill.teacher_access"},
        BadCase{"mse_topk", "", {"distill.method=mse_logits", "distill.teacher_access=topk"}, "distill.teacher_access"},
        BadCase{"unknown_access", "", {"distill.teacher_access=oracle"}, "distill.teacher_access"},
        BadCase{"topk_zero", "", {"distill.teacher_access=topk", "distill.topk=0"}, "distill.topk"},
        BadCase{"unknown_optimizer", "", {"train.optimizer=rmsprop9"}, "train.optimizer"},
        BadCase{"unknown_arch", "", {"student.arch=transformer"}, "student.arch"},
        BadCase{"bad_device", "", {"device=gpu"}, "device"},
        BadCase{"bad_threads", "", {"threads=-3"}, "threads"},
        BadCase{"bad_teacher_source", "", {"teacher.source=run:abc"}, "teacher.source"},
        BadCase{"dropout_one", "", {"teacher.dropout=1"}, "teacher.dropout"},
        BadCase{"even_kernel", "", {"teacher.arch=cnn", "teacher.kernel=4"}, "teacher.kernel"},
        BadCase{"limit_negative", "", {"dataset.limit_train=-5"}, "dataset.limit_train"},
        BadCase{"idx_without_path", "", {"dataset.name=idx"}, "dataset.path"},
        BadCase{"augment_csv", "", {"dataset.name=csv", "dataset.path=x.csv", "dataset.augment=true"}, "dataset.augment"},
        BadCase{"nesterov_bool", "train: {nesterov: perhaps}\n", {}, "train.nesterov"},
        BadCase{"not_yaml", "train: [unclosed\n", {}, ""},
        BadCase{"top_level_list", "- 1\n- 2\n", {}, ""}),
    [](const auto& info) { return std::string(info.param.name); });

// yaml-cpp's own depth guard said only "bad file" (issue 18); past 32 levels the message says
// what is wrong, where, and the limit, whether yaml-cpp gave up or not.
TEST(Config, DeepNestingSaysItIsNestedTooDeepWithTheLimit) {
  std::string block, flow_maps;
  for (int i = 0; i < 600; ++i) block += std::string(2 * i, ' ') + "a:\n";
  for (int i = 0; i < 3000; ++i) flow_maps += "{a: ";
  const std::vector<std::string> texts = {
      "name: " + std::string(40, '[') + std::string(40, ']') + "\n",
      "name: " + std::string(5000, '[') + std::string(5000, ']') + "\n",
      "train: " + flow_maps + "1" + std::string(3000, '}') + "\n",
      block,
  };
  for (const auto& text : texts) {
    const auto issues = issuesFor(text);
    ASSERT_EQ(issues.size(), 1u) << text.substr(0, 40);
    EXPECT_NE(issues[0].message.find("config: nested too deep at line "), std::string::npos) << issues[0].message;
    EXPECT_NE(issues[0].message.find("at most 32 levels of lists and mappings"), std::string::npos) << issues[0].message;
  }
  EXPECT_EQ(issuesFor(texts[0])[0].message,
            "config: nested too deep at line 1, column 38: at most 32 levels of lists and mappings (a config needs 3)");
}

// A name that is not UTF-8 made list --json, show, export and compare --json fail for the
// whole database: refused at the door, naming the key.
TEST(Config, ARunNameMustBeValidUtf8) {
  const auto from_override = issuesFor("", {"name=caf\xE9 run"});
  ASSERT_TRUE(mentions(from_override, "name")) << ConfigError(from_override).what();
  EXPECT_EQ(ConfigError(from_override).issues()[0].message, "the run name is not valid UTF-8 (byte 0xe9 at offset 3)");
  EXPECT_TRUE(mentions(issuesFor("name: \"bad \xFF\xFE\"\n"), "name"));
  EXPECT_EQ(parseConfig("name: \"caf\xC3\xA9 \xE8\x92\xB8\xE7\x95\x99\"\n").name, "caf\xC3\xA9 \xE8\x92\xB8\xE7\x95\x99");
}

// `distill mirror` takes a TorchScript file by its bare path; student.source takes it too.
TEST(Config, StudentSourceTakesATorchScriptFileWithOrWithoutItsPrefix) {
  EXPECT_EQ(parseConfigWithOverrides("", {"student.source=torchscript:/models/s.pt"}).student_source,
            "torchscript:/models/s.pt");
  EXPECT_EQ(parseConfigWithOverrides("", {"student.source=/models/s.pt"}).student_source, "torchscript:/models/s.pt");
  EXPECT_EQ(parseConfig("student: {source: init}\n").student_source, "init");
  EXPECT_TRUE(mentions(issuesFor("", {"student.source=torchscript:"}), "student.source"));
}

TEST(Config, ReportsEveryProblemAtOnce) {
  const auto issues = issuesFor("", {"distill.alpha=2", "train.batch_size=-1", "distill.temperature=0"});
  EXPECT_TRUE(mentions(issues, "distill.alpha"));
  EXPECT_TRUE(mentions(issues, "train.batch_size"));
  EXPECT_TRUE(mentions(issues, "distill.temperature"));
}

TEST(Config, AlphaBoundsAreInclusive) {
  EXPECT_NO_THROW(parseConfigWithOverrides("", {"distill.alpha=0"}));
  EXPECT_NO_THROW(parseConfigWithOverrides("", {"distill.alpha=1"}));
}

TEST(Config, DescribeNamesArchitecturesAndMethod) {
  EXPECT_EQ(describe(defaultConfig()), "mlp1200x1200->mlp800x800 kd T4 a0.9");
  // A GPT by its layers and width (its hidden widths mean nothing to it).
  const auto lm = parseConfigWithOverrides("", {"task=lm", "teacher.arch=gpt", "teacher.layers=4", "teacher.d_model=256",
                                                "student.arch=gpt", "student.layers=2", "student.heads=2",
                                                "student.d_model=128", "distill.temperature=2"});
  EXPECT_EQ(describe(lm), "gpt4x256->gpt2x128 kd T2 a0.9");
}

TEST(Config, TheFormerCacheFlagReadsAsTeacherCache) {
  // Stored runs' configs and older files wrote distill.cache_teacher_logits (until issue 21).
  EXPECT_EQ(parseConfig("distill:\n  cache_teacher_logits: false\n").distill.teacher_cache, "off");
  EXPECT_EQ(parseConfig("distill:\n  cache_teacher_logits: true\n").distill.teacher_cache, "auto");
  EXPECT_EQ(parseConfig("distill:\n  cache_teacher_logits: true\n  teacher_cache: topk\n").distill.teacher_cache, "topk");
  EXPECT_EQ(parseConfigWithOverrides("", {"distill.cache_teacher_logits=false"}).distill.teacher_cache, "off");
  EXPECT_EQ(parseConfigWithOverrides("distill: {teacher_cache: off}", {"distill.cache_teacher_logits=true"})
                .distill.teacher_cache,
            "auto");
  // Written back in the one form.
  const std::string yaml = toYaml(parseConfig("distill:\n  cache_teacher_logits: false\n"));
  EXPECT_EQ(yaml.find("cache_teacher_logits"), std::string::npos) << yaml;
  EXPECT_EQ(parseConfig(yaml).distill.teacher_cache, "off");
  // Both, disagreeing; or not a flag.
  EXPECT_TRUE(mentions(issuesFor("distill:\n  cache_teacher_logits: false\n  teacher_cache: topk\n"),
                       "distill.teacher_cache"));
  EXPECT_TRUE(mentions(issuesFor("distill:\n  cache_teacher_logits: maybe\n"), "distill.cache_teacher_logits"));
  EXPECT_TRUE(mentions(issuesFor("", {"distill.cache_teacher_logits=maybe"}), "distill.cache_teacher_logits"));
}

TEST(Config, TheTopkTeacherCacheIsRefusedForMethodsThatNeedLogits) {
  EXPECT_TRUE(mentions(issuesFor("", {"distill.teacher_cache=topk", "distill.method=mse_logits"}), "distill.teacher_cache"));
  EXPECT_TRUE(mentions(issuesFor("", {"distill.teacher_cache=topk", "distill.method=dkd"}), "distill.teacher_cache"));
  EXPECT_NO_THROW(parseConfigWithOverrides("", {"distill.teacher_cache=topk", "distill.method=jsd"}));
  EXPECT_TRUE(mentions(issuesFor("", {"distill.teacher_cache=disk"}), "distill.teacher_cache"));
  EXPECT_TRUE(mentions(issuesFor("", {"distill.teacher_cache_k=0"}), "distill.teacher_cache_k"));
}

}  // namespace
}  // namespace distill
