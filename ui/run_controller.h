// Runs one experiment at a time on a worker QThread and hands its progress to the GUI.
//
//   GUI thread                         worker thread
//   RunController::start(config) ----> RunWorker::run(): ExperimentRunner(...), createRun(),
//                                        run()  -- observer calls fill the RunMailbox
//   tick (33 ms): mailbox.drain() <----
//     -> batchArrived(run_id, batch)
//   runFinished(run_id, outcome) <---- finished (queued)
//
// The training loop blocks the worker's event loop, so stop and pause go through the
// RunControl atomics, set directly from the GUI thread; never through a queued slot.
// Every worker signal carries the ticket of the start() that made it; a signal from an
// earlier run (say, one still queued after shutdown()) is dropped.
//
// Thread contract: a RunController lives on the GUI thread and every method is called there.
#pragma once

#include <QObject>
#include <QString>
#include <QTimer>

#include <memory>

#include "core/config/config.h"
#include "core/train/observer.h"
#include "core/train/trainer.h"  // RunOutcome
#include "ui/run_mailbox.h"

class QThread;

namespace distill::ui {

enum class RunState { Idle, Starting, Running, Paused, Stopping };
const char* runStateName(RunState state);

// How a run ended, as the worker reports it (mirrors distill::RunOutcome without trainer.h).
// How a run ended, as the trainer tells it (core/train/trainer.h); stored via runStatusOf().
using RunEnd = RunOutcome;

// Lives on the worker thread; its run() slot owns the ExperimentRunner from construction to
// the end, since the runner opens its SQLite connection on the thread that constructs it.
class RunWorker : public QObject {
  Q_OBJECT
 public:
  // `resume_run_id` > 0: continue that stored run from its last checkpoint (the config is
  // the stored one and `config` is ignored), as `distill resume` does.
  RunWorker(ExperimentConfig config, QString database_path, RunMailbox& mailbox, RunControl& control, quint64 ticket,
            qint64 resume_run_id = 0);

 public slots:
  void run();

 signals:
  void created(quint64 ticket, qint64 run_id, QString description);
  void startFailed(quint64 ticket, QString message);
  void finished(quint64 ticket, qint64 run_id, int run_end, QString error);

 private:
  ExperimentConfig config_;
  QString database_path_;
  RunMailbox& mailbox_;
  RunControl& control_;
  quint64 ticket_;
  qint64 resume_run_id_;
};

class RunController : public QObject {
  Q_OBJECT
 public:
  explicit RunController(QObject* parent = nullptr);
  ~RunController() override;  // shutdown()

  // Starts a run on a fresh worker thread; false (and nothing started) while one is going.
  bool start(const ExperimentConfig& config, const QString& database_path);
  // Continues a stored interrupted, stopped or failed run from its last epoch checkpoint on a
  // fresh worker thread (the same ExperimentRunner path as `distill resume`); false while
  // busy. A run that cannot be resumed ends in startFailed() with the reason.
  bool resume(qint64 run_id, const QString& database_path);
  void setPaused(bool paused);
  // Asks the trainer to stop at the next step; runFinished() follows with RunEnd::Stopped.
  void stop();
  // Stops, quits and waits for the worker thread: blocks until the trainer's current step
  // ends. For destruction and for tests; the window stops asynchronously instead.
  void shutdown();

  RunState state() const { return state_; }
  bool busy() const { return state_ != RunState::Idle; }
  qint64 runId() const { return run_id_; }  // the live run, or the last one; 0 before any
  // How often the mailbox is drained (and so at most how often the charts redraw).
  void setTickInterval(int milliseconds) { tick_.setInterval(milliseconds); }

 signals:
  void stateChanged(distill::ui::RunState state);
  void runStarted(qint64 run_id, QString description);
  void startFailed(QString message);
  void batchArrived(qint64 run_id, distill::ui::MailboxBatch batch);
  void runFinished(qint64 run_id, distill::ui::RunEnd run_end, QString error);

 private slots:
  void onCreated(quint64 ticket, qint64 run_id, QString description);
  void onStartFailed(quint64 ticket, QString message);
  void onFinished(quint64 ticket, qint64 run_id, int run_end, QString error);
  void onTick();

 private:
  void setState(RunState state);
  void releaseThread();
  bool launch(const ExperimentConfig& config, const QString& database_path, qint64 resume_run_id);

  QTimer tick_;
  RunState state_ = RunState::Idle;
  quint64 ticket_ = 0;
  qint64 run_id_ = 0;
  QThread* thread_ = nullptr;
  RunWorker* worker_ = nullptr;
  std::unique_ptr<RunMailbox> mailbox_;
  std::unique_ptr<RunControl> control_;
};

}  // namespace distill::ui

Q_DECLARE_METATYPE(distill::ui::MailboxBatch)
Q_DECLARE_METATYPE(distill::ui::RunState)
Q_DECLARE_METATYPE(distill::ui::RunEnd)
