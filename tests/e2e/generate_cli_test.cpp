// `distill generate` end to end: a tiny language-model run trained on a generated corpus, its
// models continuing a prompt (greedy, with and without the KV cache), and the errors for a run
// of another task, a run without checkpoints and a prompt longer than the context.
#include <gtest/gtest.h>

#include <fstream>

#include "core/store/run_store.h"
#include "support/cli_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::CommandResult;
using testing::distillCli;
using testing::quote;
using testing::TempDir;

class GenerateCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    db_ = dir_->file("runs.db");
    std::filesystem::create_directories(dir_->path() / "corpus");
    std::ofstream out(dir_->path() / "corpus" / "tiny");
    const char* animals[] = {"cat", "dog", "owl", "fox"};
    const char* places[] = {"mat", "log", "hill", "barn"};
    for (int i = 0; i < 120; ++i) out << "the " << animals[i % 4] << " sat on the " << places[(i / 4) % 4] << ".\n%\n";
    out.close();
    // Run 1: a tiny lm run (the teacher learns the corpus; the student gets one epoch).
    trained_ = new CommandResult(distillCli(
        "run -q --db " + quote(db_) + " --set task=lm --set lm.corpus=" + quote((dir_->path() / "corpus").string()) +
        " --set lm.context=16 --set teacher.arch=gpt --set teacher.layers=1 --set teacher.heads=2"
        " --set teacher.d_model=32 --set teacher.dropout=0 --set teacher.epochs=6 --set student.arch=gpt"
        " --set student.layers=1 --set student.heads=1 --set student.d_model=16 --set train.epochs=1"
        " --set train.batch_size=16 --set train.optimizer=adamw --set train.lr=0.01 --set seed=1"));
    if (trained_->exit_code != 0) return;
    // Run 2: an image run; run 3: the lm run's config stored again, without checkpoints.
    RunStore store(db_);
    store.createRun(NewRun{"image", "seed: 0\n", {}, std::nullopt});
    store.createRun(NewRun{"no checkpoints", store.getRun(1)->config_yaml, store.getRun(1)->params, std::nullopt});
  }
  static void TearDownTestSuite() {
    delete trained_;
    delete dir_;
  }
  void SetUp() override { ASSERT_EQ(trained_->exit_code, 0) << trained_->err; }

  static CommandResult generate(const std::string& args) { return distillCli("generate " + args + " --db " + quote(db_)); }

  static TempDir* dir_;
  static std::string db_;
  static CommandResult* trained_;
};
TempDir* GenerateCli::dir_ = nullptr;
std::string GenerateCli::db_;
CommandResult* GenerateCli::trained_ = nullptr;

TEST_F(GenerateCli, ContinuesThePromptGreedilyWithAndWithoutTheCache) {
  const auto student = generate("1 --prompt 'the c' --max-tokens 10 --temperature 0");
  ASSERT_EQ(student.exit_code, 0) << student.err;
  EXPECT_EQ(student.out.rfind("the c", 0), 0u) << student.out;
  EXPECT_NE(student.err.find("student of run 1 (GPT 1 layers x 16"), std::string::npos) << student.err;
  EXPECT_NE(student.err.find("10 tokens in"), std::string::npos) << student.err;

  // Every animal of the corpus that starts with c is a cat.
  const auto teacher = generate("1 --role teacher --prompt 'the c' --max-tokens 10 --temperature 0");
  ASSERT_EQ(teacher.exit_code, 0) << teacher.err;
  EXPECT_EQ(teacher.out.rfind("the ca", 0), 0u) << teacher.out;
  const auto uncached = generate("1 --role teacher --prompt 'the c' --max-tokens 10 --temperature 0 --no-cache");
  ASSERT_EQ(uncached.exit_code, 0) << uncached.err;
  EXPECT_EQ(uncached.out, teacher.out);
  EXPECT_NE(uncached.err.find("no cache"), std::string::npos) << uncached.err;
}

TEST_F(GenerateCli, SaysWhenTheContextStoppedIt) {
  const auto result = generate("1 --prompt 'the c' --max-tokens 40 --seed 3");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // 16 positions: the prompt's 5, 11 fed back, and the token after the last: 12 new tokens.
  EXPECT_NE(result.err.find("stopped after 12 of 40 tokens: the model's context of 16 tokens is full"),
            std::string::npos)
      << result.err;
}

TEST_F(GenerateCli, BadRunsAndOptionsExitWithTwoAndNameTheCulprit) {
  const struct {
    std::string args, message;
  } cases[] = {
      {"2 --prompt a", "error: RUN: run 2 is an image run; generate needs task: lm"},
      {"3 --prompt a", "error: RUN: run 3 has no student checkpoint"},
      {"9 --prompt a", "error: database: run 9 not found"},
      {"1 --prompt 'the cat sat on the mat.'", "error: --prompt: the prompt has 23 tokens; the model's context is 16"},
      {"1 --temperature -1", "error: --temperature: -1 is negative"},
      {"1 --top-p 1.5", "error: --top-p: 1.5 is not in (0, 1]"},
      {"1 --max-tokens 0", "error: --max-tokens: 0 is too small"},
      {"1 --role coach", "--role"},
  };
  for (const auto& c : cases) {
    const auto result = generate(c.args);
    EXPECT_EQ(result.exit_code, 2) << c.args << "\n" << result.err;
    EXPECT_NE(result.err.find(c.message), std::string::npos) << c.args << "\n" << result.err;
    EXPECT_TRUE(result.out.empty()) << c.args << "\n" << result.out;
  }
}

}  // namespace
}  // namespace distill
