// What the `distill bench` workloads share (core/bench/bench.cpp: the image workloads,
// core/bench/lm_bench.cpp: the language-model ones): timed rates of a piece of work, the
// matrix-multiply rates a peak is taken from, and the observer that times one Trainer phase.
// Internal to core/bench; the public interface is bench.h.
//
// Thread contract: as bench.h, one thread (the one that runs the benchmark).
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/bench/bench.h"
#include "core/train/observer.h"

namespace distill::bench {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start);

// Waits for the device (CUDA) before a clock is read; nothing on the CPU.
void synchronize(const torch::Device& device);

// The median of several timed trials of `work` (each at least `trial_s` long), as FLOP/s
// (or as calls of `flops_per_call` units per second for any other unit).
double timedRate(const std::function<void()>& work, double flops_per_call, double trial_s, int trials,
                 const torch::Device& device);

// A square 1024^3 product through LibTorch's mm, or (`linear_library`) through the library of
// the workbench's linear layers (core/models/linear.h: oneDNN where chosen).
MatmulRate measureSquareMatmul(const torch::Device& device, double trial_s, bool linear_library);

// One linear layer's products in a training step: forward X W^T with X [rows, in] and W
// [out, in], and backward dX = dY W and dW = dY^T X: 3 x 2 x rows x in x out FLOPs.
struct GemmShape {
  int64_t rows = 0, in = 0, out = 0;
};

// The products of one training step of `layers` (named `name`), without anything around them;
// through the linear layers' library (`linear_library`) or LibTorch's mm.
MatmulRate measureStepGemms(const std::string& name, const std::vector<GemmShape>& layers, bool linear_library,
                            const torch::Device& device, double trial_s, int trials);

// Watches one Trainer run: times the training steps between logged points, skipping the
// first interval (warm-up), and stops the run once `seconds` have been measured. Every step
// counts `units_per_step` (a batch's samples, or its tokens).
class PhaseTimer : public TrainingObserver {
 public:
  PhaseTimer(RunControl& control, Phase phase, double seconds, int64_t units_per_step);

  void onMetrics(const std::vector<MetricPoint>& points) override;
  void onLog(LogLevel level, const std::string& message) override;

  double measuredSeconds() const;
  int64_t measuredUnits() const;
  // From the start of phase 2 to the trainer's line saying the teacher's outputs were cached.
  double cacheBuildSeconds() const { return cache_build_s_; }
  const std::string& error() const { return error_; }

 private:
  RunControl& control_;
  Phase phase_;
  double seconds_;
  int64_t units_per_step_;
  int64_t first_step_ = -1, last_step_ = -1;
  Clock::time_point first_time_, last_time_, phase2_start_;
  double cache_build_s_ = 0.0;
  std::string error_;
};

// The config overrides that pick the student phase's teacher cache (distill.teacher_cache):
// `kind` off | logits | topk (k = 20, what LLM APIs return).
std::vector<std::string> teacherCacheOverrides(const std::string& kind);

BenchPhase phaseResult(const std::string& name, double units_per_s, int64_t units, double seconds,
                       double flops_per_unit);

// The phase `timer` measured; throws std::runtime_error when the run ended before a full
// measured interval.
BenchPhase trainedPhase(const std::string& name, const PhaseTimer& timer, double flops_per_unit);

// Everything a workload needs from the run of the benchmark.
struct BenchContext {
  const BenchOptions& options;
  torch::Device device;
  std::string scratch;  // a folder for checkpoints, removed when the benchmark ends
  double trial_s = 0.4; // length of one timed trial of a matrix product
  std::function<void(const std::string&)> say;
};

}  // namespace distill::bench
