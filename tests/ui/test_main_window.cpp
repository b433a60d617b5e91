// The window end to end: a tiny real run on Fashion-MNIST from the form to the charts and the
// run list, pause/resume, stop, closing during a run, failures shown as messages, and
// stale worker signals dropped.
#include <QAction>
#include <QLabel>
#include <QProgressBar>
#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

#include "core/store/run_store.h"
#include "support/toy_sequence_task.h"
#include "tests/ui/ui_test_support.h"
#include "ui/chart_view.h"
#include "ui/main_window.h"
#include "ui/metric_charts.h"
#include "ui/run_list_model.h"
#include "ui/status_panel.h"

using namespace distill;
using namespace distill::ui;

namespace {
constexpr int kRunTimeoutMs = 120'000;

RunStatus storedStatus(const QString& db, qint64 run_id) {
  RunStore store(db.toStdString(), RunStore::Mode::ReadOnly);
  auto run = store.getRun(run_id);
  return run ? run->status : RunStatus::Running;
}

QString listedStatus(MainWindow& window, qint64 run_id) {
  const int row = window.runList()->rowOf(run_id);
  return row < 0 ? QString() : window.runList()->index(row, RunListModel::Status).data().toString();
}
}  // namespace

class TestMainWindow : public QObject {
  Q_OBJECT
 private:
  QTemporaryDir dir_;
  QString db() const { return dir_.filePath("runs.db"); }

 private slots:
  void tinyRunFromTheForm() {
    MainWindow window(db());
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    test::fillTinyExperiment(*window.form());
    QVERIFY(window.startAction()->isEnabled());

    RunController* controller = window.controller();
    QSignalSpy started(controller, &RunController::runStarted);
    QSignalSpy batches(controller, &RunController::batchArrived);
    QSignalSpy finished(controller, &RunController::runFinished);
    window.charts()->setReplotInterval(60'000);  // new data would wait a minute for its redraw
    QTest::mouseClick(window.findChild<QToolButton*>("start-button"), Qt::LeftButton);
    QVERIFY(controller->busy());
    QVERIFY(!window.startAction()->isEnabled());
    QVERIFY(started.wait(30'000));
    const qint64 run_id = started.first().at(0).toLongLong();
    QVERIFY(batches.count() > 0 || batches.wait(30'000));
    QVERIFY(finished.count() == 1 || finished.wait(kRunTimeoutMs));
    QCOMPARE(finished.first().at(1).value<RunEnd>(), RunEnd::Completed);
    // The status line ends on the run's last progress, which its 5 Hz limit may have held back.
    QCOMPARE(window.statusPanel()->progressValue(), 1000);
    QCOMPARE(window.statusPanel()->phaseText(), QString("Phase 2: student"));
    // The charts show the last points at once, however long their paced redraws would wait.
    for (auto* chart : window.charts()->charts()) QVERIFY2(!chart->redrawPending(), qPrintable(chart->objectName()));

    // Every batch carried this run's id, and far fewer batches came than points.
    int points = 0;
    for (const auto& args : batches) {
      QCOMPARE(args.at(0).toLongLong(), run_id);
      points += static_cast<int>(args.at(1).value<MailboxBatch>().metrics.size());
    }
    QVERIFY(batches.count() < points);

    MetricCharts* charts = window.charts();
    QVERIFY(charts->pointCount("train/teacher_loss") > 0);
    QVERIFY(charts->pointCount("train/student_loss") > 0);
    QVERIFY(charts->pointCount("train/kd_loss") > 0);
    QVERIFY(charts->pointCount("eval/teacher_acc") >= 1);
    QVERIFY(charts->pointCount("eval/student_acc") >= 1);
    QVERIFY(charts->pointCount("eval/agreement") >= 1);
    QVERIFY(charts->pointCount("eval/kl") >= 1);

    QCOMPARE(storedStatus(db(), run_id), RunStatus::Completed);
    QCOMPARE(listedStatus(window, run_id), QString("completed"));
    const int row = window.runList()->rowOf(run_id);
    QVERIFY(!window.runList()->index(row, RunListModel::Agreement).data().toString().isEmpty());
    QVERIFY(!window.runList()->index(row, RunListModel::StudentAccuracy).data().toString().isEmpty());
    QVERIFY(window.startAction()->isEnabled());
    QVERIFY(window.logText().contains("completed"));

    // The curves of the store match the live ones.
    RunStore store(db().toStdString(), RunStore::Mode::ReadOnly);
    QCOMPARE(charts->pointCount("train/student_loss"), static_cast<int>(store.metrics(run_id, "train/student_loss").size()));
  }

  void pastRunsComeBackAfterRestart() {
    MainWindow window(db());  // a new window on the database of the previous test
    window.show();
    QVERIFY(window.runList()->rowCount() >= 1);
    const qint64 run_id = window.runList()->runIdAt(0);
    QVERIFY(window.charts()->pointCount("eval/student_acc") == 0);
    window.runTable()->selectRow(0);
    QCOMPARE(window.displayedRunId(), run_id);
    RunStore store(db().toStdString(), RunStore::Mode::ReadOnly);
    QCOMPARE(window.charts()->pointCount("eval/student_acc"), static_cast<int>(store.metrics(run_id, "eval/student_acc").size()));
    QVERIFY(window.charts()->pointCount("train/student_loss") > 0);
  }

  void pauseResumeThenStop() {
    MainWindow window(db());
    window.show();
    window.form()->setConfig(test::longConfig());
    RunController* controller = window.controller();
    int64_t done_steps = 0;
    connect(controller, &RunController::batchArrived, this, [&](qint64, const MailboxBatch& batch) {
      if (batch.progress) done_steps = batch.progress->done_steps;
    });
    QSignalSpy finished(controller, &RunController::runFinished);
    window.startAction()->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(done_steps > 20, 30'000);

    QVERIFY(window.pauseAction()->isEnabled());
    window.pauseAction()->trigger();
    QCOMPARE(controller->state(), RunState::Paused);
    QCOMPARE(window.pauseAction()->text(), QString("&Resume"));
    QTest::qWait(300);  // the step in flight ends and its progress arrives
    const int64_t paused_at = done_steps;
    QTest::qWait(600);
    QCOMPARE(done_steps, paused_at);
    QVERIFY(listedStatus(window, controller->runId()).contains("paused"));

    window.pauseAction()->trigger();
    QCOMPARE(controller->state(), RunState::Running);
    QTRY_VERIFY_WITH_TIMEOUT(done_steps > paused_at, 10'000);

    window.stopAction()->trigger();
    QVERIFY(finished.wait(30'000));
    QCOMPARE(finished.first().at(1).value<RunEnd>(), RunEnd::Stopped);
    const qint64 run_id = finished.first().at(0).toLongLong();
    QCOMPARE(storedStatus(db(), run_id), RunStatus::Stopped);
    QCOMPARE(listedStatus(window, run_id), QString("stopped"));
  }

  void stopWhilePaused() {
    MainWindow window(db());
    window.form()->setConfig(test::longConfig());
    RunController* controller = window.controller();
    QSignalSpy batches(controller, &RunController::batchArrived);
    QSignalSpy finished(controller, &RunController::runFinished);
    window.startRun();
    QVERIFY(batches.wait(30'000));
    window.togglePause();
    QCOMPARE(controller->state(), RunState::Paused);
    window.stopRun();
    QVERIFY(finished.wait(10'000));
    QCOMPARE(finished.first().at(1).value<RunEnd>(), RunEnd::Stopped);
    QCOMPARE(storedStatus(db(), finished.first().at(0).toLongLong()), RunStatus::Stopped);
  }

  void closingDuringARunAsksThenStops() {
    MainWindow window(db());
    window.show();
    window.form()->setConfig(test::longConfig());
    int asked = 0;
    bool answer = false;
    window.setCloseConfirmation([&] {
      ++asked;
      return answer;
    });
    RunController* controller = window.controller();
    QSignalSpy batches(controller, &RunController::batchArrived);
    QSignalSpy finished(controller, &RunController::runFinished);
    window.startRun();
    QVERIFY(batches.wait(30'000));

    // "Cancel": the window and the run go on.
    QVERIFY(!window.close());
    QCOMPARE(asked, 1);
    QVERIFY(window.isVisible());
    QVERIFY(controller->busy() && controller->state() != RunState::Stopping);

    // "Yes": the run stops cleanly, then the window closes by itself.
    answer = true;
    QVERIFY(!window.close());  // not yet: the run is still being stopped
    QCOMPARE(asked, 2);
    QVERIFY(finished.wait(30'000));
    QTRY_VERIFY(!window.isVisible());
    const qint64 run_id = finished.first().at(0).toLongLong();
    QCOMPARE(storedStatus(db(), run_id), RunStatus::Stopped);
  }

  void missingDatasetIsAMessageNotACrash() {
    MainWindow window(db());
    window.show();
    window.form()->setConfig(test::tinyConfig());
    test::typeInto(*window.form(), "dataset.path", dir_.filePath("no-such-folder"));
    // Flagged as it is typed (issue 19): Start waits for a folder that exists.
    QVERIFY(!window.startAction()->isEnabled());
    window.startRun();
    QVERIFY(!window.controller()->busy());
    QVERIFY(window.bannerText().contains("problems"));
    // A folder that exists but holds no dataset: the run's start says so, without a crash.
    QVERIFY(QDir(dir_.path()).mkpath("empty-folder"));
    test::typeInto(*window.form(), "dataset.path", dir_.filePath("empty-folder"));
    QVERIFY(window.startAction()->isEnabled());
    QSignalSpy failed(window.controller(), &RunController::startFailed);
    window.startRun();
    QVERIFY(failed.wait(30'000));
    QVERIFY(window.bannerText().contains("empty-folder"));
    QVERIFY(window.logText().contains("could not start"));
    QVERIFY(!window.controller()->busy());
    QVERIFY(window.startAction()->isEnabled());
  }

  void statusLineShowsLongCountsWhole() {
    // The step and speed labels keep their size while a run updates them (no relayout of the
    // window 5 times a second), and grow when a text needs more room: nothing is cut off.
    StatusPanel panel;
    panel.resize(1400, 40);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    auto* position = panel.findChild<QLabel*>("position");
    auto* speed = panel.findChild<QLabel*>("speed");
    QVERIFY(position && speed);
    ProgressInfo p;
    p.phase = Phase::Student;
    p.epoch = 1, p.epochs = 4, p.step = 12, p.steps_in_phase = 469, p.done_steps = 12, p.total_steps = 1876;
    p.units_per_s = 41000;
    panel.showProgress(p);
    QApplication::processEvents();
    const int width = position->width();
    p.step = 468, p.done_steps = 468, p.units_per_s = 39000;
    panel.showProgress(p);
    QApplication::processEvents();
    QCOMPARE(position->width(), width);
    QCOMPARE(position->text(), QString("epoch 1/4 · step 468/469"));
    // The progress bar counts the run in its units (tokens for a language model) and gives the
    // time those left take at the current speed.
    auto* bar = panel.findChild<QProgressBar*>("progress");
    QVERIFY(bar);
    p.units = "tokens", p.done_units = 1.2e6, p.total_units = 4.8e6, p.eta_s = 90;
    panel.showProgress(p);
    QCOMPARE(bar->format(), QString("24.9% · 1.2M / 4.8M tokens · ETA 1 min 30 s"));
    p.epoch = 1000, p.epochs = 1000, p.step = 123456789, p.steps_in_phase = 987654321, p.units_per_s = 123456789012.0;
    panel.showProgress(p);
    QTRY_VERIFY(position->width() >= position->sizeHint().width());
    QTRY_VERIFY(speed->width() >= speed->sizeHint().width());
    QVERIFY(position->width() > width);
  }

  void staleWorkerSignalsAreDropped() {
    RunController controller;
    QSignalSpy started(&controller, &RunController::runStarted);
    QSignalSpy batches(&controller, &RunController::batchArrived);
    QSignalSpy finished(&controller, &RunController::runFinished);
    QVERIFY(controller.start(test::tinyConfig(), db()));
    QVERIFY(!controller.start(test::tinyConfig(), db()));  // one run at a time
    controller.shutdown();  // stops and joins; the worker's queued signals are now stale
    QCOMPARE(controller.state(), RunState::Idle);
    QTest::qWait(300);
    QCOMPARE(started.count(), 0);
    QCOMPARE(finished.count(), 0);
    QCOMPARE(batches.count(), 0);

    // The next run's signals do arrive, tagged with its own id.
    QVERIFY(controller.start(test::tinyConfig(), db()));
    QVERIFY(finished.wait(kRunTimeoutMs));
    QCOMPARE(started.count(), 1);
    QCOMPARE(finished.first().at(0).toLongLong(), started.first().at(0).toLongLong());
    for (const auto& args : batches) QCOMPARE(args.at(0).toLongLong(), started.first().at(0).toLongLong());
  }

  // The task seam, seen from the window: a toy task (tests/support/toy_sequence_task.h) that
  // no file of the window names runs from the form and is drawn in the charts it declares;
  // an image run clicked afterwards brings the image charts back.
  void aSecondTaskRunsInTheWindowWithItsOwnCharts() {
    distill::testing::registerToyTask();
    MainWindow window(db());
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    ExperimentConfig config = window.form()->config();
    config.task = distill::testing::kToyTask;
    config.name = "toy copy";
    config.device = "cpu";
    config.teacher.model.hidden = {64};
    config.teacher.epochs = 3;
    config.student.hidden = {24};
    config.train.epochs = 3;
    config.train.batch_size = 32;
    config.train.optimizer = "adam";
    config.train.lr = 0.01;
    window.form()->setConfig(config);
    QCOMPARE(window.form()->config().task, std::string(distill::testing::kToyTask));

    QSignalSpy finished(window.controller(), &RunController::runFinished);
    QTest::mouseClick(window.findChild<QToolButton*>("start-button"), Qt::LeftButton);
    QVERIFY(finished.count() == 1 || finished.wait(kRunTimeoutMs));
    QCOMPARE(finished.first().at(1).value<RunEnd>(), RunEnd::Completed);
    const qint64 toy_run = finished.first().at(0).toLongLong();

    MetricCharts* charts = window.charts();
    QCOMPARE(charts->task(), std::string(distill::testing::kToyTask));
    QCOMPARE(static_cast<int>(charts->charts().size()), 2);  // Loss, Copying
    ChartView* copying = charts->chart("copying");
    QVERIFY(copying);
    for (auto* chart : charts->charts()) QVERIFY2(chart->isVisible(), qPrintable(chart->objectName()));
    QCOMPARE(copying->objectName(), QString("chart-copying"));
    QVERIFY(!charts->accuracyChart());
    QCOMPARE(charts->pointCount(distill::testing::kToyStudentAccuracy), 4);  // before training, then each epoch
    QCOMPARE(charts->pointCount(distill::testing::kToyTeacherAccuracy), 3);
    QVERIFY(charts->pointCount("train/student_loss") > 0);
    QCOMPARE(copying->graphFor(distill::testing::kToyStudentAccuracy)->pen().color(), kStudentColor);
    QCOMPARE(copying->graphFor(distill::testing::kToyKl)->valueAxis(), copying->yAxis2);
    // The status line counted tokens, the final line named the toy's headline metrics.
    auto* speed = window.statusPanel()->findChild<QLabel*>("speed");
    QVERIFY(speed);
    QVERIFY2(speed->text().endsWith("tokens/s"), qPrintable(speed->text()));
    QVERIFY2(window.logText().contains("Student token accuracy"), qPrintable(window.logText().right(400)));

    // Its row lists the toy's headline metric; an image run shown again gets the image charts.
    const int row = window.runList()->rowOf(toy_run);
    QVERIFY(window.runList()->index(row, RunListModel::StudentAccuracy).data().toString().endsWith("%"));
    for (int r = 0; r < window.runList()->rowCount(); ++r) {
      const qint64 id = window.runList()->runIdAt(r);
      if (id == toy_run) continue;
      window.runTable()->selectRow(r);
      QCOMPARE(window.displayedRunId(), id);
      QCOMPARE(charts->task(), std::string("image"));
      QVERIFY(charts->accuracyChart());
      QVERIFY(charts->pointCount("eval/student_acc") >= 1);
      break;
    }
    window.runTable()->selectRow(row);
    QCOMPARE(charts->task(), std::string(distill::testing::kToyTask));
    QCOMPARE(charts->pointCount(distill::testing::kToyStudentAccuracy), 4);
  }

  // A language-model run (task: lm) from the form on a small corpus: the window draws its loss,
  // per-token agreement and perplexity charts live, counts tokens/s, and logs its perplexities.
  // With DISTILL_SCREENSHOT_DIR set, the finished window is saved as screenshot-lm-run.png.
  void aLanguageModelRunIsDrawnLive() {
    const QString corpus = distill::ui::test::writeTinyCorpus(QDir(dir_.path()));
    QVERIFY(!corpus.isEmpty());
    MainWindow window(dir_.filePath("lm.db"));
    window.resize(1280, 720);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    const ExperimentConfig config = distill::ui::test::tinyLmConfig(window.form()->config(), corpus, 4);
    window.form()->setConfig(config);
    QVERIFY2(window.form()->config().task == "lm", "the form keeps the task");

    QSignalSpy finished(window.controller(), &RunController::runFinished);
    QTest::mouseClick(window.findChild<QToolButton*>("start-button"), Qt::LeftButton);
    QVERIFY(finished.count() == 1 || finished.wait(kRunTimeoutMs));
    QCOMPARE(finished.first().at(1).value<RunEnd>(), RunEnd::Completed);

    MetricCharts* charts = window.charts();
    QCOMPARE(charts->task(), std::string("lm"));
    QVERIFY(charts->chart("perplexity"));
    for (auto* chart : charts->charts()) QVERIFY2(chart->isVisible() && chart->height() > 100, qPrintable(chart->objectName()));
    QCOMPARE(charts->pointCount("eval/student_ppl"), 5);  // before training, then each epoch
    QCOMPARE(charts->pointCount("eval/teacher_ppl"), 4);
    QVERIFY(charts->pointCount("eval/token_agreement") == 5 && charts->pointCount("eval/token_kl") == 5);
    QVERIFY(charts->pointCount("train/kd_loss") > 0);
    QVERIFY(window.statusPanel()->findChild<QLabel*>("speed")->text().endsWith("tokens/s"));
    // The progress bar counts the run in tokens: all of them trained at the end.
    const QString progress = window.statusPanel()->findChild<QProgressBar*>("progress")->format();
    QVERIFY2(progress.startsWith("100.0% · ") && progress.contains(" tokens · ETA"), qPrintable(progress));
    QVERIFY2(window.logText().contains("student ppl"), qPrintable(window.logText().right(300)));
    const QString shots = qEnvironmentVariable("DISTILL_SCREENSHOT_DIR");
    if (!shots.isEmpty()) {
      QDir().mkpath(shots);
      QVERIFY(window.grab().toImage().save(shots + "/screenshot-lm-run.png"));
    }
  }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
