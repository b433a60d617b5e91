// Hugging Face folders as a language-model run's teacher and student (core/hf/hf_source.h,
// core/tasks/lm/lm_task.h, core/tasks/teacher_source.h, core/tasks/lm/stored_model.h): the run
// tokenizes with the teacher folder's tokenizer and a student the workbench builds takes its
// vocabulary; another tokenizer, a smaller vocabulary, a missing folder or config.json and an
// unsupported architecture are refused by key; a teacher-blocks student holds the teacher's
// blocks; a stored run of an hf: teacher resumes to the uninterrupted run's numbers and its
// models load back for generation; the fidelity analysis of a run whose models' vocabulary is
// padded beyond the tokenizer's ids. On the tiny GPT-2 checkpoint of tests/hf/tiny_checkpoints.py
// with a 128-id tokenizer.json (tests/support/hf_checkpoints.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/fidelity/run_fidelity.h"
#include "core/hf/hf_source.h"
#include "core/hf/hf_weights.h"
#include "core/store/run_store.h"
#include "core/tasks/teacher_source.h"
#include "core/tasks/lm/generate.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/lm/lm_metrics.h"
#include "core/tasks/lm/lm_task.h"
#include "core/tasks/lm/stored_model.h"
#include "core/train/experiment_runner.h"
#include "support/hf_checkpoints.h"
#include "support/test_support.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Every issue of a ConfigError as "key: message" lines; "(no error)" when `call` succeeds.
std::string configIssues(const std::function<void()>& call) {
  try {
    call();
  } catch (const ConfigError& e) {
    std::string text;
    for (const auto& issue : e.issues()) text += issue.toString() + "\n";
    return text;
  } catch (const std::exception& e) {
    return std::string("(not a ConfigError) ") + e.what();
  }
  return "(no error)";
}

void editConfig(const std::string& folder, const std::function<void(json&)>& edit) {
  const fs::path file = fs::path(folder) / "config.json";
  json config = json::parse(std::ifstream(file));
  edit(config);
  std::ofstream(file) << config.dump(2);
}

class HfSources : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_HF_CHECKPOINTS();
    teacher_ = testing::copyHfCheckpoint("gpt2", dir_.path());
    testing::writeTinyTokenizer(teacher_);
    corpus_ = dir_.file("corpus.txt");
    testing::writeTinyAsciiCorpus(corpus_);
  }
  // A tiny lm run from the tiny GPT-2 teacher (32 positions), with `more` overrides.
  std::vector<std::string> overrides(std::vector<std::string> more = {}) const {
    std::vector<std::string> all{"task=lm",          "device=cpu",           "threads=1",
                                 "lm.corpus=" + corpus_, "lm.context=32",       "teacher.source=hf:" + teacher_,
                                 "student.arch=gpt", "student.layers=1",     "student.heads=2",
                                 "student.d_model=32", "train.epochs=2",     "train.batch_size=4",
                                 "train.optimizer=adamw", "train.lr=0.003", "train.log_every=2",
                                 "generation.eval_prompts=1", "distill.temperature=1", "seed=3"};
    all.insert(all.end(), more.begin(), more.end());
    return all;
  }
  ExperimentConfig config(std::vector<std::string> more = {}) const {
    return parseConfigWithOverrides("", overrides(std::move(more)));
  }

  testing::TempDir dir_;
  std::string teacher_, corpus_;
};

TEST_F(HfSources, TheTeacherFolderGivesTheRunItsTokenizerAndVocabulary) {
  const ExperimentConfig c = config();
  EXPECT_EQ(c.lm.tokenizer, "byte");  // the default, left alone
  LmTask task(c);
  EXPECT_EQ(task.tokenizer().spec(), "hf:" + teacher_);
  EXPECT_EQ(task.tokenizer().kind(), "bpe");
  EXPECT_EQ(task.tokenizer().separator(), 127);  // <|endoftext|>
  EXPECT_EQ(task.modelVocabulary(), 128);

  // The teacher: the folder's architecture, frozen; its weights come through loadCheckpoint.
  Model teacher = task.buildTeacher(c);
  for (const auto& parameter : teacher->parameters()) EXPECT_FALSE(parameter.requires_grad());
  teacher->loadCheckpoint(teacher_);
  const auto tokens = torch::tensor({{3, 17, 42, 5, 99, 1}}, torch::kLong);
  torch::NoGradGuard no_grad;
  Model reference = loadHfModel(teacher_);
  reference->eval();
  teacher->eval();
  EXPECT_LT((teacher->forward(tokens) - reference->forward(tokens)).abs().max().item<double>(), 1e-6);

  // The student the workbench builds: the keys' GPT over the teacher's 128 ids.
  Model student = task.buildStudent(c);
  EXPECT_EQ(dynamic_cast<GptImpl&>(*student).config().vocab, 128);
  EXPECT_EQ(dynamic_cast<GptImpl&>(*student).config().layers, 1);
  EXPECT_EQ(student->forward(tokens).size(2), 128);

  // resolveTeacherSource: the folder's weights, and the tokenizer the run records.
  ExperimentConfig resolved = c;
  RunStore store(dir_.file("runs.db"));
  EXPECT_EQ(resolveTeacherSource(resolved, store).weights_path, teacher_);
  EXPECT_EQ(resolved.teacher.weights, teacher_);
  EXPECT_EQ(resolved.lm.tokenizer, "hf:" + teacher_);
}

TEST_F(HfSources, AnotherTokenizerIsRefusedNamingBoth) {
  const std::string other = std::string(DISTILL_SOURCE_DIR) + "/tests/core/text/bpe/data/llama3-style/tokenizer.json";
  const std::string issues = configIssues([&] { LmTask task(config({"lm.tokenizer=" + other})); });
  EXPECT_NE(issues.find("lm.tokenizer: '" + other + "'"), std::string::npos) << issues;
  EXPECT_NE(issues.find("does not tokenize as the model of teacher.source " + teacher_), std::string::npos) << issues;
  EXPECT_NE(issues.find("llama3-style/tokenizer.json"), std::string::npos) << issues;  // ours
  EXPECT_NE(issues.find(teacher_ + "/tokenizer.json"), std::string::npos) << issues;   // the folder's
  // Byte or char ids mean nothing to the model.
  const std::string chars = configIssues([&] { LmTask task(config({"lm.tokenizer=char"})); });
  EXPECT_NE(chars.find("lm.tokenizer: 'char' ids mean nothing to the Hugging Face model of teacher.source"),
            std::string::npos)
      << chars;
  // The same tokenizer named explicitly is the folder's: accepted.
  LmTask same(config({"lm.tokenizer=" + teacher_ + "/tokenizer.json"}));
  EXPECT_EQ(same.tokenizer().kind(), "bpe");
}

TEST_F(HfSources, ALargerVocabularyIsAcceptedASmallerOneRefused) {
  editConfig(teacher_, [](json& c) { c["vocab_size"] = 136; });  // padding rows, as Qwen2 has
  LmTask padded(config());
  EXPECT_EQ(padded.tokenizer().vocabSize(), 128);
  EXPECT_EQ(padded.modelVocabulary(), 136);
  EXPECT_EQ(padded.describe().at("model_vocab_size"), "136");
  editConfig(teacher_, [](json& c) { c["vocab_size"] = 100; });
  const std::string issues = configIssues([&] { LmTask task(config()); });
  EXPECT_NE(issues.find("teacher.source: " + teacher_ + "/config.json: vocab_size 100 is smaller than the 128 ids"),
            std::string::npos)
      << issues;
}

TEST_F(HfSources, AContextBeyondTheModelsPositionsIsRefused) {
  const std::string issues = configIssues([&] { LmTask task(config({"lm.context=64"})); });
  EXPECT_NE(issues.find("lm.context: is 64; the model of teacher.source " + teacher_ + " holds 32 positions"),
            std::string::npos)
      << issues;
}

TEST_F(HfSources, FoldersThatAreNoModelAreRefusedByKey) {
  EXPECT_NE(configIssues([&] { checkHfSource("teacher.source", "hf:" + dir_.file("nowhere")); })
                .find("teacher.source: '" + dir_.file("nowhere") + "': no such folder"),
            std::string::npos);
  fs::create_directories(dir_.path() / "empty");
  EXPECT_NE(configIssues([&] { checkHfSource("student.source", "hf:" + dir_.file("empty")); })
                .find("student.source: '" + dir_.file("empty") + "/config.json': no such file"),
            std::string::npos);
  editConfig(teacher_, [](json& c) { c["architectures"] = {"BertForMaskedLM"}; });
  const std::string bert = configIssues([&] { checkHfSource("teacher.source", "hf:" + teacher_); });
  EXPECT_NE(bert.find("teacher.source: " + teacher_ + "/config.json"), std::string::npos) << bert;
  EXPECT_NE(bert.find("BertForMaskedLM"), std::string::npos) << bert;
  // Through the run's resolution, before any data is read.
  ExperimentConfig c = config();
  RunStore store(dir_.file("runs.db"));
  EXPECT_NE(configIssues([&] { resolveTeacherSource(c, store); }).find("BertForMaskedLM"), std::string::npos);
}

TEST_F(HfSources, ATeacherBlocksStudentHoldsTheTeachersBlocks) {
  const ExperimentConfig c = config({"student.source=teacher-blocks:2"});
  LmTask task(c);
  Model teacher = task.buildTeacher(c);
  Model student = task.buildStudent(c);
  const auto& gpt = dynamic_cast<GptImpl&>(*student);
  EXPECT_EQ(gpt.config().layers, 1);
  EXPECT_EQ(gpt.config().vocab, 128);
  const Model reference = loadHfModel(teacher_);
  const auto expected = reference->named_parameters();
  for (const auto& item : student->named_parameters()) {
    ASSERT_NE(expected.find(item.key()), nullptr) << item.key();  // block 0 is block 0
    EXPECT_TRUE(torch::equal(item.value(), expected[item.key()])) << item.key();
    EXPECT_TRUE(item.value().requires_grad()) << item.key();  // the student trains
  }
  EXPECT_NE(task.describe().at("student_hf_config").find("\"n_layer\":1"), std::string::npos);
}

TEST(HfSourceConfig, SourcesAreCheckedByTheConfigLayer) {
  auto issues = [](std::vector<std::string> overrides) {
    return configIssues([&] { parseConfigWithOverrides("", overrides); });
  };
  EXPECT_NE(issues({"teacher.source=hf:/models/gpt2"}).find("teacher.source: 'hf:/models/gpt2' is a Hugging Face "
                                                            "language model; it needs task: lm"),
            std::string::npos);
  EXPECT_NE(issues({"student.source=teacher-blocks:2", "teacher.source=run:1"})
                .find("student.source: 'teacher-blocks:2' makes a language model; it needs task: lm"),
            std::string::npos);
  const std::string zero = issues({"task=lm", "student.source=teacher-blocks:0", "teacher.source=hf:/m"});
  EXPECT_NE(zero.find("student.source: expected 'init', 'hf:<folder>', 'teacher-blocks:<k>' with k >= 1"),
            std::string::npos)
      << zero;
  // A teacher the run trains has blocks (copied after phase 1); a TorchScript teacher's are unknown.
  EXPECT_EQ(issues({"task=lm", "student.source=teacher-blocks:2", "teacher.arch=gpt", "student.arch=gpt"}), "(no error)");
  EXPECT_NE(issues({"task=lm", "student.source=teacher-blocks:2", "teacher.source=torchscript:/t.pt",
                    "teacher.arch=gpt", "student.arch=gpt"})
                .find("student.source: 'teacher-blocks:2' needs a teacher of known blocks"),
            std::string::npos);
  EXPECT_NE(issues({"task=lm", "teacher.source=hf:"}).find("teacher.source: expected"), std::string::npos);
  // Not taken for TorchScript paths.
  const ExperimentConfig c = parseConfigWithOverrides("", {"task=lm", "student.source=hf:/m", "teacher.source=hf:/t",
                                                           "teacher.arch=gpt", "student.arch=gpt"});
  EXPECT_EQ(c.student_source, "hf:/m");
  EXPECT_EQ(hfSourceFolder("hf:/m"), "/m");
  EXPECT_EQ(teacherBlocksStep("teacher-blocks:3"), 3);
  EXPECT_EQ(teacherBlocksStep("teacher-blocks:x"), 0);
}

class Quiet : public TrainingObserver {};

// Stops the run once the student's first epoch checkpoint is written.
class StopAfterFirstStudentCheckpoint : public TrainingObserver {
 public:
  explicit StopAfterFirstStudentCheckpoint(RunControl& control) : control_(control) {}
  void onCheckpoint(const CheckpointInfo& checkpoint) override {
    if (checkpoint.role == "student") control_.requestStop();
  }

 private:
  RunControl& control_;
};

// A stored run of an hf: teacher and a teacher-blocks student resumes to the numbers of the
// uninterrupted run, and both models load back (the student from the config the run recorded).
TEST_F(HfSources, AStoredRunResumesAndItsModelsLoadBack) {
  const auto more = std::vector<std::string>{"student.source=teacher-blocks:2"};
  Quiet quiet;
  RunControl reference_control;
  ExperimentRunner reference(config(more), dir_.file("reference.db"), quiet, reference_control);
  reference.createRun();
  const RunResult uninterrupted = reference.run();
  ASSERT_EQ(uninterrupted.outcome, RunOutcome::Completed) << uninterrupted.error;
  EXPECT_TRUE(std::isfinite(uninterrupted.final.at("eval/student_ppl")));

  const std::string db = dir_.file("stopped.db");
  {
    RunControl control;
    StopAfterFirstStudentCheckpoint stopper(control);
    ExperimentRunner runner(config(more), db, stopper, control);
    runner.createRun();
    ASSERT_EQ(runner.run().outcome, RunOutcome::Stopped);
  }
  RunControl control;
  ExperimentRunner resumed(ResumeRun{1}, db, quiet, control);
  resumed.createRun();
  const RunResult result = resumed.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  for (const char* key : {"eval/student_ppl", "eval/token_agreement"})
    EXPECT_NEAR(result.final.at(key), uninterrupted.final.at(key), 1e-6 * std::abs(uninterrupted.final.at(key))) << key;

  RunStore store(db);
  StoredLm student = loadStoredLm(store, 1, "student");
  ASSERT_TRUE(student.hf_config.has_value());
  EXPECT_EQ(student.hf_config->num_hidden_layers, 1);
  EXPECT_EQ(student.tokenizer.spec(), "hf:" + teacher_);
  StoredLm teacher = loadStoredLm(store, 1, "teacher");
  EXPECT_EQ(teacher.checkpoint, teacher_);
  SamplingOptions options;
  options.max_tokens = 5;
  options.seed = 1;
  const auto prompt = teacher.tokenizer.encode("the cat");
  EXPECT_EQ(generate(*student.model, prompt, options).size(), 5u);
  // The teacher is the folder's model, unchanged by the run.
  const auto tokens = torch::tensor({{3, 17, 42, 5}}, torch::kLong);
  torch::NoGradGuard no_grad;
  Model reference_teacher = loadHfModel(teacher_);
  reference_teacher->eval();
  EXPECT_LT((teacher.model->forward(tokens) - reference_teacher->forward(tokens)).abs().max().item<double>(), 1e-6);
}

// A run whose models' vocabulary is padded beyond the tokenizer's ids: a teacher folder of
// vocab_size 136 (the task's GPT, random, written by saveHfModel) with the 128-id tokenizer.json,
// and a student the run builds over the same 136 rows. `distill fidelity`'s analysis
// (analyzeRun) runs, over every row: its agreement and KL equal the run's last evaluation on the
// same blocks; its frequency buckets count the 128 tokens only; padding ids in the top-5 lists
// show as "<padding N>". No Python needed.
TEST(HfPaddedVocabulary, FidelityAnalysesEveryRowAndShowsNoPaddingAsAToken) {
  testing::TempDir dir;
  GptConfig gpt;
  gpt.vocab = 136;
  gpt.context = 32;
  gpt.layers = 1;
  gpt.heads = 2;
  gpt.d_model = 32;
  gpt.dropout = 0.0;
  torch::manual_seed(7);
  const std::string folder = dir.file("padded");
  saveHfModel(*makeGpt(gpt), folder);
  testing::writeTinyTokenizer(folder);
  const std::string corpus = dir.file("corpus.txt");
  testing::writeTinyAsciiCorpus(corpus);
  const ExperimentConfig config = parseConfigWithOverrides(
      "", {"task=lm", "device=cpu", "threads=1", "lm.corpus=" + corpus, "lm.context=32", "teacher.source=hf:" + folder,
           "student.arch=gpt", "student.layers=1", "student.heads=2", "student.d_model=32", "train.epochs=1",
           "train.batch_size=4", "train.optimizer=adamw", "train.lr=0.003", "generation.eval_prompts=1",
           "distill.temperature=1", "seed=3"});
  Quiet quiet;
  RunControl control;
  const std::string db = dir.file("runs.db");
  ExperimentRunner runner(config, db, quiet, control);
  const int64_t id = runner.createRun();
  const RunResult run = runner.run();
  ASSERT_EQ(run.outcome, RunOutcome::Completed) << run.error;

  FidelityOptions options;
  options.max_blocks = 0;  // all: the blocks the run's evaluation used
  const LmFidelityAnalysis a = analyzeRun(db, id, options).lm;
  EXPECT_EQ(a.vocab, 136);
  EXPECT_EQ(a.tokenizer_vocab, 128);
  EXPECT_NEAR(a.agreement, run.final.at(metric_key::kTokenAgreement), 1e-9);
  EXPECT_NEAR(a.kl, run.final.at(metric_key::kTokenKl), 1e-5 * std::max(1.0, run.final.at(metric_key::kTokenKl)));
  EXPECT_NEAR(std::exp(a.student_ce), run.final.at(metric_key::kStudentPerplexity),
              1e-4 * run.final.at(metric_key::kStudentPerplexity));
  int64_t token_types = 0;
  for (const auto& bucket : a.by_frequency) token_types += bucket.token_types;
  EXPECT_LE(token_types, 128);
  ASSERT_FALSE(a.disagreements.empty());
  int padding_shown = 0;
  for (const auto& d : a.disagreements)
    for (const auto* top : {&d.teacher_top, &d.student_top})
      for (const auto& entry : *top) {
        if (entry.token >= 128) {
          EXPECT_EQ(entry.text, "<padding " + std::to_string(entry.token) + ">");
          ++padding_shown;
        } else {
          EXPECT_EQ(entry.text.find("<padding"), std::string::npos) << entry.token;
        }
      }
  EXPECT_GT(padding_shown, 0);  // the random teacher ranks padding rows among its top 5
}

}  // namespace
}  // namespace distill
