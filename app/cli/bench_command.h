// `distill bench`: throughput of fixed workloads (core/bench/bench.h), as a table or JSON.
// Thread contract: main thread only.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace distill::cli {

struct BenchArgs {
  bool json = false;
  std::string workload = "all";  // hinton | tiny | cnn | lm | lm_memory | all, or a comma-separated list
  double seconds = 3.0;
  std::string device = "auto";
  int threads = 0;
  std::string gemm = "auto";  // as the config key `gemm`
  std::string autocast = "off";
  std::string data;  // Fashion-MNIST folder; empty: the default
  std::string corpus;  // lm workloads' corpus; empty: fortunes
  int64_t new_tokens = 256;
  int64_t prompt_tokens = 256;
};

// Registers the subcommand and its options on `app`.
CLI::App* addBenchCommand(CLI::App& app, BenchArgs& args);
// Runs it; returns the exit code. Bad options throw ConfigError, a missing dataset DataError.
int benchCommand(const BenchArgs& args);

}  // namespace distill::cli
