#include "core/bench/bench.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/config/config.h"

namespace distill {
namespace {

TEST(Bench, RefusesUnknownWorkloadsAndBadDurationsBeforeAnyWork) {
  BenchOptions options;
  options.workloads = {"hinton", "resnet9000"};
  try {
    runBenchmark(options);
    FAIL() << "an unknown workload must be refused";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("resnet9000"), std::string::npos) << e.what();
  }
  options.workloads = {"tiny"};
  for (double seconds : {0.0, -1.0, 1e9}) {
    options.seconds = seconds;
    EXPECT_THROW(runBenchmark(options), ConfigError) << seconds;
  }
}

// A short real run of the overhead-bound workload on Fashion-MNIST (skipped without it).
TEST(Bench, TinyWorkloadReportsEveryPhaseWithCountedFlops) {
  if (!std::filesystem::exists(defaultDatasetPath("fashion-mnist") + "/train-images-idx3-ubyte.gz") &&
      !std::filesystem::exists(defaultDatasetPath("fashion-mnist") + "/train-images-idx3-ubyte"))
    GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  BenchOptions options;
  options.workloads = {"tiny"};
  options.seconds = 0.3;
  options.device = "cpu";
  std::vector<std::string> lines;
  const BenchReport report = runBenchmark(options, [&](const std::string& line) { lines.push_back(line); });
  EXPECT_EQ(report.device, "cpu");
  // The square product (LibTorch's mm, and oneDNN's where the linear layers use it), the step
  // GEMMs, and the step GEMMs before and after the teacher phase.
  const bool onednn = report.threads.gemm.find("oneDNN") != std::string::npos;
  ASSERT_EQ(report.matmul.size(), onednn ? 5u : 4u) << report.threads.gemm;
  EXPECT_NE(report.matmul[0].shape.find("LibTorch mm"), std::string::npos) << report.matmul[0].shape;
  if (onednn) EXPECT_NE(report.matmul[1].shape.find("oneDNN"), std::string::npos) << report.matmul[1].shape;
  // The peak is the fastest of them.
  for (const auto& m : report.matmul) EXPECT_LE(m.gflops, report.peak_gflops) << m.shape;
  EXPECT_GT(report.peak_gflops, 0.0);
  EXPECT_GE(report.threads.intra_op_threads, 1);
  ASSERT_EQ(report.workloads.size(), 1u);
  const auto& tiny = report.workloads[0];
  for (const char* phase : {"teacher_train", "kd_cached", "kd_uncached", "teacher_eval", "student_eval"}) {
    ASSERT_NE(tiny.phase(phase), nullptr) << phase;
    EXPECT_GT(tiny.phase(phase)->units_per_s, 0.0) << phase;
    EXPECT_GT(tiny.phase(phase)->gflops, 0.0) << phase;
  }
  // 784-1200-1200-10 teacher: 2,392,800 multiply-accumulates per sample, x2 forward, x3 trained.
  EXPECT_DOUBLE_EQ(tiny.phase("teacher_train")->flops_per_unit, 6.0 * 2392800);
  // 784-32-10 student: 25,408 MACs; without the cache the teacher's forward pass is added.
  EXPECT_DOUBLE_EQ(tiny.phase("kd_cached")->flops_per_unit, 6.0 * 25408);
  EXPECT_DOUBLE_EQ(tiny.phase("kd_uncached")->flops_per_unit, 6.0 * 25408 + 2.0 * 2392800);
  EXPECT_EQ(tiny.phase("teacher_train")->units % 128, 0);
  EXPECT_GT(tiny.phase("teacher_train")->adjacent_gemm_gflops, 0.0);
  EXPECT_GT(tiny.cache_build_s, 0.0);
  EXPECT_FALSE(lines.empty());
}

}  // namespace
}  // namespace distill
