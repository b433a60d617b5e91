// A run's checkpoints: after each epoch the phase's model (<role>.pt, for reuse and export)
// and the training state (state.pt: the same weights, the optimizer, the RNGs, the task
// split's and the loss's own state, phase, epoch, step), each written to a temporary file and
// renamed into place, so a reader never sees half a file. The state carries its own copy of
// the weights so that a kill between the two writes cannot pair a state with weights of
// another epoch. Reading a state back for a resume is here too.
//
// Thread contract: the training thread only.
#pragma once

#include <torch/torch.h>

#include <string>

#include "core/losses/loss.h"
#include "core/models/model.h"
#include "core/tasks/task.h"
#include "core/train/observer.h"
#include "core/train/trainer.h"

namespace distill {

class Checkpointer {
 public:
  // `folder` empty: nothing is written (a run outside any store, e.g. a benchmark).
  Checkpointer(std::string folder, TrainingObserver& observer) : folder_(std::move(folder)), observer_(observer) {}
  void setFolder(std::string folder) { folder_ = std::move(folder); }
  const std::string& folder() const { return folder_; }

  // Writes <role>.pt and state.pt for the end of `epoch` (role: teacher | student) and tells
  // the observer. A file that cannot be written (full disk, read-only folder) throws naming
  // it; the previous checkpoint stays as it was.
  void write(const std::string& role, ModelImpl& model, int64_t step, int64_t epoch,
             torch::optim::Optimizer& optimizer, const TrainSplit& split, const DistillationLoss* loss);

 private:
  std::string folder_;
  TrainingObserver& observer_;
};

// A training state read back for a resume (state.pt).
class ResumeState {
 public:
  // Throws ModelError when the file is not a training-state checkpoint.
  explicit ResumeState(const std::string& path);
  const ResumePoint& point() const { return point_; }
  // The weights of the interrupted phase's model.
  void loadModel(ModelImpl& model);
  // The optimizer, the global CPU generator, the split's and the loss's state.
  void restorePhase(torch::optim::Optimizer& optimizer, TrainSplit& split);
  void loadLoss(DistillationLoss& loss);

 private:
  std::string path_;
  ResumePoint point_;
  torch::serialize::InputArchive archive_;
};

}  // namespace distill
