// Sequence-level and on-policy distillation of the language-model task, and the texts both
// models write at each evaluation: who wrote a training batch, which of its targets count, what
// is stored, and what the config refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "core/errors.h"
#include "core/metrics/metric_keys.h"
#include "core/tasks/lm/corpus.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/lm/lm_generation.h"
#include "core/tasks/lm/lm_metrics.h"
#include "support/lm_test_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::lmConfig;
using testing::TempDir;
using testing::writeCorpus;

// Collects what a run reports of its generated texts.
class TextCollector : public TrainingObserver {
 public:
  void onGenerated(const std::vector<GeneratedText>& texts) override { all.insert(all.end(), texts.begin(), texts.end()); }
  std::vector<GeneratedText> of(const std::string& purpose, const std::string& role) const {
    std::vector<GeneratedText> out;
    for (const auto& t : all)
      if (t.purpose == purpose && t.role == role) out.push_back(t);
    return out;
  }
  std::vector<GeneratedText> all;
};

struct GeneratedRun {
  RunResult result;
  RunRecord run;
  TextCollector texts;
  std::map<std::string, std::vector<MetricPoint>> series;
};

GeneratedRun runWithTexts(const std::filesystem::path& dir, const ExperimentConfig& config) {
  GeneratedRun r;
  RunControl control;
  ExperimentRunner runner(config, (dir / "lm.db").string(), r.texts, control);
  const int64_t id = runner.createRun();
  r.result = runner.run();
  RunStore store((dir / "lm.db").string());
  r.run = *store.getRun(id);
  for (const auto& point : store.metrics(id)) r.series[point.key].push_back(point);
  return r;
}

// Short prompts and completions that fit the tests' 16-token context.
std::vector<std::string> generated(std::vector<std::string> more) {
  std::vector<std::string> overrides = {"generation.prompt_tokens=4", "generation.new_tokens=12",
                                        "generation.eval_prompts=2", "train.epochs=2"};
  overrides.insert(overrides.end(), more.begin(), more.end());
  return overrides;
}

TEST(LmGeneration, SequenceLevelKdWithTextAccessLearnsOnlyFromTheTeachersCompletions) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto r = runWithTexts(dir.path(), lmConfig(corpus, generated({"generation.sequence_kd=true",
                                                                      "distill.teacher_access=text"})));
  ASSERT_EQ(r.result.outcome, RunOutcome::Completed) << r.result.error;
  // Every student batch was the teacher's writing: one stored text per row, none the student's.
  const auto train_teacher = r.texts.of("train", "teacher");
  EXPECT_TRUE(r.texts.of("train", "student").empty());
  const int64_t steps = r.series.at(metric_key::kStudentTrainLoss).back().step;
  ASSERT_GT(steps, 0);
  EXPECT_GE(static_cast<int64_t>(train_teacher.size()), steps * 16 - 16);  // full batches of 16 but the last
  for (const auto& text : train_teacher) {
    EXPECT_FALSE(text.prompt.empty());
    EXPECT_EQ(text.phase, "student");
    EXPECT_FALSE(text.completion.empty());
  }
  // Text access sees no distribution of the teacher's: the KD term is 0, cross-entropy on its text.
  EXPECT_EQ(r.run.final_metrics.at(metric_key::kKdLoss), 0.0);
  EXPECT_GT(r.run.final_metrics.at(metric_key::kCeLoss), 0.0);
  // The student came to write like its teacher.
  const auto& agreement = r.series.at(metric_key::kTokenAgreement);
  EXPECT_GT(agreement.back().value, agreement.front().value + 0.2);
}

TEST(LmGeneration, OnPolicyBatchesAreTheStudentsOwnTextScoredByTheTeacher) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto r = runWithTexts(dir.path(), lmConfig(corpus, generated({"generation.on_policy=1", "distill.alpha=1",
                                                                      "distill.method=jsd", "distill.jsd_beta=0.5"})));
  ASSERT_EQ(r.result.outcome, RunOutcome::Completed) << r.result.error;
  EXPECT_FALSE(r.texts.of("train", "student").empty());
  EXPECT_TRUE(r.texts.of("train", "teacher").empty());
  EXPECT_GT(r.run.final_metrics.at(metric_key::kKdLoss), 0.0);
  const auto& kl = r.series.at(metric_key::kTokenKl);
  EXPECT_LT(kl.back().value, 0.5 * kl.front().value);
}

TEST(LmGeneration, AMixedLambdaDrawsTeacherAndStudentBatches) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto r = runWithTexts(dir.path(), lmConfig(corpus, generated({"generation.on_policy=0.5",
                                                                      "generation.sequence_kd=true", "train.epochs=1"})));
  ASSERT_EQ(r.result.outcome, RunOutcome::Completed) << r.result.error;
  EXPECT_FALSE(r.texts.of("train", "student").empty());
  EXPECT_FALSE(r.texts.of("train", "teacher").empty());
}

TEST(LmGeneration, EveryEvaluationStoresBothModelsCompletionsWithTokenProbabilities) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto r = runWithTexts(dir.path(), lmConfig(corpus, generated({"teacher.epochs=2", "train.epochs=1"})));
  ASSERT_EQ(r.result.outcome, RunOutcome::Completed) << r.result.error;
  const auto student = r.texts.of("eval", "student");
  const auto teacher = r.texts.of("eval", "teacher");
  // 2 prompts x (greedy, sampled) at each evaluation: the student's at step 0 and the end.
  std::set<int64_t> steps;
  for (const auto& t : student) steps.insert(t.step);
  EXPECT_EQ(steps.size(), 2u);
  EXPECT_EQ(student.size(), 2 * 2 * steps.size());
  EXPECT_EQ(teacher.size(), 2u * 2u * 2u);  // two teacher epochs
  for (const auto& t : student) {
    EXPECT_TRUE(t.decoding == "greedy" || t.decoding == "sampled");
    // Each token with the student's probability and the teacher's.
    EXPECT_EQ(t.tokens_json.front(), '[');
    EXPECT_NE(t.tokens_json.find("\"p\":"), std::string::npos);
    EXPECT_NE(t.tokens_json.find("\"q\":"), std::string::npos);
    EXPECT_EQ(t.prompt.size(), 4u);
  }
  // The same prompts at every evaluation, for both models.
  std::map<int64_t, std::set<std::string>> prompts;
  for (const auto& t : student) prompts[t.prompt_index].insert(t.prompt);
  for (const auto& t : teacher) prompts[t.prompt_index].insert(t.prompt);
  EXPECT_EQ(prompts.size(), 2u);
  for (const auto& [index, texts] : prompts) EXPECT_EQ(texts.size(), 1u) << "prompt " << index;
}

TEST(LmGeneration, AnInstructionCorpusIsEvaluatedOnItsValidationPromptsWhole) {
  TempDir dir;
  std::ofstream out(dir.path() / "pairs.jsonl");
  const char* names[] = {"ann", "bob", "cy", "dee"};
  for (int i = 0; i < 60; ++i)
    out << "{\"prompt\": \"greet " << names[i % 4] << i << "\", \"response\": \"hi " << names[i % 4] << "\"}\n";
  out.close();
  const auto r = runWithTexts(dir.path(), lmConfig((dir.path() / "pairs.jsonl").string(),
                                                   {"lm.context=48", "generation.eval_prompts=3", "teacher.epochs=1", "train.epochs=1"}));
  ASSERT_EQ(r.result.outcome, RunOutcome::Completed) << r.result.error;
  const auto student = r.texts.of("eval", "student");
  ASSERT_FALSE(student.empty());
  for (const auto& t : student) {
    // A whole prompt part: "greet <name><i>" and the newline that joins it to the response.
    EXPECT_EQ(t.prompt.rfind("greet ", 0), 0u) << t.prompt;
    EXPECT_EQ(t.prompt.back(), '\n') << t.prompt;
  }
}

// A model that always predicts the token after its input's last one, and the separator after
// byte 'c': its completions of "ab" are "cd..." for no separator, and end at 0 after "c".
class CountingModel : public ModelImpl {
 public:
  explicit CountingModel(int64_t stop_after) : stop_after_(stop_after) { register_parameter("w", torch::zeros({1})); }
  torch::Tensor forward(torch::Tensor inputs) override {
    auto next = (inputs + 1).remainder(256);
    next = torch::where(inputs == stop_after_, torch::zeros_like(next), next);
    return torch::one_hot(next, 256).to(torch::kFloat32) * 50.0;
  }
  std::string summary() const override { return "counting"; }

 private:
  int64_t stop_after_;
};

class FixedBlocks : public TrainSplit {
 public:
  int64_t size() const override { return 2; }
  torch::Device indexDevice() const override { return torch::kCPU; }
  Batch batch(const torch::Tensor& indices) override {
    Batch b;
    b.inputs = torch::tensor({'a', 'b', 'x', 'y'}, torch::kInt64).unsqueeze(0).repeat({indices.size(0), 1});
    b.targets = b.inputs;
    b.units = b.inputs.numel();
    return b;
  }
  bool fixedInputs() const override { return true; }
};

TEST(LmGeneration, OnlyCompletionTargetsCountAndTheSeparatorEndsACompletion) {
  GenerationConfig generation;
  generation.sequence_kd = true;
  generation.prompt_tokens = 2;
  generation.new_tokens = 4;
  generation.temperature = 0.0;
  CountingModel teacher('c'), student('z');
  const auto split = makeGeneratingSplit(std::make_unique<FixedBlocks>(), generation,
                                         Tokenizer::build("byte", Documents{}), /*context=*/16, /*seed=*/1);
  split->attachModels(&teacher, &student);
  const auto batch = split->batch(torch::tensor({0}, torch::kInt64));
  // "ab" -> "c", separator, then whatever follows: the separator is learned, the rest is not.
  ASSERT_EQ(batch.inputs.size(1), 2 + 4 - 1);
  EXPECT_EQ(batch.targets[0][1].item<int64_t>(), 'c');
  EXPECT_EQ(batch.targets[0][2].item<int64_t>(), Tokenizer::kSeparator);
  const auto mask = batch.mask[0];
  EXPECT_FALSE(mask[0].item<bool>());  // predicts 'b', a prompt token
  EXPECT_TRUE(mask[1].item<bool>());   // 'c'
  EXPECT_TRUE(mask[2].item<bool>());   // the separator
  EXPECT_FALSE(mask[3].item<bool>());  // after it
  EXPECT_FALSE(mask[4].item<bool>());
  EXPECT_EQ(batch.units, 2);
  ASSERT_EQ(batch.texts.size(), 1u);
  EXPECT_EQ(batch.texts[0].prompt, "ab");
  EXPECT_EQ(batch.texts[0].role, "teacher");
  // In the teacher phase (no student) the batches are the corpus.
  split->attachModels(&teacher, nullptr);
  EXPECT_TRUE(split->batch(torch::tensor({0}, torch::kInt64)).texts.empty());
}

TEST(LmGeneration, AResumedSplitDrawsTheSameBatchesAndText) {
  GenerationConfig generation;
  generation.on_policy = 0.5;
  generation.sequence_kd = true;
  generation.prompt_tokens = 2;
  generation.new_tokens = 6;
  GptConfig config;
  config.vocab = 256, config.context = 16, config.layers = 1, config.heads = 2, config.d_model = 16;
  torch::manual_seed(3);
  auto teacher = makeGpt(config), student = makeGpt(config);
  auto fresh = [&] {
    auto split = makeGeneratingSplit(std::make_unique<FixedBlocks>(), generation, Tokenizer::build("byte", Documents{}),
                                     16, /*seed=*/9);
    split->attachModels(teacher.get(), student.get());
    return split;
  };
  const auto a = fresh();
  a->batch(torch::tensor({0, 1}, torch::kInt64));  // one batch in, then a checkpoint
  torch::serialize::OutputArchive saved;
  a->save(saved);
  std::ostringstream bytes;
  saved.save_to(bytes);
  std::vector<torch::Tensor> expected;
  std::vector<std::string> expected_roles;
  for (int i = 0; i < 4; ++i) {
    const auto b = a->batch(torch::tensor({0, 1}, torch::kInt64));
    expected.push_back(b.inputs);
    expected_roles.push_back(b.texts.front().role);
  }
  const auto b = fresh();
  torch::serialize::InputArchive loaded;
  std::istringstream in(bytes.str());
  loaded.load_from(in);
  b->load(loaded);
  for (int i = 0; i < 4; ++i) {
    const auto batch = b->batch(torch::tensor({0, 1}, torch::kInt64));
    EXPECT_TRUE(torch::equal(batch.inputs, expected[static_cast<size_t>(i)])) << "batch " << i;
    EXPECT_EQ(batch.texts.front().role, expected_roles[static_cast<size_t>(i)]);
  }
}

TEST(LmGeneration, TheConfigRefusesWhatCannotWork) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  auto messageOf = [&](std::vector<std::string> overrides) {
    try {
      lmConfig(corpus, overrides);
    } catch (const ConfigError& e) {
      return e.issues().front().key + ": " + e.issues().front().message;
    }
    return std::string("accepted");
  };
  EXPECT_NE(messageOf({"distill.teacher_access=text"}).find("generation.sequence_kd"), std::string::npos);
  EXPECT_EQ(messageOf({"distill.teacher_access=text", "generation.sequence_kd=true", "generation.on_policy=0.5",
                       "generation.new_tokens=8"})
                .substr(0, 20),
            "generation.on_policy");
  // A prompt and its completion must fit the context (16 here).
  const auto too_long = messageOf({"generation.sequence_kd=true", "generation.prompt_tokens=8", "generation.new_tokens=9"});
  EXPECT_NE(too_long.find("generation.new_tokens"), std::string::npos) << too_long;
  EXPECT_NE(too_long.find("lm.context is 16"), std::string::npos) << too_long;
  // Text access is a language model's.
  try {
    parseConfigWithOverrides("", {"distill.teacher_access=text"}, "image test");
    FAIL() << "text access was accepted for the image task";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.issues().front().key, "distill.teacher_access");
  }
  // Top-k larger than the vocabulary is refused when the task knows the vocabulary.
  TrainingObserver silent;
  RunControl control;
  try {
    ExperimentRunner runner(lmConfig(corpus, {"distill.teacher_access=topk", "distill.topk=300"}),
                            (dir.path() / "x.db").string(), silent, control);
    FAIL() << "k = 300 was accepted for 256 byte tokens";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.issues().front().key, "distill.topk");
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace distill
