// `distill bench`: fixed throughput workloads on Fashion-MNIST, measured through the real
// Trainer (the code path of every run), plus a matrix-multiply peak measured in the same
// process so that achieved GFLOP/s can be read as a fraction of what this machine can do.
//
// Workloads (issue 7):
//   hinton  teacher MLP 784-1200-1200-10 (dropout 0.2), student MLP 784-800-800-10, batch 128
//   tiny    the same teacher, student MLP 784-32-10 (overhead-bound)
//   cnn     CNN teacher (conv 32-64, dense 256, as in the cnn-teacher preset) -> student 784-800-800-10
// Each reports samples/s of teacher training, KD student training with the teacher-logit
// cache on and off, and evaluation (a forward pass over the test split), each with GFLOP/s
// counted from the models' multiply-accumulates (2 FLOPs per MAC forward, twice that backward).
//
// Thread contract: runBenchmark() changes process-wide thread settings (like a run) and
// blocks; call it from one thread. No torch types in this header.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/runtime/runtime.h"

namespace distill {

struct BenchOptions {
  std::vector<std::string> workloads{"hinton", "tiny", "cnn"};
  double seconds = 3.0;          // measured training time per phase (after a warm-up)
  std::string device = "auto";   // as the config key `device`
  int threads = 0;               // as the config key `threads` (0 = auto)
  std::string gemm = "auto";     // as the config key `gemm`
  std::string autocast = "off";  // as the config key `train.autocast` (CUDA only)
  std::string dataset_path;      // Fashion-MNIST folder; empty: the default
};

// One timed phase.
struct BenchPhase {
  std::string name;              // teacher_train | kd_cached | kd_uncached | teacher_eval | student_eval
  double samples_per_s = 0.0;
  int64_t samples = 0;           // samples in the measured window
  double seconds = 0.0;          // length of the measured window
  double flops_per_sample = 0.0; // counted FLOPs per sample (forward + backward where trained)
  double gflops = 0.0;           // achieved GFLOP/s
  // MLP teacher training: the mean rate of the teacher's step GEMMs alone, measured right
  // before and right after the phase (0 when not measured).
  double adjacent_gemm_gflops = 0.0;
};

struct BenchWorkload {
  std::string name;
  std::string teacher;  // model summaries
  std::string student;
  double cache_build_s = 0.0;  // computing the teacher's logits on the training set (chunked)
  std::vector<BenchPhase> phases;
  const BenchPhase* phase(const std::string& phase_name) const;
};

// A matrix-multiply rate, e.g. "1024x1024x1024" or "hinton-teacher-step" (the GEMMs of one
// training step of the Hinton teacher at batch 128, with their shapes and transposes).
struct MatmulRate {
  std::string shape;
  double gflops = 0.0;
};

struct BenchReport {
  std::string device;
  std::string torch_version;
  int cpu_cores = 0;
  ThreadSettings threads;
  std::vector<MatmulRate> matmul;
  double peak_gflops = 0.0;  // the highest of `matmul` (all measurements of the run)
  std::vector<BenchWorkload> workloads;
  double seconds_per_phase = 0.0;
};

// Every workload name runBenchmark() accepts.
std::vector<std::string> benchWorkloadNames();

// Runs the workloads; `progress` receives one line per finished measurement. Throws
// ConfigError for an unknown workload or a bad option, DataError when Fashion-MNIST is missing.
BenchReport runBenchmark(const BenchOptions& options, const std::function<void(const std::string&)>& progress = {});

}  // namespace distill
