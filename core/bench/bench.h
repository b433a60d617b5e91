// `distill bench`: fixed throughput workloads measured through the real Trainer (the code path
// of every run), plus a matrix-multiply peak measured in the same process so that achieved
// GFLOP/s can be read as a fraction of what this machine can do.
//
// Image workloads on Fashion-MNIST (issue 7):
//   hinton  teacher MLP 784-1200-1200-10 (dropout 0.2), student MLP 784-800-800-10, batch 128
//   tiny    the same teacher, student MLP 784-32-10 (overhead-bound)
//   cnn     CNN teacher (conv 32-64, dense 256, as in the cnn-teacher preset) -> student 784-800-800-10
// Each reports samples/s of teacher training, KD student training with the teacher-logit
// cache on and off, and evaluation (a forward pass over the test split), each with GFLOP/s
// counted from the models' multiply-accumulates (2 FLOPs per MAC forward, twice that backward).
//
// Language-model workloads (issue 21, core/bench/lm_bench.h), the shapes of
// ../shared/bench/reference_lm_kd.py: byte tokens of Debian's fortunes, GPT teacher 4 layers x
// 256 (4 heads, dropout 0.1), student 2 x 128, context 128, batch 32, AdamW, KD at T = 2:
//   lm         tokens/s of teacher training, KD without a teacher cache, with the logit cache
//              and with the top-k file, and generation of new_tokens tokens with and without the
//              KV cache
//   lm_memory  one KD step at a 50,000-token vocabulary (batch 8, context 256): peak memory
// Both run with one torch thread unless `threads` is set (the lm presets' choice, and the
// reference is compared at one thread).
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
  std::vector<std::string> workloads{"hinton", "tiny", "cnn", "lm"};
  double seconds = 3.0;          // measured training time per phase (after a warm-up)
  std::string device = "auto";   // as the config key `device`
  int threads = 0;               // as the config key `threads` (0 = auto)
  std::string gemm = "auto";     // as the config key `gemm`
  std::string autocast = "off";  // as the config key `train.autocast` (CUDA only)
  std::string dataset_path;      // Fashion-MNIST folder; empty: the default
  std::string corpus;            // lm workloads: the text corpus (lm.corpus); empty: fortunes
  int64_t new_tokens = 256;      // lm generation: tokens generated per call
  int64_t prompt_tokens = 256;   // lm generation: prompt length (the model's context is both)
};

// One timed phase. Its units are its workload's (samples, or tokens).
struct BenchPhase {
  // teacher_train | kd_cached | kd_uncached | teacher_eval | student_eval; lm: teacher_train |
  // kd_uncached | kd_cached | kd_topk_cache | generate_cached | generate_uncached
  std::string name;
  double units_per_s = 0.0;
  int64_t units = 0;             // units in the measured window
  double seconds = 0.0;          // length of the measured window
  double flops_per_unit = 0.0;   // counted FLOPs per unit (forward + backward where trained; 0: not counted)
  double gflops = 0.0;           // achieved GFLOP/s
  // MLP teacher training: the mean rate of the teacher's step GEMMs alone, measured right
  // before and right after the phase (0 when not measured).
  double adjacent_gemm_gflops = 0.0;
};

// A matrix-multiply rate, e.g. "1024x1024x1024" or "hinton-teacher-step" (the GEMMs of one
// training step of the Hinton teacher at batch 128, with their shapes and transposes).
struct MatmulRate {
  std::string shape;
  double gflops = 0.0;
};

// lm_memory: resident memory around one KD step (from the kernel: /proc/self/statm and
// getrusage's peak).
struct BenchMemory {
  int64_t vocab = 0, batch = 0, context = 0;
  double rss_before_step_mb = 0.0;  // resident when the student phase began (models built)
  double peak_rss_mb = 0.0;         // the process's peak, after the first step
};

struct BenchWorkload {
  std::string name;
  std::string unit = "samples";  // what the phases count: samples or tokens
  std::string teacher;  // model summaries
  std::string student;
  // Computing the teacher's outputs on the training set (chunked) for kd_cached, and the
  // top-k file for kd_topk_cache (lm).
  double cache_build_s = 0.0;
  double topk_cache_build_s = 0.0;
  std::vector<BenchPhase> phases;
  // A workload that runs with thread settings of its own (lm: one torch thread) has them here,
  // with the matrix-multiply rates measured under them and their peak; otherwise (own_threads
  // false) the report's apply.
  bool own_threads = false;
  ThreadSettings threads;
  std::vector<MatmulRate> matmul;
  double peak_gflops = 0.0;
  BenchMemory memory;  // lm_memory only
  const BenchPhase* phase(const std::string& phase_name) const;
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

// The throughput workloads `all` stands for: hinton, tiny, cnn, lm.
std::vector<std::string> benchWorkloadNames();
// Every workload name runBenchmark() accepts: those and lm_memory (run it in a process of its
// own: its peak is the process's).
std::vector<std::string> benchAllWorkloadNames();

// Runs the workloads; `progress` receives one line per finished measurement. Throws
// ConfigError for an unknown workload or a bad option, DataError when Fashion-MNIST (image
// workloads) or the corpus (lm workloads) is missing.
BenchReport runBenchmark(const BenchOptions& options, const std::function<void(const std::string&)>& progress = {});

}  // namespace distill
