// `distill fidelity` and `distill mirror` end to end: a small Fashion-MNIST run, its text and
// JSON reports, and bad input through the command line (exit 2 with a message naming it); a
// tiny language-model run's per-token report (LmFidelityCli).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "support/cli_support.h"
#include "support/lm_test_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::CommandResult;
using testing::distillCli;
using testing::haveFashionMnist;
using testing::quote;
using testing::TempDir;

class FidelityCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    db_ = dir_->file("runs.db");
    if (!haveFashionMnist()) return;
    run_ = new CommandResult(distillCli(
        "run --quiet --set dataset.limit_train=2000 --set dataset.limit_test=400 --set teacher.hidden=[128] "
        "--set student.hidden=[32] --set teacher.epochs=2 --set train.epochs=2 --db " + quote(db_)));
  }
  static void TearDownTestSuite() {
    delete run_;
    delete dir_;
  }
  void SetUp() override {
    if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    ASSERT_EQ(run_->exit_code, 0) << run_->err;
  }
  static inline TempDir* dir_ = nullptr;
  static inline std::string db_;
  static inline CommandResult* run_ = nullptr;
};

TEST_F(FidelityCli, TextReportHasTheMatrixPerClassCalibrationAndDisagreements) {
  const auto result = distillCli("fidelity 1 --top 3 --db " + quote(db_));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* part : {"agreement matrix", "per class", "reliability", "disagreements", "T-shirt/top", "Ankle boot",
                           "top-5 overlap", "expected calibration error (15 equal-width bins)"})
    EXPECT_NE(result.out.find(part), std::string::npos) << part << "\n" << result.out;
}

TEST_F(FidelityCli, JsonReportIsConsistent) {
  const auto result = distillCli("fidelity 1 --json --db " + quote(db_));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(result.out);
  int64_t total = 0, diagonal = 0;
  const auto& matrix = report.at("agreement_matrix");
  ASSERT_EQ(matrix.size(), 10u);
  for (size_t t = 0; t < matrix.size(); ++t)
    for (size_t s = 0; s < matrix[t].size(); ++s) {
      total += matrix[t][s].get<int64_t>();
      if (t == s) diagonal += matrix[t][s].get<int64_t>();
    }
  EXPECT_EQ(total, 400);
  EXPECT_EQ(report.at("samples").get<int64_t>(), 400);
  EXPECT_EQ(static_cast<int64_t>(report.at("disagreements").size()), 400 - diagonal);
  EXPECT_NEAR(report.at("agreement").get<double>(), diagonal / 400.0, 1e-12);
  EXPECT_EQ(report.at("teacher_calibration").at("bins").size(), 15u);

  // The same numbers the trainer stored at its last evaluation.
  const auto show = nlohmann::json::parse(distillCli("show 1 --json --db " + quote(db_)).out);
  EXPECT_NEAR(show.at("final").at("eval/agreement").get<double>(), report.at("agreement").get<double>(), 1e-9);
  EXPECT_NEAR(show.at("final").at("eval/top5_overlap").get<double>(), report.at("top5_overlap").get<double>(), 1e-9);
}

TEST_F(FidelityCli, MirrorJsonHasEveryProbeAndAVerdict) {
  const auto result = distillCli("mirror 1:teacher 1 --json --quiet --references 2 --reference-epochs 1 "
                                 "--reference-samples 1000 --probe-samples 200 --db " + quote(db_));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(result.out);
  std::vector<std::string> names;
  for (const auto& probe : report.at("probes")) names.push_back(probe.at("name"));
  EXPECT_EQ(names, (std::vector<std::string>{"test", "uniform-noise", "gaussian-noise", "shifted", "rotated", "mixup"}));
  EXPECT_EQ(report.at("references").get<int>(), 2);
  EXPECT_FALSE(report.at("verdict").get<std::string>().empty());
  EXPECT_EQ(report.at("probes")[1].at("samples").get<int>(), 200);
  // Without MNIST installed the other-dataset probe is skipped with a note saying so.
  if (!std::filesystem::exists("/usr/share/datasets/mnist")) {
    bool noted = false;
    for (const auto& note : report.at("notes")) noted = noted || note.get<std::string>().find("other-dataset") != std::string::npos;
    EXPECT_TRUE(noted);
  }
}

TEST_F(FidelityCli, BadInputExitsTwoNamingIt) {
  auto result = distillCli("fidelity 9 --db " + quote(db_));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("run 9 not found"), std::string::npos) << result.err;
  result = distillCli("fidelity abc --db " + quote(db_));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("RUN"), std::string::npos) << result.err;
  result = distillCli("mirror 1:coach 1 --db " + quote(db_));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("'1:coach'"), std::string::npos) << result.err;
  result = distillCli("mirror 1 /no/such/file.pt --db " + quote(db_));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("B:"), std::string::npos) << result.err;
  result = distillCli("mirror 1:teacher 1 --references 1 --db " + quote(db_));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--references"), std::string::npos) << result.err;
  result = distillCli("fidelity 1 --db " + quote(dir_->file("missing.db")));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no database here yet"), std::string::npos) << result.err;
}

// A tiny language-model run (tests/support/lm_test_support.h, one thread), trained in process,
// then analysed through the binary.
class LmFidelityCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const auto corpus = testing::writeCorpus(dir_->path() / "corpus");
    finished_ = new testing::Finished(testing::runLm(dir_->path(), testing::lmConfig(corpus)));
    db_ = dir_->file("lm.db");
  }
  static void TearDownTestSuite() {
    delete finished_;
    delete dir_;
  }
  static nlohmann::json report(const std::string& options = "") {
    const auto result = distillCli("fidelity 1 --json " + options + " --db " + quote(db_));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out);
  }
  static int64_t sumOfCounts(const nlohmann::json& buckets) {
    int64_t sum = 0;
    for (const auto& b : buckets) sum += b.at("count").get<int64_t>();
    return sum;
  }
  static inline TempDir* dir_ = nullptr;
  static inline std::string db_;
  static inline testing::Finished* finished_ = nullptr;
};

TEST_F(LmFidelityCli, JsonReportAgreesWithTheRunsLastEvaluation) {
  const auto r = report();
  EXPECT_EQ(r.at("task"), "lm");
  EXPECT_EQ(r.at("context").get<int64_t>(), 16);
  EXPECT_EQ(r.at("tokenizer"), "byte");
  EXPECT_EQ(r.at("vocab").get<int64_t>(), 256);
  const int64_t blocks = r.at("blocks").get<int64_t>(), tokens = r.at("tokens").get<int64_t>();
  EXPECT_GT(blocks, 0);
  EXPECT_EQ(blocks, r.at("blocks_available").get<int64_t>());  // a tiny corpus: under the cap
  EXPECT_EQ(tokens, blocks * 16);
  EXPECT_GT(r.at("train_tokens").get<int64_t>(), tokens);

  // The same blocks and weights as the run's final evaluation, so the same numbers.
  const auto last = [](const std::string& key) { return finished_->series.at(key).back().value; };
  EXPECT_NEAR(r.at("agreement").get<double>(), last("eval/token_agreement"), 1e-9);
  EXPECT_NEAR(r.at("kl").get<double>(), last("eval/token_kl"), 1e-5);
  EXPECT_NEAR(r.at("top5_overlap").get<double>(), last("eval/token_top5_overlap"), 1e-9);
  EXPECT_NEAR(r.at("student_acc").get<double>(), last("eval/student_token_acc"), 1e-9);
  EXPECT_NEAR(r.at("student_ppl").get<double>(), last("eval/student_ppl"), 1e-4 * last("eval/student_ppl"));
  EXPECT_NEAR(r.at("teacher_ppl").get<double>(), last("eval/teacher_ppl"), 1e-4 * last("eval/teacher_ppl"));

  // Every position in each bucketing once; a context of 16 is 16 one-position buckets.
  ASSERT_EQ(r.at("by_position").size(), 16u);
  for (const auto& b : r.at("by_position")) EXPECT_EQ(b.at("count").get<int64_t>(), blocks);
  EXPECT_EQ(r.at("by_confidence").size(), 10u);
  EXPECT_EQ(sumOfCounts(r.at("by_confidence")), tokens);
  EXPECT_EQ(sumOfCounts(r.at("by_frequency")), tokens);
  double weighted = 0.0;
  for (const auto& b : r.at("by_position")) weighted += b.at("agreement").get<double>() * b.at("count").get<double>();
  EXPECT_NEAR(weighted / tokens, r.at("agreement").get<double>(), 1e-12);
  EXPECT_EQ(r.at("teacher_calibration").at("bins").size(), 10u);
  EXPECT_EQ(sumOfCounts(r.at("student_calibration").at("bins")), tokens);

  // The disagreements of largest KL, largest first, each with its text and both top-5.
  const auto& d = r.at("disagreements");
  const int64_t disagreeing = r.at("disagreement_count").get<int64_t>();
  EXPECT_NEAR(1.0 - static_cast<double>(disagreeing) / tokens, r.at("agreement").get<double>(), 1e-12);
  EXPECT_EQ(static_cast<int64_t>(d.size()), std::min<int64_t>(disagreeing, 50));
  for (size_t i = 0; i < d.size(); ++i) {
    if (i > 0) {
      EXPECT_GE(d[i - 1].at("kl").get<double>(), d[i].at("kl").get<double>());
    }
    EXPECT_EQ(d[i].at("teacher_top5").size(), 5u);
    EXPECT_NE(d[i].at("teacher_top5")[0].at("token"), d[i].at("student_top5")[0].at("token"));
    EXPECT_FALSE(d[i].at("before").get<std::string>().empty());
    EXPECT_LT(d[i].at("position").get<int64_t>(), 16);
  }
}

TEST_F(LmFidelityCli, BlocksCapAndTextReport) {
  const auto capped = report("--blocks 2");
  EXPECT_EQ(capped.at("blocks").get<int64_t>(), 2);
  EXPECT_EQ(capped.at("tokens").get<int64_t>(), 32);

  const auto text = distillCli("fidelity 1 --top 3 --db " + quote(db_));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  for (const char* part : {"validation tokens", "by position in the context", "by the teacher's confidence",
                           "training tokens", "reliability", "of largest KL", "teacher: ", "student: ",
                           "expected calibration error per token (10 equal-width bins)"})
    EXPECT_NE(text.out.find(part), std::string::npos) << part << "\n" << text.out;

  const auto bad = distillCli("fidelity 1 --blocks -3 --db " + quote(db_));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--blocks"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace distill

namespace distill {
namespace {

// `distill mirror` on language-model runs: run 1's distilled student against its teacher, three
// students trained alone (runs 2-4) as stored references, text and JSON output, and the lm
// options' refusals.
TEST(LmMirrorCli, DistilledStudentMirrorsAndTheReportNamesEveryProbe) {
  testing::TempDir dir;
  const auto corpus = testing::writeCorpus(dir.path() / "corpus");
  testing::runLm(dir.path(), testing::lmConfig(corpus, {"distill.alpha=1", "train.epochs=20"}));
  for (int seed = 2; seed <= 4; ++seed)
    testing::runLm(dir.path(), testing::lmConfig(corpus, {"distill.alpha=0", "train.epochs=20",
                                                          "seed=" + std::to_string(seed), "teacher.source=run:1"}));
  const std::string db = dir.file("lm.db");
  const std::string second = (dir.path() / "corpus").string();  // any text folder: here the corpus again
  const auto json = testing::distillCli("mirror 1:teacher 1:student --reference-runs 2:student,3:student,4:student "
                                        "--sequences 12 --access topk --top-k 3 --second-corpus " +
                                        testing::quote(second) + " --json --quiet --db " + testing::quote(db));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto report = nlohmann::json::parse(json.out);
  EXPECT_EQ(report.at("task"), "lm");
  EXPECT_TRUE(report.at("mirrors").get<bool>()) << report.at("verdict") << "\n" << report.at("evidence");
  EXPECT_EQ(report.at("references").get<int>(), 3);
  ASSERT_EQ(report.at("probes").size(), 4u);
  for (const auto& p : report.at("probes")) {
    EXPECT_GE(p.at("p_adjusted").get<double>(), p.at("p_value").get<double>());
    EXPECT_FALSE(p.at("kl").is_null());
    EXPECT_TRUE(p.at("cross_entropy").is_null());  // text access only
  }

  const auto text = testing::distillCli("mirror 1:teacher 2:student --reference-runs 3:student,4:student "
                                        "--sequences 12 --access text --quiet --second-corpus " +
                                        testing::quote(second) + " --db " + testing::quote(db));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  for (const char* part : {"greedy match: B", "CE of A's text", "validation", "corpus-prompts", "shuffled",
                           "second-corpus", "verdict: no evidence"})
    EXPECT_NE(text.out.find(part), std::string::npos) << part << "\n" << text.out;

  const auto bad = testing::distillCli("mirror 1:teacher 1:student --access probabilities --sequences 2 --db " +
                                       testing::quote(db));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--access"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("--sequences"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace distill
