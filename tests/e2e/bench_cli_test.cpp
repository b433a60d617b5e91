// `distill bench` from the command line: bad options exit 2 with a message naming them, and a
// short real run prints one JSON object with every workload phase and the thread settings.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "support/test_support.h"

namespace distill {
namespace {

testing::CommandResult bench(const std::string& args) {
  return testing::runCommand(std::string(DISTILL_CLI_PATH) + " bench " + args);
}

TEST(BenchCli, RefusesAnUnknownWorkloadAndBadSecondsWithExitCode2) {
  auto result = bench("--workload resnet9000");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("resnet9000"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--workload"), std::string::npos) << result.err;
  result = bench("--seconds 0 --workload tiny");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--seconds"), std::string::npos) << result.err;
  result = bench("--autocast fp8");
  EXPECT_EQ(result.exit_code, 2);
  result = bench("--gemm mkl");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--gemm"), std::string::npos) << result.err;
}

TEST(BenchCli, JsonHasEveryPhaseTheThreadsAndThePeak) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto result = bench("--json --workload tiny --seconds 0.3 --device cpu");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto j = nlohmann::json::parse(result.out);
  EXPECT_EQ(j.at("device"), "cpu");
  EXPECT_GE(j.at("threads").at("intra_op_threads").get<int>(), 1);
  EXPECT_FALSE(j.at("threads").at("reason").get<std::string>().empty());
  // Debian's LibTorch links oneDNN, so auto multiplies the linear layers through it.
  EXPECT_NE(j.at("threads").at("gemm").get<std::string>().find("oneDNN"), std::string::npos) << j.at("threads");
  EXPECT_GT(j.at("peak_gflops").get<double>(), 0.0);
  const auto& phases = j.at("workloads").at("tiny").at("phases");
  for (const char* phase : {"teacher_train", "kd_cached", "kd_uncached", "teacher_eval", "student_eval"}) {
    EXPECT_GT(phases.at(phase).at("samples_per_s").get<double>(), 0.0) << phase;
    EXPECT_GT(phases.at(phase).at("fraction_of_peak").get<double>(), 0.0) << phase;
  }
  // The thread settings are printed before any measurement (progress goes to stderr).
  EXPECT_NE(result.err.find("threads:"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("linear layers' matrix products: oneDNN"), std::string::npos) << result.err;
}

// `--gemm blas` takes LibTorch's matmul and says so; the peak then has no oneDNN product.
TEST(BenchCli, GemmBlasUsesLibTorchsMatmul) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto result = bench("--json --workload tiny --seconds 0.2 --device cpu --gemm blas");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto j = nlohmann::json::parse(result.out);
  EXPECT_NE(j.at("threads").at("gemm").get<std::string>().find("LibTorch matmul"), std::string::npos);
  EXPECT_NE(j.at("threads").at("reason").get<std::string>().find("1 torch thread"), std::string::npos);
  for (const auto& m : j.at("matmul")) EXPECT_EQ(m.at("shape").get<std::string>().find("oneDNN"), std::string::npos) << m;
}

}  // namespace
}  // namespace distill
