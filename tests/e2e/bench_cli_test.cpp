// `distill bench` from the command line: bad options exit 2 with a message naming them, and a
// short real run prints one JSON object with every workload phase and the thread settings
// (the image workloads on Fashion-MNIST, the language-model one on fortunes).
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

// The language-model workload (issue 21): tokens/s of every phase through the trainer, at one
// torch thread, with the FLOPs counted as nanoGPT counts them and a peak measured under its
// own threads. Short generations keep it to seconds.
TEST(BenchCli, LmWorkloadReportsTokensPerSecondOfEveryPhase) {
  if (!std::filesystem::exists("/usr/share/games/fortunes")) GTEST_SKIP() << "fortunes is not installed";
  const auto result = bench("--json --workload lm --seconds 0.2 --device cpu --new-tokens 4 --prompt-tokens 4");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto j = nlohmann::json::parse(result.out);
  const auto& lm = j.at("workloads").at("lm");
  EXPECT_EQ(lm.at("unit"), "tokens");
  EXPECT_EQ(lm.at("threads").at("intra_op_threads").get<int>(), 1) << lm.at("threads");
  EXPECT_GT(lm.at("peak_gflops").get<double>(), 0.0);
  EXPECT_NE(lm.at("teacher").get<std::string>().find("GPT 4 layers x 256"), std::string::npos) << lm.at("teacher");
  const auto& phases = lm.at("phases");
  for (const char* phase :
       {"teacher_train", "kd_uncached", "kd_cached", "kd_topk_cache", "generate_cached", "generate_uncached"}) {
    ASSERT_TRUE(phases.contains(phase)) << phase << " in " << phases;
    EXPECT_GT(phases.at(phase).at("tokens_per_s").get<double>(), 0.0) << phase;
  }
  // A measured step is a batch of 32 blocks of 128 tokens.
  EXPECT_EQ(phases.at("teacher_train").at("tokens").get<int64_t>() % (32 * 128), 0);
  // 6 N + 12 L T d: the teacher's 3,257,856 parameters less its 128 x 256 position embedding.
  EXPECT_DOUBLE_EQ(phases.at("teacher_train").at("flops_per_token").get<double>(),
                   6.0 * (3257856 - 128 * 256) + 12.0 * 4 * 128 * 256);
  EXPECT_GT(phases.at("teacher_train").at("fraction_of_peak").get<double>(), 0.0);
  // Without a cache the teacher's forward pass (a third of its trained FLOPs) is added.
  EXPECT_GT(phases.at("kd_uncached").at("flops_per_token").get<double>(),
            phases.at("kd_cached").at("flops_per_token").get<double>());
  EXPECT_GT(lm.at("cache_build_s").get<double>(), 0.0);
  EXPECT_GT(lm.at("topk_cache_build_s").get<double>(), 0.0);
  EXPECT_NE(result.err.find("lm threads: 1 torch intra-op"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace distill
