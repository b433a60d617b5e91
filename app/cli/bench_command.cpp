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
      for (const auto& n : benchWorkloadNames()) names.push_back(n);
    } else if (!name.empty()) {
      names.push_back(name);  // runBenchmark() refuses unknown names with a message
    }
  }
  return names;
}

nlohmann::json toJson(const BenchReport& report) {
  nlohmann::json j;
  j["device"] = report.device;
  j["torch_version"] = report.torch_version;
  j["cpu_cores"] = report.cpu_cores;
  j["threads"] = {{"intra_op_threads", report.threads.intra_op_threads},
                  {"blas_threads", report.threads.blas_threads},
                  {"blas", report.threads.blas},
                  {"reason", report.threads.reason},
                  {"gemm", report.threads.gemm}};
  j["seconds_per_phase"] = report.seconds_per_phase;
  j["matmul"] = nlohmann::json::array();
  for (const auto& m : report.matmul) j["matmul"].push_back({{"shape", m.shape}, {"gflops", m.gflops}});
  j["peak_gflops"] = report.peak_gflops;
  j["workloads"] = nlohmann::json::object();
  for (const auto& w : report.workloads) {
    nlohmann::json phases = nlohmann::json::object();
    for (const auto& p : w.phases)
      phases[p.name] = {{"samples_per_s", p.samples_per_s},
                        {"gflops", p.gflops},
                        {"fraction_of_peak", report.peak_gflops > 0 ? p.gflops / report.peak_gflops : 0.0},
                        {"adjacent_gemm_gflops", p.adjacent_gemm_gflops},
                        {"fraction_of_adjacent_gemm",
                         p.adjacent_gemm_gflops > 0 ? p.gflops / p.adjacent_gemm_gflops : 0.0},
                        {"flops_per_sample", p.flops_per_sample},
                        {"samples", p.samples},
                        {"seconds", p.seconds}};
    j["workloads"][w.name] = {
        {"teacher", w.teacher}, {"student", w.student}, {"cache_build_s", w.cache_build_s}, {"phases", phases}};
  }
  return j;
}

void printTable(const BenchReport& report) {
  fmt::print("device {}, LibTorch {}, {} CPU cores\n", report.device, report.torch_version, report.cpu_cores);
  fmt::print("threads: {} torch intra-op, {} BLAS ({}; {})\n", report.threads.intra_op_threads,
             report.threads.blas_threads, report.threads.reason, report.threads.blas);
  fmt::print("linear layers' matrix products: {}\n", report.threads.gemm);
  for (const auto& m : report.matmul) fmt::print("matmul {}: {:.1f} GFLOP/s\n", m.shape, m.gflops);
  fmt::print("peak (the highest matmul rate of this run): {:.1f} GFLOP/s; {:.1f} s measured per training phase\n\n",
             report.peak_gflops,
             report.seconds_per_phase);
  fmt::print("{:<8} {:<14} {:>12} {:>9} {:>8}\n", "workload", "phase", "samples/s", "GFLOP/s", "of peak");
  for (const auto& w : report.workloads) {
    for (const auto& p : w.phases) {
      fmt::print("{:<8} {:<14} {:>12.0f} {:>9.1f} {:>7.0f}%", w.name, p.name, p.samples_per_s, p.gflops,
                 report.peak_gflops > 0 ? 100.0 * p.gflops / report.peak_gflops : 0.0);
      if (p.adjacent_gemm_gflops > 0)
        fmt::print("   ({:.0f}% of its GEMMs alone measured around it, {:.1f} GFLOP/s)", 100.0 * p.gflops / p.adjacent_gemm_gflops,
                   p.adjacent_gemm_gflops);
      fmt::print("\n");
    }
    fmt::print("{:<8} {:<14} {:>11.2f}s   (teacher-logit cache of the training set, in chunks)\n", w.name,
               "cache_build", w.cache_build_s);
  }
  fmt::print("\nGFLOP/s counts 2 FLOPs per multiply-accumulate of the linear and conv layers forward, twice that\n"
             "backward; kd_uncached adds the teacher's forward pass.\n");
}

}  // namespace

CLI::App* addBenchCommand(CLI::App& app, BenchArgs& args) {
  auto* bench = app.add_subcommand("bench", "measure training and evaluation throughput on fixed Fashion-MNIST workloads");
  bench->add_flag("--json", args.json, "print one JSON object (progress goes to standard error)");
  bench->add_option("-w,--workload", args.workload, "hinton, tiny, cnn or all (or a comma-separated list)")
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
  const BenchReport report = runBenchmark(options, [](const std::string& line) { fmt::print(stderr, "{}\n", line); });
  if (args.json)
    std::cout << toJson(report).dump() << std::endl;
  else
    printTable(report);
  return 0;
}

}  // namespace distill::cli
