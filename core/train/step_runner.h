// One optimizer step of one training phase: the learning rate, the gradients released, the
// forward passes under autocast, the loss on the positions the task's mask keeps, backward
// (with fp16 loss scaling) and the optimizer's step. The phase loop (core/train/trainer.cpp)
// decides what to step on and when; this file decides how a step is computed, for any task.
//
// Thread contract: the training thread only.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "core/config/config.h"
#include "core/losses/loss.h"
#include "core/models/model.h"
#include "core/tasks/task.h"
#include "core/train/data_parallel.h"

namespace distill {

// CUDA autocast (train.autocast) for the forward passes and the loss, as torch.autocast.
struct Precision {
  bool autocast = false;
  at::ScalarType dtype = at::kFloat;  // kHalf or kBFloat16 when autocast
};

// The optimizer train.optimizer names over `parameters`. `fused`: FusedSGD, which computes
// torch::optim::SGD's step bit for bit in one pass (the plain reference loop keeps LibTorch's).
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainConfig& config,
                                                       const std::vector<torch::Tensor>& parameters, bool fused);

// The frozen teacher's outputs for a batch's rows, read from the trainer's cache
// (core/train/teacher_cache.h) instead of a forward pass: its logits ([B, ..., C]), or its top-k
// log-probabilities at T = 1 and their classes ([B, ..., K], as LossInputs::teacher_topk_*).
// None defined: the teacher runs when the loss needs it.
struct CachedTeacher {
  torch::Tensor logits;
  torch::Tensor topk_log_probs;
  torch::Tensor topk_indices;
};

class StepRunner {
 public:
  // The teacher phase: `model` learns the labels (teacher and loss null). The student phase:
  // `model` learns through `loss` from the frozen `teacher`; the loss's own parameters
  // (FitNet's regressor) train with the student's.
  // `parallel`: one rank of a data-parallel run (core/train/data_parallel.h): the batch is this
  // rank's shard; the gradients and the returned loss terms are those of the global batch.
  StepRunner(ModelImpl& model, ModelImpl* teacher, DistillationLoss* loss, const ExperimentConfig& config,
             Precision precision, bool reference_loop, DataParallel* parallel = nullptr);
  ~StepRunner();

  torch::optim::Optimizer& optimizer() { return *optimizer_; }

  // One step on `batch` at learning rate `lr`. `cached`: the frozen teacher's cached outputs
  // for these rows (none: computed when the loss needs them); `epoch`: the fractional epoch of
  // the phase (for warm-ups). Returns the loss terms (with grad history; data-parallel: the
  // global batch's means, without).
  LossTerms step(const Batch& batch, const CachedTeacher& cached, double epoch, double lr);

  // The units (samples, or kept tokens) the last step trained on, over every rank.
  int64_t lastUnits() const { return last_units_; }
  // Data-parallel: this rank's stop request, summed over the ranks with the next step's losses;
  // agreedStop() is true on every rank after the same step once any rank asked.
  void setLocalStop(bool stop) { local_stop_ = stop; }
  bool agreedStop() const { return agreed_stop_; }

  // The frozen teacher's outputs on `inputs`, in eval mode without gradients, under the same
  // autocast as a step (so that cached and computed logits agree).
  torch::Tensor teacherOutputs(const torch::Tensor& inputs);

 private:
  struct LossScaler;
  ModelImpl& model_;
  ModelImpl* teacher_;
  DistillationLoss* loss_;
  Precision precision_;
  bool reference_loop_;
  TeacherAccess access_;
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<LossScaler> scaler_;
  std::unique_ptr<GradientReducer> reducer_;  // data-parallel only
  int64_t last_units_ = 0;
  bool local_stop_ = false;
  bool agreed_stop_ = false;
};

}  // namespace distill
