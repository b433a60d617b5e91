// The two-phase distillation trainer: (1) the teacher, trained from scratch or loaded from a
// checkpoint, (2) the student, trained against the teacher with the configured loss. It
// drives any task (core/tasks/task.h) and names none: the task gives batches, models and
// evaluations; the trainer loops (trainer.cpp), steps (step_runner.h) and checkpoints
// (checkpointer.h).
//
// Thread contract: construct and run() on one thread (the CLI's main thread, or the GUI's
// worker QThread); run() blocks until the run ends. Observers are called on that thread.
// Only the RunControl is touched from other threads. No torch types in this header.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/config/config.h"
#include "core/train/observer.h"

namespace distill {

class DataParallel;
class Task;

struct TrainerOptions {
  // Folder for this run's checkpoints (teacher.pt, student.pt); created when missing.
  std::string artifacts_dir;
  // Teacher weights to load instead of training (teacher.source run:<id> or a file),
  // already resolved to a path; config.teacher.model must describe that teacher.
  std::string teacher_weights;
  // Resume from this training-state checkpoint (state.pt in the artifacts folder) instead of
  // starting afresh: weights, optimizer, RNG, phase, epoch and step are restored, and the run
  // continues with the epoch after the checkpoint.
  std::string resume_state;
  // The plain training loop, for tests that prove the optimised one computes the same run:
  // gradients zeroed by Optimizer::zero_grad() instead of released, every loss read back to
  // the host at every step (a device sync), batch indices copied to the device per step.
  bool reference_loop = false;
  // Phase 1 alone: the run trains the teacher and ends there (Completed), with no student
  // phase; the progress totals count phase 1's steps only. What the mirror test's reference
  // models are trained with (core/fidelity/mirror.cpp): "same data, another seed" models,
  // trained by this loop rather than a copy of it.
  bool teacher_only = false;
  // A data-parallel run (core/train/data_parallel.h): this process is one rank; it trains on its
  // shard of every global batch (train.batch_size is the global batch), gradients and logged
  // losses are reduced over the ranks, rank 0 alone evaluates (the others wait) and checkpoints
  // (the others get an empty artifacts_dir and write nothing). Null: one process. Not owned.
  DataParallel* parallel = nullptr;
};

// Where a resumable checkpoint stands, read without loading any weights.
struct ResumePoint {
  std::string phase;  // teacher | student
  int64_t epoch = 0;  // epochs completed in that phase
  int64_t step = 0;   // optimizer steps completed in that phase
  double wall_time = 0.0;  // when it was written (Unix seconds); later metric points are stale
};
// Throws ModelError when the file is missing or not a training-state checkpoint.
ResumePoint readResumePoint(const std::string& state_path);

enum class RunOutcome { Completed, Stopped, Failed };

struct RunResult {
  RunOutcome outcome = RunOutcome::Failed;
  std::string error;                     // for Failed
  std::map<std::string, double> final;   // last value of each metric
};

class Trainer {
 public:
  // Builds the task's models and loads a given teacher. Throws ConfigError (device),
  // ModelError (teacher weights) before anything is trained. `task` outlives the trainer.
  Trainer(const ExperimentConfig& config, Task& task, TrainerOptions options, TrainingObserver& observer,
          RunControl& control);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains both phases (phase 1 only with teacher_only). Never throws for training problems: a NaN loss, a failed checkpoint
  // write, or an exception inside LibTorch end the run as Failed with the message.
  RunResult run();

  // Where checkpoints go; set once the run has an id (before run()).
  void setArtifactsDir(const std::string& folder);
  // Makes this trainer one rank of a data-parallel run (TrainerOptions::parallel), before run().
  void setDataParallel(DataParallel* parallel);

  // The environment facts that onStarted() reports (device, threads, versions, host).
  const std::map<std::string, std::string>& environment() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace distill
