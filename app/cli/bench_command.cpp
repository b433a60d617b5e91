#include "app/cli/bench_command.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

#include "core/bench/bench.h"

namespace distill::cli {

namespace {

std::vector<std::string> splitWorkloads(const std::string& text) {
  std::vector<std::string> names;
  std::stringstream stream(text);
  std::string name;
  while (std::getline(stream, name, ',')) {
    if (name == "all") {
      for (const auto& n : benchWorkloadNames()) names.push_back(n);  // lm_memory only by name
    } else if (!name.empty()) {
      names.push_back(name);  // runBenchmark() refuses unknown names with a message
    }
  }
  return names;
}

nlohmann::json threadsJson(const ThreadSettings& threads) {
  return {{"intra_op_threads", threads.intra_op_threads},
          {"blas_threads", threads.blas_threads},
          {"blas", threads.blas},
          {"reason", threads.reason},
          {"gemm", threads.gemm}};
}

nlohmann::json matmulJson(const std::vector<MatmulRate>& rates) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : rates) list.push_back({{"shape", m.shape}, {"gflops", m.gflops}});
  return list;
}

// "samples" -> "sample": the unit one FLOP count is per.
std::string singular(const std::string& unit) { return unit.empty() ? unit : unit.substr(0, unit.size() - 1); }

// The peak a workload's phases are a fraction of: its own (measured under its own threads) or
// the report's.
double peakOf(const BenchReport& report, const BenchWorkload& workload) {
  return workload.own_threads ? workload.peak_gflops : report.peak_gflops;
}

nlohmann::json toJson(const BenchReport& report) {
  nlohmann::json j;
  j["device"] = report.device;
  j["torch_version"] = report.torch_version;
  j["cpu_cores"] = report.cpu_cores;
  j["threads"] = threadsJson(report.threads);
  j["seconds_per_phase"] = report.seconds_per_phase;
  j["matmul"] = matmulJson(report.matmul);
  j["peak_gflops"] = report.peak_gflops;
  j["workloads"] = nlohmann::json::object();
  for (const auto& w : report.workloads) {
    const double peak = peakOf(report, w);
    nlohmann::json phases = nlohmann::json::object();
    // Keys in the workload's unit: samples_per_s, samples, flops_per_sample (image);
    // tokens_per_s, tokens, flops_per_token (lm).
    for (const auto& p : w.phases)
      phases[p.name] = {{w.unit + "_per_s", p.units_per_s},
                        {"gflops", p.gflops},
                        {"fraction_of_peak", peak > 0 ? p.gflops / peak : 0.0},
                        {"adjacent_gemm_gflops", p.adjacent_gemm_gflops},
                        {"fraction_of_adjacent_gemm",
                         p.adjacent_gemm_gflops > 0 ? p.gflops / p.adjacent_gemm_gflops : 0.0},
                        {"flops_per_" + singular(w.unit), p.flops_per_unit},
                        {w.unit, p.units},
                        {"seconds", p.seconds}};
    nlohmann::json workload = {{"unit", w.unit},
                               {"teacher", w.teacher},
                               {"student", w.student},
                               {"cache_build_s", w.cache_build_s},
                               {"phases", phases}};
    if (w.topk_cache_build_s > 0) workload["topk_cache_build_s"] = w.topk_cache_build_s;
    if (w.own_threads) {
      workload["threads"] = threadsJson(w.threads);
      workload["matmul"] = matmulJson(w.matmul);
      workload["peak_gflops"] = w.peak_gflops;
    }
    if (w.memory.vocab > 0)
      workload["memory"] = {{"vocab", w.memory.vocab},
                            {"batch", w.memory.batch},
                            {"context", w.memory.context},
                            {"rss_before_step_mb", w.memory.rss_before_step_mb},
                            {"peak_rss_mb", w.memory.peak_rss_mb}};
    j["workloads"][w.name] = workload;
  }
  return j;
}

void printTable(const BenchReport& report) {
  fmt::print("device {}, LibTorch {}, {} CPU cores\n", report.device, report.torch_version, report.cpu_cores);
  fmt::print("threads: {} torch intra-op, {} BLAS ({}; {})\n", report.threads.intra_op_threads,
             report.threads.blas_threads, report.threads.reason, report.threads.blas);
  fmt::print("linear layers' matrix products: {}\n", report.threads.gemm);
  for (const auto& m : report.matmul) fmt::print("matmul {}: {:.1f} GFLOP/s\n", m.shape, m.gflops);
  fmt::print("peak (the highest matmul rate of this run): {:.1f} GFLOP/s; {:.1f} s measured per training phase\n",
             report.peak_gflops,
             report.seconds_per_phase);
  for (const auto& w : report.workloads) {
    if (!w.own_threads) continue;
    fmt::print("{}: {} torch intra-op, {} BLAS ({})\n", w.name, w.threads.intra_op_threads, w.threads.blas_threads,
               w.threads.reason);
    for (const auto& m : w.matmul) fmt::print("{} matmul {}: {:.1f} GFLOP/s\n", w.name, m.shape, m.gflops);
    if (w.peak_gflops > 0) fmt::print("{} peak (under its threads): {:.1f} GFLOP/s\n", w.name, w.peak_gflops);
  }
  fmt::print("\n{:<9} {:<17} {:>12} {:>9} {:>8}\n", "workload", "phase", "per second", "GFLOP/s", "of peak");
  for (const auto& w : report.workloads) {
    const double peak = peakOf(report, w);
    for (const auto& p : w.phases) {
      fmt::print("{:<9} {:<17} {:>12.0f} {:>9.1f} {:>7.0f}%  {}", w.name, p.name, p.units_per_s, p.gflops,
                 peak > 0 ? 100.0 * p.gflops / peak : 0.0, w.unit);
      if (p.adjacent_gemm_gflops > 0)
        fmt::print("   ({:.0f}% of its GEMMs alone measured around it, {:.1f} GFLOP/s)", 100.0 * p.gflops / p.adjacent_gemm_gflops,
                   p.adjacent_gemm_gflops);
      fmt::print("\n");
    }
    if (w.memory.vocab > 0) {
      fmt::print("{:<9} {:<17} one KD step at a {}-token vocabulary, batch {}, context {}: {:.0f} MB resident before, "
                 "peak {:.0f} MB\n",
                 w.name, "memory", w.memory.vocab, w.memory.batch, w.memory.context, w.memory.rss_before_step_mb,
                 w.memory.peak_rss_mb);
      continue;
    }
    fmt::print("{:<9} {:<17} {:>11.2f}s   (the teacher's outputs on the training set, in chunks)\n", w.name,
               "cache_build", w.cache_build_s);
    if (w.topk_cache_build_s > 0)
      fmt::print("{:<9} {:<17} {:>11.2f}s   (the teacher's top-k file)\n", w.name, "topk_cache_build",
                 w.topk_cache_build_s);
  }
  fmt::print("\nGFLOP/s counts 2 FLOPs per multiply-accumulate of the linear and conv layers forward, twice that\n"
             "backward; kd_uncached adds the teacher's forward pass. lm: 6 N + 12 L T d per trained token (nanoGPT's\n"
             "estimate; N parameters without the position embedding), a third of it forward; generation not counted.\n");
}

}  // namespace

CLI::App* addBenchCommand(CLI::App& app, BenchArgs& args) {
  auto* bench = app.add_subcommand(
      "bench", "measure training and evaluation throughput on fixed Fashion-MNIST and language-model workloads");
  bench->add_flag("--json", args.json, "print one JSON object (progress goes to standard error)");
  bench->add_option("-w,--workload", args.workload,
                    "hinton, tiny, cnn, lm, lm_memory or all (hinton, tiny, cnn and lm), or a comma-separated list")
      ->type_name("NAME");
  bench->add_option("--seconds", args.seconds, "measured seconds per training phase (default 3)")->type_name("S");
  bench->add_option("--device", args.device, "auto, cpu, cuda or cuda:N");
  bench->add_option("--threads", args.threads, "torch intra-op threads (0 = auto, as in a run)");
  bench->add_option("--gemm", args.gemm, "linear layers' matrix products on the CPU: auto, onednn or blas (as the config key)")
      ->check(CLI::IsMember({"auto", "onednn", "blas"}));
  bench->add_option("--autocast", args.autocast, "CUDA mixed precision: off, bf16 or fp16")
      ->check(CLI::IsMember({"off", "bf16", "fp16"}));
  bench->add_option("--data", args.data, "Fashion-MNIST folder (default: /usr/share/datasets/fashion-mnist)")
      ->type_name("DIR");
  bench->add_option("--corpus", args.corpus, "lm workloads: text corpus (default: /usr/share/games/fortunes)")
      ->type_name("PATH");
  bench->add_option("--new-tokens", args.new_tokens, "lm generation: new tokens per call (default 256)")
      ->check(CLI::Range(1, 100000))
      ->type_name("N");
  bench->add_option("--prompt-tokens", args.prompt_tokens, "lm generation: prompt tokens (default 256)")
      ->check(CLI::Range(1, 100000))
      ->type_name("N");
  return bench;
}

int benchCommand(const BenchArgs& args) {
  BenchOptions options;
  options.workloads = splitWorkloads(args.workload);
  options.seconds = args.seconds;
  options.device = args.device;
  options.threads = args.threads;
  options.gemm = args.gemm;
  options.autocast = args.autocast;
  options.dataset_path = args.data;
  options.corpus = args.corpus;
  options.new_tokens = args.new_tokens;
  options.prompt_tokens = args.prompt_tokens;
  const BenchReport report = runBenchmark(options, [](const std::string& line) { fmt::print(stderr, "{}\n", line); });
  if (args.json)
    std::cout << toJson(report).dump() << std::endl;
  else
    printTable(report);
  return 0;
}

}  // namespace distill::cli
