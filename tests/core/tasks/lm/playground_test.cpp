// The Playground's core (core/tasks/lm/playground.h): a prompt continued by both models of a
// stored tiny lm run, each token's probability under its writer and under the other model
// checked against the models' own softmax, greedy text against generate(), the same seed giving
// the same text, an empty prompt, and the errors for bad options, runs and prompts.
#include "core/tasks/lm/playground.h"

#include <gtest/gtest.h>

#include <torch/torch.h>

#include "core/errors.h"
#include "core/store/run_store.h"
#include "core/tasks/lm/generate.h"
#include "core/tasks/lm/stored_model.h"
#include "support/lm_test_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::lmConfig;
using testing::TempDir;
using testing::writeCorpus;

// One tiny run for the whole suite: a second of training, then only reads.
class Playground : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto corpus = writeCorpus(dir_->path() / "corpus");
    const auto finished = testing::runLm(dir_->path(), lmConfig(corpus, {"teacher.epochs=2", "train.epochs=1"}));
    ASSERT_EQ(finished.result.outcome, RunOutcome::Completed) << finished.result.error;
    run_id_ = finished.run.id;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string db() { return (dir_->path() / "lm.db").string(); }

  // The probability `model` gives `token` after `context` (ids), computed here from its logits.
  static double probability(CausalLmImpl& model, const std::vector<int64_t>& context, int64_t token) {
    torch::NoGradGuard no_grad;
    model.eval();
    const auto logits = model.forward(torch::tensor(context, torch::kInt64).unsqueeze(0));
    return torch::softmax(logits[0][-1], -1)[token].item<double>();
  }

  static TempDir* dir_;
  static int64_t run_id_;
};

TempDir* Playground::dir_ = nullptr;
int64_t Playground::run_id_ = 0;

TEST_F(Playground, BothModelsContinueThePromptWithEachTokensProbabilityUnderBoth) {
  PlaygroundOptions options;
  options.temperature = 0.0;  // greedy: comparable with generate()
  options.max_tokens = 8;
  const PlaygroundResult result = completeWithBoth(db(), run_id_, "the ", options);
  EXPECT_EQ(result.run_id, run_id_);
  EXPECT_EQ(result.prompt, "the ");
  EXPECT_FALSE(result.prompt_changed);
  ASSERT_EQ(result.completions.size(), 2u);
  EXPECT_EQ(result.completions[0].role, "teacher");
  EXPECT_EQ(result.completions[1].role, "student");

  RunStore store(db());
  StoredLm teacher = loadStoredLm(store, run_id_, "teacher");
  StoredLm student = loadStoredLm(store, run_id_, "student");
  const std::vector<int64_t> prompt = teacher.tokenizer.encode("the ");
  SamplingOptions greedy;
  greedy.temperature = 0.0;
  greedy.max_tokens = 8;
  for (const auto& completion : result.completions) {
    const bool is_teacher = completion.role == "teacher";
    CausalLmImpl& writer = is_teacher ? *teacher.model : *student.model;
    CausalLmImpl& other = is_teacher ? *student.model : *teacher.model;
    const auto expected = generate(writer, prompt, greedy);
    EXPECT_EQ(completion.text, teacher.tokenizer.decode(expected)) << completion.role;
    ASSERT_EQ(completion.tokens.size(), 8u) << completion.role;
    EXPECT_FALSE(completion.context_full);
    std::string joined;
    std::vector<int64_t> context = prompt;
    for (size_t k = 0; k < completion.tokens.size(); ++k) {
      const auto& token = completion.tokens[k];
      joined += token.text;
      EXPECT_NEAR(token.p, probability(writer, context, expected[k]), 1e-5) << completion.role << " token " << k;
      EXPECT_NEAR(token.q, probability(other, context, expected[k]), 1e-5) << completion.role << " token " << k;
      EXPECT_GT(token.p, 0.0);
      EXPECT_LE(token.p, 1.0);
      context.push_back(expected[k]);
    }
    EXPECT_EQ(joined, completion.text);
  }
}

TEST_F(Playground, ASeedGivesTheSameSampledTextAndAnEmptyPromptStartsADocument) {
  PlaygroundOptions options;
  options.temperature = 1.0;
  options.top_p = 0.9;
  options.max_tokens = 6;
  options.seed = 5;
  const auto first = completeWithBoth(db(), run_id_, "", options);
  const auto again = completeWithBoth(db(), run_id_, "", options);
  ASSERT_EQ(first.completions.size(), 2u);
  EXPECT_EQ(first.prompt, "");
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(first.completions[i].text, again.completions[i].text);
    EXPECT_EQ(first.completions[i].tokens.size(), 6u);
  }
}

TEST_F(Playground, TheContextLimitsTheCompletion) {
  PlaygroundOptions options;
  options.max_tokens = 40;  // the context is 16
  const auto result = completeWithBoth(db(), run_id_, "the cat sat", options);
  for (const auto& completion : result.completions) {
    EXPECT_TRUE(completion.context_full);
    EXPECT_EQ(completion.tokens.size(), 16u - 11u + 1u);
  }
}

// The Stop flag is read before every token: set, no token is drawn and nothing more begins;
// clear, it changes nothing. (The window's test stops a long completion in its middle.)
TEST_F(Playground, AStopFlagEndsGenerationBeforeItsNextToken) {
  std::atomic<bool> stop{true};
  PlaygroundOptions options;
  options.max_tokens = 8;
  options.stop = &stop;
  const auto stopped = completeWithBoth(db(), run_id_, "the cat", options);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_TRUE(stopped.completions.empty());

  StoredLm teacher;
  {
    RunStore store(db(), RunStore::Mode::ReadOnly);
    teacher = loadStoredLm(store, run_id_, "teacher");
  }
  SamplingOptions sampling;
  sampling.max_tokens = 8;
  sampling.stop = &stop;
  EXPECT_TRUE(generate(*teacher.model, {1, 2, 3}, sampling).empty());
  stop = false;
  EXPECT_EQ(generate(*teacher.model, {1, 2, 3}, sampling).size(), 8u);
  const auto full = completeWithBoth(db(), run_id_, "the cat", options);
  EXPECT_FALSE(full.stopped);
  ASSERT_EQ(full.completions.size(), 2u);
  for (const auto& completion : full.completions) {
    EXPECT_FALSE(completion.stopped);
    EXPECT_EQ(completion.tokens.size(), 8u);
  }
}

TEST_F(Playground, BadOptionsRunsAndPromptsAreNamed) {
  PlaygroundOptions bad;
  bad.top_p = 0.0;
  try {
    completeWithBoth(db(), run_id_, "the", bad);
    FAIL() << "top_p 0 accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("top_p"), std::string::npos) << e.what();
  }
  EXPECT_THROW(completeWithBoth(db(), 999, "the", {}), StoreError);
  EXPECT_THROW(completeWithBoth((dir_->path() / "missing.db").string(), run_id_, "the", {}), std::exception);
  try {
    completeWithBoth(db(), run_id_, std::string(20, 'a'), {});
    FAIL() << "a prompt longer than the context accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
  }
  int64_t image = 0;
  {
    RunStore store(db());
    image = store.createRun({"image run", "name: x\n", {{"task", "image"}}, std::nullopt});
  }
  try {
    completeWithBoth(db(), image, "the", {});
    FAIL() << "an image run accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("task: lm"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace distill
