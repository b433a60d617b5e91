// Benchmark, not a test (ctest does not run it): what the KV cache buys in text generation
// (issue 21). The default lm teacher's shape (GPT 4 layers x 256, 4 heads, vocab 256) at a
// context of 512, untrained (the cost does not depend on the weights), generates --tokens new
// tokens greedily after a --prompt-token prompt, once with the KV cache (prefill, then one
// position per step) and once re-running the whole sequence for every token, and prints the
// medians and their ratio. The tokens must agree (checked).
//
//   build/tests/benchmarks/generate_benchmark [--tokens 256] [--prompt 256] [--context 512] [--reps 3] [--threads 0]
#include <CLI/CLI.hpp>

#include <torch/torch.h>

#include <cstdio>
#include <vector>

#include "core/runtime/allocator.h"
#include "core/runtime/runtime.h"
#include "core/tasks/lm/generate.h"
#include "core/tasks/lm/gpt.h"
#include "tests/benchmarks/bench_support.h"

using namespace distill;
using namespace distill::bench;

int main(int argc, char** argv) {
  configureAllocator();  // as distill's main does (see core/runtime/allocator.h)
  int64_t tokens = 256, prompt_tokens = 256, context = 512;
  int reps = 3, thread_count = 0;
  CLI::App cli{"Times generation with and without the KV cache (issue 21)", "generate_benchmark"};
  cli.add_option("--tokens", tokens, "new tokens per generation")->check(CLI::Range(1, 100000))->capture_default_str();
  cli.add_option("--prompt", prompt_tokens, "prompt tokens")->check(CLI::Range(1, 100000))->capture_default_str();
  cli.add_option("--context", context, "the model's context")->check(CLI::Range(1, 100000))->capture_default_str();
  cli.add_option("--threads", thread_count, "intra-op threads; 0 = the workbench's choice (on a loaded machine, 1 "
                                           "avoids OpenMP barriers waiting on a descheduled thread at every small op)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cli.add_option("--reps", reps, "repetitions of each")->check(CLI::Range(1, 1000))->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  if (prompt_tokens + tokens - 1 > context) {
    std::fprintf(stderr, "--prompt + --tokens - 1 must fit --context\n");
    return 2;
  }

  const ThreadSettings threads = applyThreadSettings(thread_count);  // 0: the workbench's choice, as distill's
  torch::manual_seed(0);
  GptConfig config;  // the default teacher: 4 layers x 256, 4 heads, vocab 256
  config.context = context;
  Gpt model(config);
  std::vector<int64_t> prompt(static_cast<size_t>(prompt_tokens));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = 32 + static_cast<int64_t>(i % 95);  // printable bytes
  std::printf("%s\nthreads: %d intra-op, %d %s; linear layers: %s\nprompt %lld tokens, %lld new tokens, greedy\n",
              model->summary().c_str(), threads.intra_op_threads, threads.blas_threads, threads.blas.c_str(),
              threads.gemm.c_str(), static_cast<long long>(prompt_tokens), static_cast<long long>(tokens));

  SamplingOptions options;
  options.temperature = 0.0;
  options.max_tokens = tokens;
  double medians[2] = {0.0, 0.0};
  std::vector<int64_t> outputs[2];
  for (int cached = 1; cached >= 0; --cached) {
    options.use_cache = cached == 1;
    generate(*model, prompt, options);  // warm-up
    std::vector<double> times;
    for (int r = 0; r < reps; ++r) {
      const auto start = std::chrono::steady_clock::now();
      outputs[cached] = generate(*model, prompt, options);
      times.push_back(msSince(start));
    }
    const Stats s = stats(times);
    medians[cached] = s.median;
    std::printf("%-9s median %9.1f ms (min %.1f, max %.1f, n=%zu)  %7.1f tokens/s\n",
                cached ? "KV cache" : "no cache", s.median, s.min, s.max, s.count,
                1000.0 * static_cast<double>(outputs[cached].size()) / s.median);
  }
  std::printf("speed-up with the KV cache: %.2fx; same tokens: %s\n", medians[0] / medians[1],
              outputs[0] == outputs[1] ? "yes" : "NO");
  return outputs[0] == outputs[1] ? 0 : 1;
}
