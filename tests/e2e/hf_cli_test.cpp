// A Hugging Face model folder end to end through the `distill` binary (issue 23's "Done means"):
// `distill run` distils the tiny GPT-2 checkpoint of tests/hf/tiny_checkpoints.py (2 layers,
// width 64, 128 ids, with a 128-id tokenizer.json written here) into a 1-layer student made of
// its blocks (student.source teacher-blocks:2) on a tiny corpus, with the teacher folder's
// tokenizer; the run completes with a finite perplexity; `distill generate` continues a prompt
// with the stored student; `distill export-model --format hf` writes the student back as a
// Hugging Face folder that the workbench and the script's independent reader both load to the
// stored student's logits. `distill mirror` asks whether that student mirrors its teacher.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/hf/hf_config.h"
#include "core/hf/hf_weights.h"
#include "core/store/run_store.h"
#include "core/tasks/lm/stored_model.h"
#include "support/cli_support.h"
#include "support/hf_checkpoints.h"
#include "support/test_support.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using testing::distillCli;
using testing::quote;
using testing::TempDir;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(HfCli, DistilsATinyGpt2IntoItsBlocksAndExportsTheStudent) {
  REQUIRE_HF_CHECKPOINTS();
  TempDir dir;
  const std::string teacher = testing::copyHfCheckpoint("gpt2", dir.path());
  testing::writeTinyTokenizer(teacher);
  const std::string corpus = dir.file("corpus.txt");
  testing::writeTinyAsciiCorpus(corpus);
  const std::string db = dir.file("runs.db");

  const auto run = distillCli(
      "run -q --json --db " + quote(db) + " --set task=lm --set threads=1 --set device=cpu --set lm.corpus=" +
      quote(corpus) + " --set lm.context=32 --set teacher.source=hf:" + quote(teacher) +
      " --set student.source=teacher-blocks:2 --set train.epochs=1 --set train.batch_size=4"
      " --set train.optimizer=adamw --set train.lr=0.003 --set generation.eval_prompts=1 --set seed=1");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const auto result = nlohmann::json::parse(run.out);
  EXPECT_EQ(result["status"], "completed");
  const double perplexity = result["final"]["eval/student_ppl"].get<double>();
  EXPECT_TRUE(std::isfinite(perplexity)) << perplexity;
  EXPECT_GT(perplexity, 1.0);
  EXPECT_TRUE(std::isfinite(result["final"]["eval/teacher_ppl"].get<double>()));

  // The run recorded the tokenizer it used (the folder's) and the student's architecture.
  {
    RunStore store(db);
    const auto stored = store.getRun(1);
    ASSERT_TRUE(stored);
    EXPECT_NE(stored->config_yaml.find("tokenizer: hf:" + teacher), std::string::npos) << stored->config_yaml;
    EXPECT_NE(stored->environment.at("student_hf_config").find("\"n_layer\":1"), std::string::npos);
  }

  const auto generated = distillCli("generate 1 --prompt 'the cat' --max-tokens 4 --db " + quote(db));
  EXPECT_EQ(generated.exit_code, 0) << generated.err;
  EXPECT_EQ(generated.out.rfind("the cat", 0), 0u) << generated.out;

  // "Was the student distilled from the Hugging Face teacher?": the mirror test trains its
  // references beside that teacher (read from its folder again, as the run did) and answers.
  const auto mirror = distillCli("mirror 1:teacher 1:student -q --json --references 2 --sequences 8 --tokens 16 "
                                 "--reference-epochs 1 --db " + quote(db));
  ASSERT_EQ(mirror.exit_code, 0) << mirror.out << mirror.err;
  const auto verdict = nlohmann::json::parse(mirror.out);
  EXPECT_EQ(verdict["references"], 2) << mirror.out;
  // The student began as the teacher's blocks, so its references begin from fresh weights of its
  // architecture (beginning from the teacher's would not be independent of A); next to them the
  // student is plainly the teacher's copy.
  EXPECT_NE(verdict["reference_description"].get<std::string>().find("from fresh weights"), std::string::npos)
      << mirror.out;
  EXPECT_TRUE(verdict["mirrors"].get<bool>()) << mirror.out;

  const std::string out = dir.file("student-hf");
  const auto exported = distillCli("export-model 1 --format hf --out " + quote(out) + " --db " + quote(db));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.err.find("config.json, model.safetensors, tokenizer.json"), std::string::npos) << exported.err;
  const HfConfig config = readHfConfig(out);
  EXPECT_EQ(config.architecture, HfArchitecture::Gpt2);
  EXPECT_EQ(config.num_hidden_layers, 1);
  EXPECT_EQ(config.vocab_size, 128);
  EXPECT_EQ(config.eos_token_ids, std::vector<int64_t>{0});  // the teacher's config.json's
  EXPECT_EQ(readFile(fs::path(out) / "tokenizer.json"), readFile(fs::path(teacher) / "tokenizer.json"));

  // Read back: by the workbench, and by the script's own reader and implementation.
  RunStore store(db);
  StoredLm student = loadStoredLm(store, 1, "student");
  const auto reference = testing::readLogits(fs::path(teacher) / "expected.json");  // the script's token ids
  torch::NoGradGuard no_grad;
  const auto stored_logits = student.model->forward(reference.first);
  Model loaded = loadHfModel(out);
  loaded->eval();
  EXPECT_LT((loaded->forward(reference.first) - stored_logits).abs().max().item<double>(), 1e-6);
  if (testing::pythonHasTorch()) {
    EXPECT_LT((testing::pythonLogits(out).second - stored_logits).abs().max().item<double>(), 1e-4);
  }
}

}  // namespace
}  // namespace distill
