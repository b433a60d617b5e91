#include "core/train/experiment_runner.h"

#include "core/data/dataset.h"
#include "core/store/run_store.h"
#include "core/store/teacher_source.h"

namespace distill {

struct ExperimentRunner::State {
  std::unique_ptr<RunStore> store;
  ResolvedTeacher teacher;
  DatasetSplits data;
  std::unique_ptr<StoreRecorder> recorder;
  ObserverList observers;
  std::unique_ptr<Trainer> trainer;
};

ExperimentRunner::ExperimentRunner(ExperimentConfig config, const std::string& database_path,
                                   TrainingObserver& observer, RunControl& control)
    : config_(std::move(config)), database_path_(database_path), observer_(observer), control_(control),
      state_(std::make_unique<State>()) {
  state_->store = std::make_unique<RunStore>(database_path_);
  state_->teacher = resolveTeacherSource(config_, *state_->store);
  state_->data = loadDataset(config_.dataset);
  TrainerOptions options;
  options.teacher_weights = state_->teacher.weights_path;
  state_->trainer = std::make_unique<Trainer>(config_, state_->data, options, state_->observers, control_);
}

ExperimentRunner::~ExperimentRunner() = default;

int64_t ExperimentRunner::createRun() {
  NewRun record;
  record.name = config_.name.empty() ? describe(config_) : config_.name;
  record.config_yaml = toYaml(config_);
  record.params = flatten(config_);
  record.teacher_run_id = state_->teacher.source_run_id;
  run_id_ = state_->store->createRun(record);
  state_->trainer->setArtifactsDir(runArtifactsDir(database_path_, run_id_));
  state_->recorder = std::make_unique<StoreRecorder>(*state_->store, run_id_);
  state_->observers.add(state_->recorder.get());
  state_->observers.add(&observer_);
  return run_id_;
}

RunResult ExperimentRunner::run() {
  if (run_id_ == 0) createRun();
  RunResult result = state_->trainer->run();
  try {
    state_->recorder->flush();
  } catch (const std::exception& e) {
    if (result.outcome != RunOutcome::Failed) {
      result.outcome = RunOutcome::Failed;
      result.error = std::string("could not store the last metrics: ") + e.what();
    }
  }
  const RunStatus status = result.outcome == RunOutcome::Completed ? RunStatus::Completed
                           : result.outcome == RunOutcome::Stopped ? RunStatus::Stopped
                                                                   : RunStatus::Failed;
  state_->store->finishRun(run_id_, status, result.error);
  return result;
}

}  // namespace distill
