// One experiment from a validated config to a finished run in the store; the CLI and the GUI
// worker both drive runs through it, so a run behaves the same from either.
//
//   ExperimentRunner runner(config, db_path, observer, control);  // bad input throws here
//   int64_t id = runner.createRun();                               // the run now exists
//   RunResult result = runner.run();                               // trains, records status
//
// Thread contract: all three calls on one thread (the one that trains). It opens its own
// store connection; observers are called on that thread.
#pragma once

#include <memory>
#include <string>

#include "core/config/config.h"
#include "core/store/run_store.h"
#include "core/train/observer.h"
#include "core/train/trainer.h"

namespace distill {

// How a run's outcome is stored: the one mapping the runner, the CLI and the window share.
RunStatus runStatusOf(RunOutcome outcome);

// Whether a stored run can be resumed, and why (not): the one rule the runner and the window's
// Resume button share. A run whose process is provably gone reads as interrupted here.
struct ResumeCheck {
  enum class Verdict { Possible, NotFound, Completed, StillRunning, Undecidable, NoCheckpoint };
  Verdict verdict = Verdict::NotFound;
  std::string why;     // a sentence naming the run, for a message or a tooltip
  double epoch = 0.0;  // of the checkpoint it would continue from (Possible)
  bool possible() const { return verdict == Verdict::Possible; }
};
ResumeCheck checkResume(RunStore& store, int64_t run_id);

// Names a stored run to continue from its last checkpoint (`distill resume RUN`).
struct ResumeRun {
  int64_t run_id = 0;
  // Resume a run still marked `running` whose liveness cannot be decided here (no lock file:
  // stored by an older workbench, on another host): the user asserts its process is gone.
  bool take_over = false;
};

class ExperimentRunner {
 public:
  // Opens the store, resolves the teacher source, loads the dataset and builds the models.
  // Throws ConfigError, DataError, ModelError or StoreError, with nothing recorded.
  ExperimentRunner(ExperimentConfig config, const std::string& database_path, TrainingObserver& observer,
                   RunControl& control);
  // Prepares to continue run `resume.run_id` from its last epoch checkpoint, with its stored
  // config. Throws StoreError (no such run, or it is still running), ConfigError (it has no
  // checkpoint yet, or already completed), DataError or ModelError, with nothing changed.
  ExperimentRunner(ResumeRun resume, const std::string& database_path, TrainingObserver& observer, RunControl& control);
  ~ExperimentRunner();

  // Records the run as `running` (config, params, lineage) and returns its id. For a resume:
  // marks the stored run `running` again and drops its points written after the checkpoint.
  int64_t createRun();
  // Trains and records the final status; never throws for training problems.
  RunResult run();

  // Makes the run one of a data-parallel run's ranks (rank 0: this runner records it), before
  // run(); see core/dist/distributed_run.h.
  void setDataParallel(DataParallel* parallel);
  // What the trainer was given (teacher weights, the state resumed from, the artifacts folder):
  // what the other ranks of a data-parallel run need to train the same run.
  const TrainerOptions& trainerOptions() const;

  const ExperimentConfig& config() const { return config_; }
  int64_t runId() const { return run_id_; }

 private:
  int64_t createNewRun();
  struct State;
  ExperimentConfig config_;
  std::string database_path_;
  TrainingObserver& observer_;
  RunControl& control_;
  int64_t run_id_ = 0;
  std::unique_ptr<State> state_;
};

}  // namespace distill
