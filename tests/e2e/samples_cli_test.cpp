// `distill samples` end to end, on runs written into a temporary store directly (no training):
// a language-model run's evaluation texts by step, phase, role and purpose, as text and JSON,
// and the messages for an image run, a run without texts and a step without texts.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/store/run_store.h"
#include "support/cli_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::CommandResult;
using testing::distillCli;
using testing::quote;
using testing::TempDir;

GeneratedText text(const std::string& phase, int64_t step, const std::string& role, const std::string& decoding,
                   int64_t prompt_index, const std::string& completion, const std::string& purpose = "eval") {
  GeneratedText t;
  t.step = step;
  t.epoch = step / 100.0;
  t.phase = phase;
  t.purpose = purpose;
  t.role = role;
  t.decoding = decoding;
  t.prompt_index = prompt_index;
  t.prompt = prompt_index == 0 ? "the cat" : "the dog";
  t.completion = completion;
  t.tokens_json = R"([{"t":" s","p":0.75,"q":0.5}])";
  return t;
}

class SamplesCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    db_ = dir_->file("runs.db");
    RunStore store(db_);
    // Run 1: a language-model run with texts at a teacher-phase evaluation and two of the
    // student phase, written student first (the output puts the teacher first).
    const int64_t lm = store.createRun(NewRun{"tiny lm", "task: lm\n", {{"task", "lm"}}, std::nullopt});
    store.appendGenerated(lm, {text("teacher", 50, "teacher", "greedy", 0, " sat.")});
    for (int64_t step : {100, 200}) {
      std::vector<GeneratedText> texts;
      for (int64_t prompt : {0, 1})
        for (const char* role : {"student", "teacher"})
          for (const char* decoding : {"sampled", "greedy"})
            texts.push_back(text("student", step, role, decoding, prompt,
                                 " " + std::string(role) + "-" + decoding + "-" + std::to_string(step) + "-" + std::to_string(prompt)));
      store.appendGenerated(lm, texts);
    }
    store.appendGenerated(lm, {text("student", 200, "student", "greedy", 0, "line one\nline two")});
    store.appendGenerated(lm, {text("student", 150, "student", "sampled", 3, " a training row", "train")});
    store.finishRun(lm, RunStatus::Completed);
    // Run 2: an image run (no task key: stored before tasks existed); run 3: an lm run without texts.
    store.createRun(NewRun{"image", "seed: 0\n", {}, std::nullopt});
    store.createRun(NewRun{"lm without texts", "task: lm\n", {{"task", "lm"}}, std::nullopt});
  }
  static void TearDownTestSuite() { delete dir_; }

  static CommandResult samples(const std::string& args) { return distillCli("samples " + args + " --db " + quote(db_)); }

  static TempDir* dir_;
  static std::string db_;
};
TempDir* SamplesCli::dir_ = nullptr;
std::string SamplesCli::db_;

// Position of `needle` in `text` after `from`; npos when absent (so that an order check fails).
size_t after(const std::string& text, const std::string& needle, size_t from) {
  return from == std::string::npos ? std::string::npos : text.find(needle, from);
}

TEST_F(SamplesCli, PrintsEachPromptWithTheTeachersAndStudentsCompletionsPerEvaluation) {
  const auto result = samples("1");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string& out = result.out;
  EXPECT_EQ(out.rfind("run 1: tiny lm\n", 0), 0u) << out;
  // Evaluations in the order written; at each, a prompt, then teacher and student, greedy first.
  size_t at = after(out, "teacher phase, step 50 (epoch 0.50)", 0);
  at = after(out, "student phase, step 100 (epoch 1.00)", at);
  at = after(out, "student phase, step 200 (epoch 2.00)", at);
  at = after(out, "  prompt 0: \"the cat\"\n", at);
  at = after(out, "teacher  greedy   \" teacher-greedy-200-0\"", at);
  at = after(out, "teacher  sampled  \" teacher-sampled-200-0\"", at);
  at = after(out, "student  greedy   \" student-greedy-200-0\"", at);
  at = after(out, "student  sampled  \" student-sampled-200-0\"", at);
  at = after(out, "  prompt 1: \"the dog\"\n", at);
  at = after(out, "teacher  greedy   \" teacher-greedy-200-1\"", at);
  EXPECT_NE(at, std::string::npos) << out;
  // A completion stays on its line: its newline is written \n.
  EXPECT_NE(out.find("\"line one\\nline two\""), std::string::npos) << out;
  EXPECT_EQ(out.find("a training row"), std::string::npos) << "evaluation texts only by default:\n" << out;
}

TEST_F(SamplesCli, SelectsTheLastEvaluationAStepARoleOrTheTrainingTexts) {
  const auto last = samples("1 --last");
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_NE(last.out.find("student-greedy-200-1"), std::string::npos) << last.out;
  EXPECT_EQ(last.out.find("-100-"), std::string::npos) << last.out;
  EXPECT_EQ(last.out.find("step 50"), std::string::npos) << last.out;

  const auto student = samples("1 --step 100 --role student");
  ASSERT_EQ(student.exit_code, 0) << student.err;
  EXPECT_NE(student.out.find("student-sampled-100-1"), std::string::npos) << student.out;
  EXPECT_EQ(student.out.find("teacher-"), std::string::npos) << student.out;
  EXPECT_EQ(student.out.find("-200-"), std::string::npos) << student.out;

  const auto train = samples("1 --purpose train");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("student phase, step 150"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("  row 3: \"the dog\"\n    student  sampled  \" a training row\""), std::string::npos) << train.out;
  EXPECT_EQ(train.out.find("teacher-greedy"), std::string::npos) << train.out;
}

TEST_F(SamplesCli, JsonHasEveryTextOfTheStepWithItsTokenProbabilities) {
  const auto result = samples("1 --step 200 --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto texts = nlohmann::json::parse(result.out);
  ASSERT_EQ(texts.size(), 9u);  // 2 prompts x 2 models x 2 decodings, and the text with a newline
  for (const auto& t : texts) {
    EXPECT_EQ(t.at("step"), 200);
    EXPECT_EQ(t.at("phase"), "student");
    EXPECT_EQ(t.at("purpose"), "eval");
  }
  const auto& first = texts.front();
  EXPECT_EQ(first.at("role"), "student");  // write order, as stored
  EXPECT_EQ(first.at("decoding"), "sampled");
  EXPECT_EQ(first.at("prompt"), "the cat");
  EXPECT_EQ(first.at("completion"), " student-sampled-200-0");
  EXPECT_EQ(first.at("tokens").at(0).at("p"), 0.75);
  EXPECT_EQ(texts.back().at("completion"), "line one\nline two");
}

TEST_F(SamplesCli, SaysWhyARunHasNoTextsAndWhichStepsHave) {
  const auto image = samples("2");
  EXPECT_EQ(image.exit_code, 2);
  EXPECT_NE(image.err.find("run 2 is an image run; only language-model runs (task: lm) store generated texts"),
            std::string::npos)
      << image.err;

  const auto none = samples("3");
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("run 3 has no stored evaluation texts"), std::string::npos) << none.out;
  const auto none_json = samples("3 --json");
  EXPECT_EQ(none_json.exit_code, 0) << none_json.err;
  EXPECT_EQ(nlohmann::json::parse(none_json.out), nlohmann::json::array());

  const auto missing = samples("1 --step 7");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--step: run 1 has no eval texts at step 7; steps with texts: teacher 50, student 100, "
                             "student 200"),
            std::string::npos)
      << missing.err;

  EXPECT_EQ(samples("1 --step 100 --last").exit_code, 2);
  const auto unknown = samples("9");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("run 9 not found"), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace distill
