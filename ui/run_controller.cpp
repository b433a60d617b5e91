#include "ui/run_controller.h"

#include <QThread>

#include <exception>

#include "core/errors.h"
#include "core/runtime/allocator.h"
#include "core/train/experiment_runner.h"

namespace distill::ui {

const char* runStateName(RunState state) {
  switch (state) {
    case RunState::Idle: return "idle";
    case RunState::Starting: return "starting";
    case RunState::Running: return "running";
    case RunState::Paused: return "paused";
    case RunState::Stopping: return "stopping";
  }
  return "?";
}

// ---- RunWorker (worker thread) -------------------------------------------------------------

RunWorker::RunWorker(ExperimentConfig config, QString database_path, RunMailbox& mailbox, RunControl& control,
                     quint64 ticket, qint64 resume_run_id)
    : config_(std::move(config)), database_path_(std::move(database_path)), mailbox_(mailbox), control_(control),
      ticket_(ticket), resume_run_id_(resume_run_id) {}

void RunWorker::run() {
  std::unique_ptr<ExperimentRunner> runner;
  qint64 run_id = 0;
  try {
    if (resume_run_id_ > 0)
      runner = std::make_unique<ExperimentRunner>(ResumeRun{resume_run_id_}, database_path_.toStdString(), mailbox_,
                                                  control_);
    else
      runner = std::make_unique<ExperimentRunner>(config_, database_path_.toStdString(), mailbox_, control_);
    run_id = runner->createRun();
  } catch (const ConfigError& error) {
    emit startFailed(ticket_, QString::fromStdString(error.what()));
    return;
  } catch (const std::exception& error) {  // DataError, ModelError, StoreError, or LibTorch
    emit startFailed(ticket_, QString::fromStdString(error.what()));
    return;
  }
  emit created(ticket_, run_id, QString::fromStdString(describe(runner->config())));
  RunResult result = runner->run();  // never throws for training problems
  const RunEnd end = result.outcome;
  runner.reset();  // closes the worker's store connection before the GUI hears of the end
  releaseFreeMemory();  // the run's tensors, kept by the allocator's thresholds: the window lives on
  emit finished(ticket_, run_id, static_cast<int>(end), QString::fromStdString(result.error));
}

// ---- RunController (GUI thread) ------------------------------------------------------------

RunController::RunController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<distill::ui::MailboxBatch>();
  qRegisterMetaType<distill::ui::RunState>();
  qRegisterMetaType<distill::ui::RunEnd>();
  // ~30 Hz: fast enough to look live, slow enough that drawing never competes with training.
  tick_.setInterval(33);
  tick_.setTimerType(Qt::PreciseTimer);
  connect(&tick_, &QTimer::timeout, this, &RunController::onTick);
}

RunController::~RunController() { shutdown(); }

bool RunController::start(const ExperimentConfig& config, const QString& database_path) {
  return launch(config, database_path, 0);
}

bool RunController::resume(qint64 run_id, const QString& database_path) {
  return launch(defaultConfig(), database_path, run_id);
}

bool RunController::launch(const ExperimentConfig& config, const QString& database_path, qint64 resume_run_id) {
  if (busy()) return false;
  ++ticket_;
  run_id_ = 0;
  mailbox_ = std::make_unique<RunMailbox>();
  control_ = std::make_unique<RunControl>();
  thread_ = new QThread(this);
  thread_->setObjectName(QStringLiteral("distill-trainer"));
  worker_ = new RunWorker(config, database_path, *mailbox_, *control_, ticket_, resume_run_id);
  worker_->moveToThread(thread_);
  connect(thread_, &QThread::started, worker_, &RunWorker::run);
  connect(worker_, &RunWorker::created, this, &RunController::onCreated, Qt::QueuedConnection);
  connect(worker_, &RunWorker::startFailed, this, &RunController::onStartFailed, Qt::QueuedConnection);
  connect(worker_, &RunWorker::finished, this, &RunController::onFinished, Qt::QueuedConnection);
  setState(RunState::Starting);
  thread_->start();
  tick_.start();
  return true;
}

void RunController::setPaused(bool paused) {
  if (!control_ || (state_ != RunState::Running && state_ != RunState::Paused)) return;
  control_->setPaused(paused);
  setState(paused ? RunState::Paused : RunState::Running);
}

void RunController::stop() {
  if (!control_ || !busy()) return;
  control_->requestStop();  // read by the trainer between steps, also while paused
  setState(RunState::Stopping);
}

void RunController::shutdown() {
  if (!thread_) return;
  control_->requestStop();
  ++ticket_;  // whatever the worker still has queued for us is now stale
  releaseThread();
  tick_.stop();
  setState(RunState::Idle);
}

void RunController::releaseThread() {
  thread_->quit();  // handled once run() returns and the worker's event loop resumes
  thread_->wait();
  delete worker_;
  delete thread_;
  worker_ = nullptr;
  thread_ = nullptr;
  control_.reset();
  mailbox_.reset();
}

void RunController::onCreated(quint64 ticket, qint64 run_id, QString description) {
  if (ticket != ticket_) return;
  run_id_ = run_id;
  if (state_ == RunState::Starting) setState(RunState::Running);
  // A pause or stop pressed while the data was loading is already in the RunControl.
  emit runStarted(run_id, description);
}

void RunController::onStartFailed(quint64 ticket, QString message) {
  if (ticket != ticket_) return;
  releaseThread();
  tick_.stop();
  setState(RunState::Idle);
  emit startFailed(message);
}

void RunController::onFinished(quint64 ticket, qint64 run_id, int run_end, QString error) {
  if (ticket != ticket_) return;
  onTick();  // the last points were queued before `finished`; hand them over first
  releaseThread();
  tick_.stop();
  setState(RunState::Idle);
  emit runFinished(run_id, static_cast<RunEnd>(run_end), error);
}

void RunController::onTick() {
  if (!mailbox_ || run_id_ == 0) return;  // before createRun() nothing is tagged yet
  MailboxBatch batch = mailbox_->drain();
  if (!batch.empty()) emit batchArrived(run_id_, std::move(batch));
}

void RunController::setState(RunState state) {
  if (state == state_) return;
  state_ = state;
  emit stateChanged(state);
}

}  // namespace distill::ui
