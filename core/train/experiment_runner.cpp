#include "core/train/experiment_runner.h"

#include <filesystem>

#include "core/errors.h"
#include "core/store/run_files.h"
#include "core/store/run_store.h"
#include "core/tasks/teacher_source.h"
#include "core/tasks/task_registry.h"
#include "core/train/checkpointer.h"
#include "core/train/store_recorder.h"

namespace distill {

struct ExperimentRunner::State {
  std::unique_ptr<RunStore> store;
  ResolvedTeacher teacher;
  std::unique_ptr<Task> task;  // its data loaded; outlives the trainer
  std::unique_ptr<StoreRecorder> recorder;
  ObserverList observers;
  std::unique_ptr<Trainer> trainer;
  // Held while this process drives the run: a free lock tells every reader the run is dead.
  std::unique_ptr<RunLock> lock;
  int64_t resume_run_id = 0;
  double resume_wall_time = 0.0;
  TrainerOptions options;  // as given to the trainer
};

ExperimentRunner::ExperimentRunner(ExperimentConfig config, const std::string& database_path,
                                   TrainingObserver& observer, RunControl& control)
    : config_(std::move(config)), database_path_(database_path), observer_(observer), control_(control),
      state_(std::make_unique<State>()) {
  state_->store = std::make_unique<RunStore>(database_path_);
  state_->store->requireWritable();  // before the dataset is loaded
  state_->store->markInterruptedRuns();  // a writer records what readers only show
  state_->teacher = resolveTeacherSource(config_, *state_->store);
  state_->task = makeTask(config_);
  TrainerOptions options;
  options.teacher_weights = state_->teacher.weights_path;
  state_->options = options;
  state_->trainer = std::make_unique<Trainer>(config_, *state_->task, options, state_->observers, control_);
}

RunStatus runStatusOf(RunOutcome outcome) {
  switch (outcome) {
    case RunOutcome::Completed: return RunStatus::Completed;
    case RunOutcome::Stopped: return RunStatus::Stopped;
    case RunOutcome::Failed: return RunStatus::Failed;
  }
  return RunStatus::Failed;
}

ResumeCheck checkResume(RunStore& store, int64_t run_id) {
  ResumeCheck check;
  const std::string name = "run " + std::to_string(run_id);
  const auto run = store.getRun(run_id);  // liveness applied: a dead run reads as interrupted
  if (!run) {
    check.why = name + " not found in " + store.path();
    return check;
  }
  if (run->status == RunStatus::Completed) {
    check.verdict = ResumeCheck::Verdict::Completed;
    check.why = name + " has already completed; nothing to resume";
    return check;
  }
  if (run->status == RunStatus::Running) {
    const bool held = !run->uuid.empty() && probeRunLock(store.lockPath(run->uuid)).state == LockProbe::State::Held;
    check.verdict = held ? ResumeCheck::Verdict::StillRunning : ResumeCheck::Verdict::Undecidable;
    // Undecidable: no lock file (stored by an older workbench, or on another host): host and
    // pid are all there is to go by.
    check.why = held ? name + " is still running in another process (it holds the run's lock)"
                     : name + " is marked running by a process this machine cannot see (another host, or a run "
                              "started by an older workbench); if that process is gone, resume with --take-over";
    return check;
  }
  for (const auto& checkpoint : store.checkpoints(run_id))
    if (checkpoint.role == "state") {
      check.verdict = ResumeCheck::Verdict::Possible;
      check.epoch = checkpoint.epoch;
      check.why = "continue " + name + " from its last checkpoint (epoch " + std::to_string(checkpoint.epoch) + ")";
      return check;
    }
  check.verdict = ResumeCheck::Verdict::NoCheckpoint;
  check.why = name + " has no checkpoint to resume from (it ended before its first epoch did)";
  return check;
}

ExperimentRunner::ExperimentRunner(ResumeRun resume, const std::string& database_path, TrainingObserver& observer,
                                   RunControl& control)
    : database_path_(database_path), observer_(observer), control_(control), state_(std::make_unique<State>()) {
  state_->store = std::make_unique<RunStore>(database_path_);
  state_->store->requireWritable();
  const std::string name = "run " + std::to_string(resume.run_id);
  const ResumeCheck check = checkResume(*state_->store, resume.run_id);
  using Verdict = ResumeCheck::Verdict;
  if (check.verdict == Verdict::NotFound || check.verdict == Verdict::StillRunning) throw StoreError(check.why);
  if (check.verdict == Verdict::Undecidable && !resume.take_over) throw StoreError(check.why);
  if (check.verdict == Verdict::Completed || check.verdict == Verdict::NoCheckpoint)
    throw ConfigError({{"RUN", check.why}});
  auto run = state_->store->getRun(resume.run_id);
  if (!run->uuid.empty()) {
    // Taken before anything is changed: while this process holds it, the run is alive to
    // everyone, and no second resume can start.
    try {
      state_->lock = std::make_unique<RunLock>(state_->store->lockPath(run->uuid));
    } catch (const std::exception& e) {
      throw StoreError(name + " is still running in another process (" + std::string(e.what()) + ")");
    }
  }
  state_->store->markInterruptedRuns();
  const std::string state_path = state_->store->checkpointFile(resume.run_id, "state");
  if (state_path.empty())
    throw ConfigError({{"RUN", name + " has no checkpoint to resume from (it ended before its first epoch did)"}});
  config_ = parseConfig(run->config_yaml, name);
  state_->teacher = resolveTeacherSource(config_, *state_->store);
  state_->task = makeTask(config_);
  TrainerOptions options;
  options.teacher_weights = state_->teacher.weights_path;
  options.resume_state = state_path;
  options.artifacts_dir = run->files_dir;
  state_->resume_wall_time = readResumePoint(state_path).wall_time;
  state_->options = options;
  state_->trainer = std::make_unique<Trainer>(config_, *state_->task, options, state_->observers, control_);
  state_->resume_run_id = resume.run_id;
}

ExperimentRunner::~ExperimentRunner() = default;

int64_t ExperimentRunner::createRun() {
  if (state_->resume_run_id > 0) {
    run_id_ = state_->resume_run_id;
    state_->store->reopenRun(run_id_);
    state_->store->deletePointsAfter(run_id_, state_->resume_wall_time);
  } else {
    run_id_ = createNewRun();
  }
  state_->recorder = std::make_unique<StoreRecorder>(*state_->store, run_id_);
  state_->observers.add(state_->recorder.get());
  state_->observers.add(&observer_);
  return run_id_;
}

int64_t ExperimentRunner::createNewRun() {
  NewRun record;
  record.name = config_.name.empty() ? describe(config_) : config_.name;
  record.config_yaml = toYaml(config_);
  record.params = flatten(config_);
  record.teacher_run_id = state_->teacher.source_run_id;
  const int64_t id = state_->store->createRun(record);
  const auto run = state_->store->getRun(id);
  state_->trainer->setArtifactsDir(run->files_dir);
  state_->options.artifacts_dir = run->files_dir;
  try {
    state_->lock = std::make_unique<RunLock>(state_->store->lockPath(run->uuid));
  } catch (const std::exception& e) {
    state_->store->finishRun(id, RunStatus::Failed, e.what());
    throw StoreError(e.what());
  }
  return id;
}

void ExperimentRunner::setDataParallel(DataParallel* parallel) {
  state_->options.parallel = parallel;
  state_->trainer->setDataParallel(parallel);
}

const TrainerOptions& ExperimentRunner::trainerOptions() const { return state_->options; }

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
  const RunStatus status = runStatusOf(result.outcome);
  try {
    state_->store->finishRun(run_id_, status, result.error);
    if (state_->lock) state_->lock->markRecorded();
    // A resumed run reports what was stored before the interruption too (e.g. the teacher's).
    if (const auto stored = state_->store->getRun(run_id_))
      for (const auto& [key, value] : stored->final_metrics) result.final.emplace(key, value);
  } catch (const std::exception& e) {
    // The database cannot take the final status (a full disk, a lost file): what it holds
    // stays as committed, and the run shows as `interrupted` at the next start.
    result.outcome = RunOutcome::Failed;
    result.error = (result.error.empty() ? std::string() : result.error + "; ") +
                   "could not record the end of the run: " + e.what();
    // Kept where the next reader finds it: the lock file's blocks are already on the disk.
    if (state_->lock) state_->lock->recordEnd(result.error);
  }
  return result;
}

}  // namespace distill
