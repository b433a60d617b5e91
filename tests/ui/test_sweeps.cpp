// The Sweeps page (ui/sweeps_view.h) on the offscreen platform: a sweep's folder written here
// (16 runs over student.hidden x distill.temperature x seed, their databases made through the
// store: 14 completed, one failed with its log, one running), the page's table, states and live
// progress; the three charts (the values and error bars drawn, one curve per completed run, the
// Pareto front) and their PNG/PDF/SVG exports; Slurm asked on the worker with fake slow
// sacct/scontrol/squeue while a 10 ms timer measures how late the window's event loop runs;
// "Compare selected" importing the runs into the window's database and opening the compare
// view; the submit dialog's plan check; and a sweep submitted from the window through the real
// `distill` on a tiny Fashion-MNIST config; "Resubmit failed" running a failed run of a local
// sweep again through `distill sweep resubmit --failed`, and "Cancel sweep" stopping its local
// runner. Saves screenshot-sweeps.png in the build folder
// (docs/screenshot-sweeps.png is made this way).
#include <QApplication>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include <cmath>
#include <fstream>

#include "core/store/run_store.h"
#include "core/sweep/sweep_control.h"
#include "core/sweep/sweep_manifest.h"
#include "core/sweep/sweep_plan.h"
#include "core/sweep/sweep_spec.h"
#include "tests/ui/ui_test_support.h"
#include "ui/compare_view.h"
#include "ui/fidelity_plots.h"
#include "ui/main_window.h"
#include "ui/sweep_charts.h"
#include "ui/sweep_dialog.h"
#include "ui/sweeps_view.h"

using namespace distill;
using namespace distill::ui;

namespace {

// The accuracy a run of the written sweep reports: bigger students and higher temperatures do
// better; the seed moves it by 0.004, which the error bars show.
double accuracyOf(int hidden, double temperature, int seed) {
  return 0.70 + (hidden == 64 ? 0.06 : 0.0) + 0.01 * std::log2(temperature) + 0.004 * seed;
}
int64_t parametersOf(int hidden) { return hidden == 16 ? 12'730 : 50'890; }
// Agreement with the teacher falls as the temperature rises (a softer target).
double agreementOf(int hidden, double temperature, int seed) {
  return 0.80 + (hidden == 64 ? 0.03 : 0.0) - 0.006 * std::log2(temperature) + 0.003 * seed;
}

struct WrittenSweep {
  std::string folder;
  SweepManifest manifest;
};

// Plans a sweep of 16 runs into `folder` and writes each run's database as a worker would have:
// runs 0-13 completed, run 14 failed (diverged, with its log), run 15 running in the student
// phase at epoch 0.5 of 1 after a teacher epoch of 1 (75%).
WrittenSweep writeSweep(const QString& folder, const std::string& backend = "local") {
  const std::string text =
      "name: hidden-temps\n"
      "set: {teacher.epochs: 1, train.epochs: 1, dataset.limit_train: 512}\n"
      "axes:\n  student.hidden: [[16], [64]]\n  distill.temperature: [1, 2, 4, 8]\n  seed: [0, 1]\n";
  const SweepPlan plan = planSweep(parseSweep(text, "test sweep", folder.toStdString()));
  WrittenSweep sweep;
  sweep.folder = folder.toStdString();
  sweep.manifest = applyPlan(sweep.folder, std::nullopt, plan, backend);
  for (const auto& task : plan.tasks) {
    RunStore store(taskDatabase(sweep.folder, task.hash));
    NewRun run;
    run.name = task.config.name;
    run.config_yaml = toYaml(task.config);
    run.params = flatten(task.config);
    const int64_t id = store.createRun(run);
    for (const auto& tag : sweepTags(sweep.manifest.id, task)) store.addTag(id, tag);
    const int hidden = task.config.student.hidden.front();
    store.setEnvironment(id, {{"student_parameters", std::to_string(parametersOf(hidden))}});
    const double now = QDateTime::currentSecsSinceEpoch();
    std::vector<MetricPoint> points{{"train/teacher_loss", 10, 1.0, now, 0.9}, {"eval/teacher_acc", 10, 1.0, now, 0.84}};
    if (task.index == 15) {
      points.push_back({"train/student_loss", 5, 0.5, now, 0.7});
      store.appendMetrics(id, points);
      continue;  // running (this process is its live writer)
    }
    const double accuracy = accuracyOf(hidden, task.config.distill.temperature, task.config.seed);
    points.push_back({"train/student_loss", 10, 1.0, now, 0.5});
    points.push_back({"eval/student_acc", 10, 1.0, now, accuracy});
    points.push_back({"eval/agreement", 10, 1.0, now, agreementOf(hidden, task.config.distill.temperature, task.config.seed)});
    store.appendMetrics(id, points);
    if (task.index == 14) {
      store.finishRun(id, RunStatus::Failed, "diverged at step 5 of the student phase (loss is -nan)");
      std::ofstream(taskLogPath(sweep.folder, task.hash)) << "epoch 1\nerror: diverged at step 5 of the student phase (loss is -nan)\n";
    } else {
      store.finishRun(id, RunStatus::Completed);
    }
  }
  return sweep;
}

// A one-run local sweep of `base` (1 thread), planned as `distill sweep run` plans it, whose
// worker failed (its run failed, no checkpoint). Returns the task's database.
std::string writeFailedLocalSweep(const QTemporaryDir& dir, ExperimentConfig base) {
  base.threads = 1;
  const QString base_file = dir.filePath("base.yaml");
  std::ofstream(base_file.toStdString()) << toYaml(base);
  const std::string folder = dir.filePath("sweep").toStdString();
  const SweepPlan plan =
      planSweep(parseSweep("name: again\nbase: " + base_file.toStdString() + "\naxes:\n  seed: [0]\n", "test sweep", folder));
  const SweepManifest manifest = applyPlan(folder, std::nullopt, plan, "local");
  const std::string database = taskDatabase(folder, manifest.tasks[0].hash);
  RunStore store(database);
  NewRun run;
  run.name = plan.tasks[0].config.name;
  run.config_yaml = toYaml(plan.tasks[0].config);
  run.params = flatten(plan.tasks[0].config);
  const int64_t id = store.createRun(run);
  store.finishRun(id, RunStatus::Failed, "diverged at step 3 (loss is nan)");
  return database;
}

int rowOfIndex(const QTableWidget& table, int index) {
  for (int r = 0; r < table.rowCount(); ++r)
    if (table.item(r, 0)->text() == QString::number(index)) return r;
  return -1;
}

int columnOf(const QTableWidget& table, const QString& header) {
  for (int c = 0; c < table.columnCount(); ++c)
    if (table.horizontalHeaderItem(c)->text() == header) return c;
  return -1;
}

}  // namespace

class TestSweeps : public QObject {
  Q_OBJECT
 private slots:
  void showsTheRunsStatesAndLiveProgress() {
    QTemporaryDir dir;
    const WrittenSweep sweep = writeSweep(dir.filePath("sweep"));
    SweepsView view;
    view.setRefreshInterval(150);
    view.resize(1200, 800);
    view.show();
    QSignalSpy refreshed(&view, &SweepsView::refreshed);
    view.addFolder(dir.filePath("sweep"));
    QTRY_VERIFY_WITH_TIMEOUT(!view.results().rows.empty(), 20'000);
    QCOMPARE(view.sweeps().size(), size_t(1));
    QCOMPARE(view.sweeps().front().id, sweep.manifest.id);
    QCOMPARE(view.results().axes, (std::vector<std::string>{"student.hidden", "distill.temperature", "seed"}));
    QTableWidget* table = view.table();
    QCOMPARE(table->rowCount(), 16);
    const int state = columnOf(*table, "State"), progress = columnOf(*table, "Progress");
    QVERIFY(state > 0 && progress > 0);
    QCOMPARE(table->item(rowOfIndex(*table, 0), state)->text(), QString("completed"));
    QCOMPARE(table->item(rowOfIndex(*table, 14), state)->text(), QString("failed"));
    QCOMPARE(table->item(rowOfIndex(*table, 15), state)->text(), QString("running"));
    QCOMPARE(table->item(rowOfIndex(*table, 15), progress)->text(), QString("75% · student epoch 0.50"));
    QCOMPARE(table->item(rowOfIndex(*table, 0), columnOf(*table, "Student parameters"))->text(), QLocale().toString(12730));
    QVERIFY(view.statusLabel()->text().contains("14 completed, 1 running, 1 failed"));

    // A failed run shows its error and the end of its log.
    table->selectRow(rowOfIndex(*table, 14));
    QVERIFY(view.detailText()->toPlainText().contains("failed"));
    QVERIFY(view.detailText()->toPlainText().contains("error: diverged at step 5"));

    // Live: the running run moves on in its database; the page follows it by itself.
    {
      const auto& task = sweep.manifest.tasks[15];
      RunStore store(taskDatabase(sweep.folder, task.hash));
      store.appendMetrics(1, {{"train/student_loss", 9, 0.9, double(QDateTime::currentSecsSinceEpoch()), 0.6}});
    }
    QTRY_COMPARE_WITH_TIMEOUT(view.table()->item(rowOfIndex(*view.table(), 15), progress)->text(),
                              QString("95% · student epoch 0.90"), 10'000);
    QVERIFY(refreshed.count() >= 2);
  }

  void chartsDrawTheMetricItsSpreadEveryRunAndTheFront() {
    QTemporaryDir dir;
    writeSweep(dir.filePath("sweep"));
    SweepsView view;
    view.resize(1200, 800);
    view.show();
    view.addFolder(dir.filePath("sweep"));
    QTRY_VERIFY_WITH_TIMEOUT(!view.results().rows.empty(), 20'000);
    QCOMPARE(view.metricBox()->currentData().toString(), QString("eval/student_acc"));
    QCOMPARE(view.xAxisBox()->currentData().toString(), QString("student.hidden"));  // the first axis that is not the seed

    // Temperature on X, one line per student size: each point the mean over the two seeds.
    view.xAxisBox()->setCurrentIndex(view.xAxisBox()->findData("distill.temperature"));
    view.seriesAxisBox()->setCurrentIndex(view.seriesAxisBox()->findData("student.hidden"));
    QCustomPlot* by_axes = view.chart(SweepsView::Chart::ByAxes);
    QCOMPARE(by_axes->graphCount(), 2);
    QCPGraph* small = by_axes->graph(0);  // hidden [16]
    QCOMPARE(small->dataCount(), 4);
    QCOMPARE(small->data()->at(1)->key, 2.0);
    QVERIFY(std::abs(small->data()->at(1)->value - 100 * (accuracyOf(16, 2, 0) + accuracyOf(16, 2, 1)) / 2) < 1e-9);
    QCOMPARE(by_axes->graph(1)->dataCount(), 3);  // [64] at 8: run 14 failed, run 15 running: none
    QCPErrorBars* bars = nullptr;
    for (int i = 0; i < by_axes->plottableCount(); ++i)
      if (auto* b = qobject_cast<QCPErrorBars*>(by_axes->plottable(i)); b && b->dataPlottable() == small) bars = b;
    QVERIFY(bars);
    const double sd = 100 * std::abs(accuracyOf(16, 2, 1) - accuracyOf(16, 2, 0)) / std::sqrt(2.0);
    QVERIFY2(std::abs(bars->data()->at(1).errorPlus - sd) < 1e-9, qPrintable(QString::number(bars->data()->at(1).errorPlus)));
    QVERIFY(plotTitle(by_axes).contains("mean ± s.d. over seed"));

    // Parallel coordinates: one curve per completed run, through 3 axes and the metric.
    QCustomPlot* parallel = view.chart(SweepsView::Chart::Parallel);
    int curves = 0;
    for (int i = 0; i < parallel->plottableCount(); ++i)
      if (auto* curve = qobject_cast<QCPCurve*>(parallel->plottable(i))) {
        ++curves;
        QCOMPARE(curve->dataCount(), 4);
      }
    QCOMPARE(curves, 14);

    // Pareto: the runs and the front of the accuracy, and of the agreement on the right axis.
    QCustomPlot* pareto = view.chart(SweepsView::Chart::Pareto);
    QCOMPARE(pareto->graphCount(), 4);
    QCOMPARE(pareto->graph(0)->dataCount(), 14);
    QCOMPARE(pareto->graph(1)->dataCount(), 2);  // the best of each size
    QCOMPARE(pareto->graph(1)->data()->at(1)->value, 100 * accuracyOf(64, 4, 1));
    QCOMPARE(pareto->graph(3)->data()->at(1)->value, 100 * agreementOf(64, 1, 1));
    QVERIFY(pareto->yAxis2->visible());

    for (SweepsView::Chart which : {SweepsView::Chart::ByAxes, SweepsView::Chart::Parallel, SweepsView::Chart::Pareto})
      for (const char* suffix : {"png", "pdf", "svg"}) {
        const QString path = dir.filePath(QStringLiteral("chart-%1.%2").arg(int(which)).arg(suffix));
        QSignalSpy exported(&view, &SweepsView::exported);
        view.exportChart(which, path);
        QCOMPARE(exported.count(), 1);
        QVERIFY2(QFileInfo(path).size() > 2000, qPrintable(path));
        if (QString(suffix) == "png") QVERIFY(!QImage(path).isNull());
        if (QString(suffix) == "svg") {
          QFile svg(path);
          QVERIFY(svg.open(QIODevice::ReadOnly));
          QVERIFY(svg.readAll().contains("<svg"));
        }
      }
    QVERIFY_THROWS_EXCEPTION(ExportError, view.exportChart(SweepsView::Chart::Pareto, dir.filePath("chart.bmp")));
  }

  void aSlowSlurmDoesNotBlockTheWindow() {
    QTemporaryDir dir;
    WrittenSweep sweep = writeSweep(dir.filePath("sweep"), "slurm");
    // Runs 14 and 15 were submitted to Slurm as array 5: Slurm says 14 ran out of memory (its
    // run reads failed), 15 is running.
    sweep.manifest.tasks[14].slurm_job = "5_0";
    sweep.manifest.tasks[15].slurm_job = "5_1";
    writeManifest(sweep.folder, sweep.manifest);
    // Slurm's commands, each taking 1.5 s to answer.
    const QString bin = dir.filePath("bin");
    QDir().mkpath(bin);
    const auto script = [&](const QString& name, const QString& output) {
      QFile file(bin + "/" + name);
      QVERIFY(file.open(QIODevice::WriteOnly));
      file.write(("#!/bin/sh\nsleep 1.5\nprintf '" + output + "'\n").toUtf8());
      file.close();
      file.setPermissions(file.permissions() | QFileDevice::ExeOwner);
    };
    script("sacct", "5_0|OUT_OF_MEMORY\\n5_1|RUNNING\\n");
    script("scontrol", "");
    script("squeue", "5_1|RUNNING\\n");
    const QByteArray path = qgetenv("PATH");
    qputenv("PATH", bin.toUtf8() + ":" + path);

    SweepsView view;
    view.resize(1200, 800);
    view.show();
    view.addFolder(dir.filePath("sweep"));
    QTRY_VERIFY_WITH_TIMEOUT(!view.results().rows.empty(), 30'000);
    // The probe: a 10 ms timer on the GUI thread, and how late each of its wake-ups is.
    QElapsedTimer clock;
    qint64 last = 0, latest = 0;
    QTimer probe;
    probe.setInterval(10);
    connect(&probe, &QTimer::timeout, [&] {
      const qint64 now = clock.elapsed();
      latest = std::max(latest, now - last - 10);
      last = now;
    });
    QSignalSpy refreshed(&view, &SweepsView::refreshed);
    clock.start();
    probe.start();
    view.refresh();
    QVERIFY(refreshed.wait(30'000));
    const qint64 took = clock.elapsed();
    probe.stop();
    qputenv("PATH", path);
    qInfo("refresh with a 1.5 s Slurm took %lld ms; the GUI thread was late by at most %lld ms", took, latest);
    QVERIFY2(took >= 1500, "Slurm was not asked");
    QVERIFY2(latest < 250, qPrintable(QString("the window stalled for %1 ms").arg(latest)));
    QCOMPARE(view.results().rows[14].state, std::string("out_of_memory"));  // its own state, not "failed"
    QCOMPARE(view.results().rows[14].slurm, std::string("OUT_OF_MEMORY"));
    QCOMPARE(view.results().rows[15].slurm, std::string("RUNNING"));
    QVERIFY(view.statusLabel()->text().contains("Slurm: sacct"));
  }

  void compareSelectedImportsTheRunsAndOpensTheCompareView() {
    QTemporaryDir dir;
    writeSweep(dir.filePath("sweep"));
    MainWindow window(dir.filePath("runs.db"));
    window.resize(1600, 1000);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    auto* view = window.findChild<SweepsView*>("sweepsView");
    QVERIFY(view);
    window.pages()->setCurrentWidget(view);
    view->addFolder(dir.filePath("sweep"));
    QTRY_VERIFY_WITH_TIMEOUT(view->results().rows.size() == 16, 20'000);
    QCOMPARE(view->results().rows[0].main_run_id, 0);  // not imported yet
    view->table()->clearSelection();
    view->table()->setSelectionMode(QAbstractItemView::MultiSelection);
    view->table()->selectRow(rowOfIndex(*view->table(), 2));
    view->table()->selectRow(rowOfIndex(*view->table(), 10));
    view->table()->setSelectionMode(QAbstractItemView::ExtendedSelection);
    QSignalSpy compare(view, &SweepsView::compareRequested);
    QTest::mouseClick(view->findChild<QPushButton*>("sweep-compare"), Qt::LeftButton);
    QVERIFY(compare.count() == 1 || compare.wait(20'000));
    QCOMPARE(compare.first().first().value<QList<qint64>>().size(), 2);
    QCOMPARE(window.pages()->currentWidget(), window.compareView());
    QCOMPARE(window.compareView()->runIds().size(), 2);
    RunStore store(dir.filePath("runs.db").toStdString(), RunStore::Mode::ReadOnly);
    QCOMPARE(store.listRuns().size(), size_t(16));  // the whole sweep imported
    QVERIFY(view->results().rows[2].main_run_id > 0);

    // The screenshot for the docs: the page with the failed run selected.
    window.pages()->setCurrentWidget(view);
    view->xAxisBox()->setCurrentIndex(view->xAxisBox()->findData("distill.temperature"));
    view->seriesAxisBox()->setCurrentIndex(view->seriesAxisBox()->findData("student.hidden"));
    view->table()->clearSelection();
    view->table()->selectRow(rowOfIndex(*view->table(), 14));
    QTest::qWait(200);
    QVERIFY(window.grab().toImage().save(QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/screenshot-sweeps.png")));
    view->chartTabs()->setCurrentIndex(1);
    QTest::qWait(100);
    QVERIFY(window.grab().toImage().save(QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/screenshot-sweeps-parallel.png")));
    view->chartTabs()->setCurrentIndex(2);
    QTest::qWait(100);
    QVERIFY(window.grab().toImage().save(QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/screenshot-sweeps-pareto.png")));
  }

  void theSubmitDialogPlansAsItIsTyped() {
    ExperimentConfig base = test::tinyConfig();
    SweepDialog dialog(base, QDir::temp().filePath("sweeps/sweep"));
    QVERIFY(dialog.valid());  // the example: temperature x seed
    QVERIFY(dialog.planLabel()->text().startsWith("4 run(s)"));
    dialog.axesEdit()->setPlainText("distill.temprature: [2, 4]\n");
    QVERIFY(!dialog.valid());
    QVERIFY2(dialog.planLabel()->text().contains("axes.distill.temprature: unknown config key"), qPrintable(dialog.planLabel()->text()));
    dialog.axesEdit()->setPlainText("distill.temperature: [2, 0]\n");
    QVERIFY(!dialog.valid());
    QVERIFY(dialog.planLabel()->text().contains("value '0'"));
    dialog.axesEdit()->setPlainText("distill.alpha: [0.5, 0.9]\n");
    dialog.nameEdit()->setText("alphas");
    dialog.jobsSpin()->setValue(2);
    QVERIFY(dialog.valid());
    const SweepSubmission s = dialog.submission();
    QVERIFY(s.folder.endsWith("/sweeps/alphas"));
    QCOMPARE(s.runs, 2);
    QCOMPARE(s.run_arguments, (QStringList{"--out", s.folder, "--backend", "local", "--jobs", "2"}));
    dialog.backendBox()->setCurrentIndex(dialog.backendBox()->findData("slurm"));
    QVERIFY(dialog.submission().run_arguments.contains("slurm"));
    QVERIFY(!dialog.submission().run_arguments.contains("--jobs"));
  }

  void resubmitFailedRunsAFailedLocalRunAgain() {
    QTemporaryDir dir;
    qputenv("DISTILL_CLI", DISTILL_CLI_PATH);
    const std::string database = writeFailedLocalSweep(dir, test::tinyConfig());

    SweepsView view;
    view.setDatabasePath(dir.filePath("runs.db"));
    view.setRefreshInterval(200);
    view.show();
    view.addFolder(dir.filePath("sweep"));
    QTRY_VERIFY_WITH_TIMEOUT(view.results().rows.size() == 1 && view.results().rows[0].state == "failed", 20'000);
    QVERIFY(view.resubmitButton()->isEnabled());
    QVERIFY(!view.cancelButton()->isEnabled());  // nothing queued or running

    QSignalSpy finished(&view, &SweepsView::actionFinished);
    view.resubmitFailed();
    QVERIFY(view.actionRunning());
    QVERIFY(!view.resubmitButton()->isEnabled());  // one action at a time
    QVERIFY(finished.wait(20'000));
    const QString message = finished.first().first().toString();
    QVERIFY2(message.startsWith("Resubmitted 1 failed run(s)"), qPrintable(message));
    QVERIFY(view.statusLabel()->text().contains("Resubmitted") || view.refreshing());
    // The page follows the run it started until it completes, by itself.
    QTRY_VERIFY_WITH_TIMEOUT(view.results().rows[0].state == "completed", 90'000);
    QVERIFY(view.results().rows[0].final_metrics.count("eval/student_acc"));
    QCOMPARE(readTaskRun(database).runs, 2);  // a new run beside the failed one
    QTRY_VERIFY_WITH_TIMEOUT(!view.actionRunning() && !view.resubmitButton()->isEnabled(), 5'000);
    // Its `distill sweep resubmit` has written its manifest and let go of the folder.
    QTRY_VERIFY_WITH_TIMEOUT(localRunner(dir.filePath("sweep").toStdString()).pid == 0, 10'000);
    qunsetenv("DISTILL_CLI");
  }

  void cancelSweepStopsTheLocalRunner() {
    QTemporaryDir dir;
    qputenv("DISTILL_CLI", DISTILL_CLI_PATH);
    // A run of thousands of steps, started again by "Resubmit failed", then cancelled.
    const std::string database = writeFailedLocalSweep(dir, test::longConfig());
    SweepsView view;
    view.setDatabasePath(dir.filePath("runs.db"));
    view.setRefreshInterval(200);
    view.show();
    view.addFolder(dir.filePath("sweep"));
    QTRY_VERIFY_WITH_TIMEOUT(view.results().rows.size() == 1 && view.resubmitButton()->isEnabled(), 20'000);
    QSignalSpy finished(&view, &SweepsView::actionFinished);
    view.resubmitFailed();
    QVERIFY(finished.wait(20'000));
    // Its runner holds the folder and its run trains: Cancel applies.
    QTRY_VERIFY_WITH_TIMEOUT(view.results().local_runner > 0 && view.results().rows[0].state == "running", 30'000);
    QTRY_VERIFY_WITH_TIMEOUT(view.cancelButton()->isEnabled(), 5'000);
    const int64_t runner = view.results().local_runner;
    view.cancelSweep();
    QVERIFY(finished.wait(20'000));
    const QString message = finished.last().first().toString();
    QVERIFY2(message.contains(QStringLiteral("stopped the local runner (process %1)").arg(runner)), qPrintable(message));
    // The runner stops its worker between steps: the run is stored stopped, the runner is gone.
    QTRY_VERIFY_WITH_TIMEOUT(view.results().rows[0].state == "stopped" && view.results().local_runner == 0, 30'000);
    QCOMPARE(readTaskRun(database).status, std::string("stopped"));
    QTRY_VERIFY_WITH_TIMEOUT(!view.cancelButton()->isEnabled(), 5'000);
    qunsetenv("DISTILL_CLI");
  }

  void aSweepSubmittedFromTheWindowRunsTheFormsExperiment() {
    QTemporaryDir dir;
    qputenv("DISTILL_CLI", DISTILL_CLI_PATH);
    MainWindow window(dir.filePath("runs.db"));
    window.show();
    ExperimentConfig base = test::tinyConfig();
    base.threads = 1;
    window.form()->setConfig(base);
    auto* view = window.findChild<SweepsView*>("sweepsView");
    window.pages()->setCurrentWidget(view);
    view->setRefreshInterval(300);
    SweepDialog dialog(window.form()->config(), dir.filePath("sweeps/sweep"));
    dialog.nameEdit()->setText("temps");
    dialog.axesEdit()->setPlainText("distill.temperature: [2, 4]\n");
    dialog.jobsSpin()->setValue(2);
    QVERIFY(dialog.valid());
    QCOMPARE(view->submitSweep(dialog.submission()), QString());
    QTRY_VERIFY_WITH_TIMEOUT(view->results().rows.size() == 2 && view->results().allFinal(), 120'000);
    for (const auto& row : view->results().rows) {
      QCOMPARE(row.state, std::string("completed"));
      QVERIFY(row.final_metrics.count("eval/student_acc"));
    }
    QCOMPARE(view->results().ref.name, std::string("temps"));
    // The base is the form's: its student and teacher sizes.
    QVERIFY(QFile::exists(dir.filePath("sweeps/temps/sweep.yaml")));
    QFile file(dir.filePath("sweeps/temps/sweep.yaml"));
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray text = file.readAll();
    QVERIFY(text.contains("limit_train: 512"));
    QVERIFY(text.contains("distill.temperature: [2, 4]"));
    qunsetenv("DISTILL_CLI");
  }
};

QTEST_MAIN(TestSweeps)
#include "test_sweeps.moc"
