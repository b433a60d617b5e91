// The Fidelity page and the mirror-test dialog: charts filled from a hand-made analysis, a
// real (tiny) run analysed on the worker thread, the page in the window following the Runs
// page's selection, the mirror test run from the dialog without blocking, and screenshots
// (tests/ui/screenshots/fidelity.png, mirror.png) for a person to look at.
//
// DISTILL_SCREENSHOT_DB and DISTILL_SCREENSHOT_RUN point the screenshots at another database
// and run (the README's pictures come from the default experiment's run).
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include <filesystem>

#include "core/store/run_store.h"
#include "core/train/experiment_runner.h"
#include "tests/ui/ui_test_support.h"
#include "ui/fidelity_view.h"
#include "ui/main_window.h"
#include "ui/mirror_dialog.h"
#include "ui/run_browser.h"

using namespace distill;
using namespace distill::ui;

namespace {

bool haveFashionMnist() {
  std::error_code ec;
  return std::filesystem::is_directory(defaultDatasetPath("fashion-mnist"), ec);
}

// Three classes, eight images; the student disagrees on images 5, 2 and 7.
RunFidelity handMadeAnalysis() {
  RunFidelity r;
  r.run_id = 7;
  r.run_name = "hand-made";
  r.status = "completed";
  r.dataset = "toy";
  r.student_epoch = 3;
  FidelityAnalysis& a = r.analysis;
  a.samples = 8;
  a.num_classes = 3;
  a.class_names = {"cat", "dog", "bird"};
  a.agreement_matrix = {3, 1, 0, 0, 2, 1, 1, 0, 0};  // the student disagrees on three images
  a.per_class = {{"cat", 3, 1.0, 0.67, 0.67}, {"dog", 3, 0.67, 0.67, 0.67}, {"bird", 2, 0.5, 0.5, 0.5}};
  a.teacher_acc = 0.75;
  a.student_acc = 0.625;
  a.agreement = 0.625;
  a.top5_overlap = 1.0;
  a.kl = 0.2;
  a.js = 0.05;
  for (Calibration* c : {&a.teacher_calibration, &a.student_calibration}) {
    for (int b = 0; b < kCalibrationBins; ++b) c->bins.push_back({b / 15.0, (b + 1) / 15.0, 0, 0.0, 0.0});
    c->bins[9] = {0.6, 0.6667, 4, 0.63, 0.5};
    c->bins[13] = {0.8667, 0.9333, 4, 0.9, 0.75};
    c->ece = 0.14;
  }
  a.teacher_calibration.ece = 0.11;
  auto add = [&](int64_t index, int64_t target, double confidence, int64_t teacher, int64_t student) {
    Disagreement d;
    d.index = index;
    d.target = target;
    d.teacher_confidence = confidence;
    d.teacher_top = {{teacher, confidence}, {student, 1 - confidence - 0.01}, {3 - teacher - student, 0.01}};
    d.student_top = {{student, 0.6}, {teacher, 0.3}, {3 - teacher - student, 0.1}};
    d.teacher_probs.assign(3, 0.0f);
    d.student_probs.assign(3, 0.0f);
    for (const auto& p : d.teacher_top) d.teacher_probs[static_cast<size_t>(p.label)] = static_cast<float>(p.probability);
    for (const auto& p : d.student_top) d.student_probs[static_cast<size_t>(p.label)] = static_cast<float>(p.probability);
    a.disagreements.push_back(d);
    r.disagreement_images.push_back(std::vector<float>(16, static_cast<float>(index) / 10.0f));
  };
  add(5, 0, 0.9, 0, 1);  // most confident teacher first, as analyzeFidelity orders them
  add(2, 1, 0.7, 1, 2);
  add(7, 2, 0.55, 0, 1);
  r.image_shape = {1, 4, 4};
  return r;
}

int64_t trainTinyRun(const std::string& db) {
  ExperimentConfig config = test::tinyConfig();
  config.teacher.epochs = 2;
  config.train.epochs = 2;
  TrainingObserver observer;
  RunControl control;
  ExperimentRunner runner(config, db, observer, control);
  const int64_t id = runner.createRun();
  runner.run();
  return id;
}

QString saveShot(QWidget& widget, const QString& name) {
  const QString folder = QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/screenshots");
  QDir().mkpath(folder);
  const QString path = folder + "/" + name;
  return widget.grab().toImage().save(path) ? path : QString();
}

}  // namespace

class TestFidelity : public QObject {
  Q_OBJECT
 private slots:
  void handMadeAnalysisFillsEveryChart() {
    FidelityView view;
    view.resize(1200, 800);
    QSignalSpy shown(&view, &FidelityView::analysisShown);
    view.showAnalysis(handMadeAnalysis());
    QCOMPARE(shown.count(), 1);
    QVERIFY(view.summaryLabel()->text().contains(QStringLiteral("0.6250")));

    // Heatmap: one colour map, a label per non-empty cell with its count and row percentage.
    QCOMPARE(view.matrixPlot()->plottableCount(), 1);
    auto* map = qobject_cast<QCPColorMap*>(view.matrixPlot()->plottable(0));
    QVERIFY(map);
    QCOMPARE(map->data()->keySize(), 3);
    QCOMPARE(view.matrixPlot()->itemCount(), 5);  // five non-empty cells
    QStringList labels;
    for (int i = 0; i < view.matrixPlot()->itemCount(); ++i)
      labels << qobject_cast<QCPItemText*>(view.matrixPlot()->item(i))->text();
    QVERIFY2(labels.contains(QStringLiteral("3\n75%")), qPrintable(labels.join('|')));  // 3 of the teacher's 4 cats
    auto* ticker = dynamic_cast<QCPAxisTickerText*>(view.matrixPlot()->xAxis->ticker().data());
    QVERIFY(ticker);
    QCOMPARE(ticker->ticks().value(2), QStringLiteral("bird"));

    // Per class: teacher, student, agreement bars for each class.
    QCOMPARE(view.classPlot()->plottableCount(), 3);
    auto* teacher_bars = qobject_cast<QCPBars*>(view.classPlot()->plottable(0));
    QCOMPARE(teacher_bars->data()->size(), 3);
    QCOMPARE(teacher_bars->data()->at(2)->value, 0.5);

    // Reliability: the diagonal and one curve per model, its ECE in the legend.
    QCOMPARE(view.reliabilityPlot()->graphCount(), 3);
    QCOMPARE(view.reliabilityPlot()->graph(1)->data()->size(), 2);
    QVERIFY(view.reliabilityPlot()->graph(1)->name().contains(QStringLiteral("0.1100")));

    // Gallery: exactly the disagreements, the teacher's most confident first; sortable.
    QCOMPARE(view.gallery()->count(), 3);
    QVERIFY(view.gallery()->item(0)->text().startsWith(QStringLiteral("#5 true: cat")));
    QVERIFY(!view.gallery()->item(0)->icon().isNull());
    QVERIFY(view.gallery()->item(0)->toolTip().contains(QStringLiteral("teacher: cat 0.90")));
    view.sortBox()->setCurrentIndex(static_cast<int>(FidelityView::GallerySort::TeacherLeastConfident));
    QVERIFY(view.gallery()->item(0)->text().startsWith(QStringLiteral("#7")));
    view.setGallerySort(FidelityView::GallerySort::ImageIndex);
    QVERIFY(view.gallery()->item(0)->text().startsWith(QStringLiteral("#2")));
    QVERIFY(view.gallery()->item(2)->text().startsWith(QStringLiteral("#7")));

    // Clicking an image shows both full distributions.
    view.selectDisagreement(0);  // image 2 in index order
    QCOMPARE(view.distributionPlot()->plottableCount(), 2);
    auto* student_bars = qobject_cast<QCPBars*>(view.distributionPlot()->plottable(1));
    QCOMPARE(student_bars->data()->size(), 3);
    QCOMPARE(student_bars->data()->at(2)->value, static_cast<double>(0.6f));  // image 2: the student said bird at 0.6
  }

  void tinyRunIsAnalysedOnTheWorkerThread() {
    if (!haveFashionMnist()) QSKIP("dataset-fashion-mnist is not installed");
    QTemporaryDir dir;
    const std::string db = dir.filePath("runs.db").toStdString();
    const int64_t id = trainTinyRun(db);
    FidelityView view;
    view.setDatabasePath(dir.filePath("runs.db"));
    QSignalSpy shown(&view, &FidelityView::analysisShown);
    view.setRun(id);
    QVERIFY(view.busy());  // setRun returned while the analysis runs
    QVERIFY(shown.wait(60000));
    QCOMPARE(shown.takeFirst().at(0).toLongLong(), id);
    QCOMPARE(view.analysis()->analysis.samples, 256);
    QCOMPARE(view.gallery()->count(), static_cast<int>(view.analysis()->analysis.disagreements.size()));
    RunStore store(db, RunStore::Mode::ReadOnly);
    QCOMPARE(view.analysis()->analysis.agreement, store.getRun(id)->final_metrics.at("eval/agreement"));

    // A run that does not exist is reported on the page, not thrown.
    QSignalSpy failed(&view, &FidelityView::analysisFailed);
    view.setRun(99);
    QVERIFY(failed.wait(30000));
    QVERIFY(view.statusLabel()->text().contains(QStringLiteral("not found")));
  }

  void windowFidelityPageFollowsTheRunsSelection() {
    if (!haveFashionMnist()) QSKIP("dataset-fashion-mnist is not installed");
    QTemporaryDir dir;
    const int64_t id = trainTinyRun(dir.filePath("runs.db").toStdString());
    MainWindow window(dir.filePath("runs.db"));
    auto* fidelity = window.findChild<FidelityView*>(QStringLiteral("fidelityView"));
    QVERIFY(fidelity);
    window.pages()->setCurrentWidget(window.browser());
    window.browser()->refresh();
    window.browser()->selectRuns({id});
    QSignalSpy shown(fidelity, &FidelityView::analysisShown);
    window.pages()->setCurrentWidget(fidelity);
    QVERIFY(shown.wait(60000));
    QCOMPARE(fidelity->runId(), id);
  }

  void liveRunIsFollowedAtEachEvaluation() {
    if (!haveFashionMnist()) QSKIP("dataset-fashion-mnist is not installed");
    QTemporaryDir dir;
    MainWindow window(dir.filePath("runs.db"));
    window.setCloseConfirmation([] { return true; });
    ExperimentConfig config = test::tinyConfig();
    config.dataset.limit_train = 6000;
    config.train.epochs = 3;
    window.form()->setConfig(config);
    auto* fidelity = window.findChild<FidelityView*>(QStringLiteral("fidelityView"));
    QSignalSpy started(window.controller(), &RunController::runStarted);
    QSignalSpy finished(window.controller(), &RunController::runFinished);
    QSignalSpy shown(fidelity, &FidelityView::analysisShown);
    window.startRun();
    QVERIFY(started.wait(30000));
    window.pages()->setCurrentWidget(fidelity);  // the live run: no student checkpoint yet
    QCOMPARE(fidelity->runId(), started.at(0).at(0).toLongLong());
    // The mirror test would reseed the generator the run draws from: it waits for the run.
    auto* mirror = fidelity->findChild<QPushButton*>(QStringLiteral("mirrorButton"));
    QVERIFY(mirror);
    QVERIFY(!mirror->isEnabled());
    QVERIFY(finished.wait(120000));
    QVERIFY(mirror->isEnabled());
    // The last evaluation's analysis arrives a moment after the run ends: the final student.
    QTRY_VERIFY_WITH_TIMEOUT(fidelity->analysis() && fidelity->analysis()->student_epoch == 3.0 && !fidelity->busy(),
                             60000);
    QVERIFY(shown.count() >= 1);
  }

  void mirrorDialogRunsWithoutBlockingAndShowsTheVerdict() {
    if (!haveFashionMnist()) QSKIP("dataset-fashion-mnist is not installed");
    QTemporaryDir dir;
    const int64_t id = trainTinyRun(dir.filePath("runs.db").toStdString());
    MirrorDialog dialog;
    dialog.setDatabasePath(dir.filePath("runs.db"));

    // A bad model name: the message names it, nothing crashes.
    dialog.setModels(QStringLiteral("%1:coach").arg(id), QString::number(id));
    QSignalSpy finished(&dialog, &MirrorDialog::finished);
    dialog.runButton()->click();
    QVERIFY(finished.wait(30000));
    QCOMPARE(finished.takeFirst().at(0).toBool(), false);
    QVERIFY2(dialog.verdictLabel()->text().contains(QStringLiteral("neither a run")),
             qPrintable(dialog.verdictLabel()->text()));

    dialog.setModels(QStringLiteral("%1:teacher").arg(id), QString::number(id));
    dialog.referencesBox()->setValue(2);
    dialog.epochsBox()->setValue(1);
    dialog.samplesBox()->setValue(512);
    dialog.probeBox()->setValue(100);
    dialog.runButton()->click();
    QVERIFY(dialog.running());
    QVERIFY(!dialog.runButton()->isEnabled());
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.takeFirst().at(0).toBool(), true);
    QVERIFY(dialog.table()->rowCount() >= 5);
    QCOMPARE(dialog.table()->item(0, 0)->text(), QStringLiteral("test"));
    QVERIFY(!dialog.verdictLabel()->text().isEmpty());
    QVERIFY(dialog.evidenceLabel()->text().contains(QStringLiteral("independently trained")));
    QVERIFY(dialog.progressLog()->toPlainText().contains(QStringLiteral("training reference model 2/2")));

    // Stop ends a running test early.
    dialog.epochsBox()->setValue(50);
    dialog.samplesBox()->setValue(0);
    dialog.runButton()->click();
    QVERIFY(dialog.running());
    // Stop while the first reference trains (the worker checks the flag between batches).
    QTRY_VERIFY_WITH_TIMEOUT(dialog.progressLog()->toPlainText().contains(QStringLiteral("training reference model 1/2")),
                             60000);
    dialog.stopButton()->click();
    QTRY_VERIFY2_WITH_TIMEOUT(finished.count() == 1, qPrintable(dialog.progressLog()->toPlainText()), 60000);
    QCOMPARE(finished.takeFirst().at(0).toBool(), false);
    QVERIFY(dialog.verdictLabel()->text().contains(QStringLiteral("stopped")));
  }

  void screenshots() {
    if (!haveFashionMnist() && qEnvironmentVariableIsEmpty("DISTILL_SCREENSHOT_DB"))
      QSKIP("dataset-fashion-mnist is not installed");
    QTemporaryDir dir;
    QString db = qEnvironmentVariable("DISTILL_SCREENSHOT_DB");
    qint64 id = qEnvironmentVariableIntValue("DISTILL_SCREENSHOT_RUN");
    if (db.isEmpty()) {
      db = dir.filePath("runs.db");
      id = trainTinyRun(db.toStdString());
    }
    FidelityView view;
    view.resize(1600, 1080);
    view.setDatabasePath(db);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &FidelityView::analysisShown);
    view.setRun(id);
    QVERIFY(shown.wait(120000));
    view.selectDisagreement(0);
    QTest::qWait(100);
    QVERIFY(!saveShot(view, QStringLiteral("fidelity.png")).isEmpty());

    view.openMirrorTest();
    MirrorDialog* dialog = view.mirrorDialog();
    QVERIFY(dialog);
    // A quick setting for the picture (the defaults train the references as long as the run).
    dialog->referencesBox()->setValue(2);
    dialog->epochsBox()->setValue(1);
    dialog->probeBox()->setValue(qEnvironmentVariableIsEmpty("DISTILL_SCREENSHOT_DB") ? 200 : 1000);
    if (!qEnvironmentVariableIsEmpty("DISTILL_SCREENSHOT_DB")) dialog->samplesBox()->setValue(20000);
    QSignalSpy finished(dialog, &MirrorDialog::finished);
    dialog->runButton()->click();
    QVERIFY(finished.wait(590000));
    QVERIFY(finished.takeFirst().at(0).toBool());
    QTest::qWait(100);
    QVERIFY(!saveShot(*dialog, QStringLiteral("mirror.png")).isEmpty());
  }
};

QTEST_MAIN(TestFidelity)
#include "test_fidelity.moc"
