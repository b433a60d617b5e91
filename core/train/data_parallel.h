// How a trainer takes part in a data-parallel run, and nothing of how ranks talk: the trainer
// sees this interface; core/dist/ implements it over c10d (Gloo on the CPU, NCCL on CUDA builds).
// TrainerOptions::parallel null: one process, exactly as before.
//
// What a data-parallel step computes (core/train/step_runner.cpp): every rank takes its shard of
// the same global batch (shard() below), computes its loss as the mean over its own units
// (samples, or tokens with a kept target), and weights its gradient by those units; the
// gradients are summed over the ranks and divided by the global units. That is the gradient of
// the mean over the whole global batch, as one process computes it, whatever the shards' sizes.
// The logged loss terms go through the same weighted sum.
//
// Thread contract: the training thread only, on every rank in the same order (every call is a
// collective that all ranks make).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace distill {

// The gradient all-reduce of one training phase's parameters, started from gradient hooks as
// the backward pass produces them (core/dist/gradient_buckets.h).
class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  // Before backward: arms the hooks with this rank's weight (`local_units`) and starts the
  // sum of `stats` (float64 [S] on the CPU) over the ranks.
  virtual void beginStep(const torch::Tensor& stats, double local_units) = 0;
  // After backward: starts what is left, waits for everything; then each parameter's gradient
  // is sum over ranks of (units x gradient) / (global units), the same on every rank. Returns
  // `stats` summed over the ranks. Throws DistributedError naming a rank that failed.
  virtual torch::Tensor finishStep() = 0;
};

class DataParallel {
 public:
  virtual ~DataParallel() = default;
  virtual int rank() const = 0;
  virtual int worldSize() const = 0;
  // One line for the run's environment record and log (ranks, backend, addresses).
  virtual std::string describe() const = 0;
  // This rank's rows of a global batch's `indices`: contiguous, the first (size % world) ranks
  // one row more. A rank may get none (a last partial batch smaller than the world).
  torch::Tensor shard(const torch::Tensor& indices) const;
  virtual std::unique_ptr<GradientReducer> gradientReducer(const std::vector<torch::Tensor>& parameters) = 0;
  // Rank 0's values into every rank's `tensors` (the models' weights and buffers at the start).
  virtual void broadcastFromRankZero(const std::vector<torch::Tensor>& tensors) = 0;
  // Sums `values` (CPU) over the ranks, in place.
  virtual void allReduceSum(torch::Tensor& values) = 0;
  // Every rank waits for every other, with the long timeout: rank 0 evaluates, checkpoints and
  // writes the database alone while the others wait here (`what` names the wait in errors).
  virtual void waitForAll(const std::string& what) = 0;
};

}  // namespace distill
