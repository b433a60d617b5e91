// `distill fidelity` and `distill mirror` end to end: a small Fashion-MNIST run, its text and
// JSON reports, and bad input through the command line (exit 2 with a message naming it).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "support/cli_support.h"
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

}  // namespace
}  // namespace distill
