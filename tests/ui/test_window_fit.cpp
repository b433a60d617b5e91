// A researcher's first hour (issue 19): the window on a laptop screen (1280x720) and a desktop
// one (1920x1080) over two real runs, a distilled student and the same student trained alone.
// At each size and on every page, every control lies inside the window (or in a scroll area),
// no label's text is cut and the progress bar's text shows in full. Also: the compare
// summary's best marks and units, the fidelity page's bars from 0 and full gallery captions,
// the mirror dialog's spread with two references and its window wording, the log's run names
// and final line.
//
// With DISTILL_SCREENSHOT_DIR set, it saves screenshot-{workbench,compare,fidelity,mirror}-WxH.png
// there (docs/ is made this way; the mirror dialog's after a real mirror test of run 1) and
// exports the comparison's accuracy chart as PNG and PDF (docs/comparison-student-accuracy.* is
// the CLI's export of the default preset pair instead).
#include <QAbstractScrollArea>
#include <QCheckBox>
#include <QDir>
#include <QLabel>
#include <QListWidget>
#include <QProgressBar>
#include <QScrollArea>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include "core/fidelity/mirror.h"
#include "tests/ui/ui_test_support.h"
#include "ui/compare_view.h"
#include "ui/fidelity_view.h"
#include "ui/main_window.h"
#include "ui/metric_charts.h"
#include "ui/mirror_dialog.h"
#include "ui/run_list_model.h"
#include "ui/status_panel.h"

using namespace distill;
using namespace distill::ui;

namespace {

ExperimentConfig runConfig(const char* name, double alpha) {
  ExperimentConfig c = test::tinyConfig();
  c.name = name;
  c.dataset.limit_train = 3000;
  c.dataset.limit_test = 1000;
  c.teacher.model.hidden = {128};
  c.teacher.epochs = 2;
  c.student.hidden = {32};
  c.train.epochs = 3;
  c.train.eval_every = 20;
  c.distill.alpha = alpha;
  return c;
}

QString describe(const QWidget* w) {
  return QStringLiteral("%1 '%2' (parent %3)")
      .arg(QString::fromLatin1(w->metaObject()->className()), w->objectName(),
           w->parentWidget() ? QString::fromLatin1(w->parentWidget()->metaObject()->className()) : QString());
}

// Inside a scroll area: reachable by scrolling, so only the scroll area itself must fit.
bool insideScrollArea(const QWidget* w, const QWidget* top) {
  for (const QWidget* p = w->parentWidget(); p && p != top; p = p->parentWidget())
    if (qobject_cast<const QAbstractScrollArea*>(p)) return true;
  return false;
}

// Every visible widget outside scroll areas inside the window's rectangle; every plain label's
// text (each line) as wide as its room; wrapped labels as tall as their text needs.
// A scroll area may scroll down, never sideways: a page wider than its room hides the right
// half of every chart and title behind a scroll bar nobody looks for.
// Every visible chart's title (each line) as wide as its plot, inside a scroll area or not.
QStringList layoutProblems(QWidget& window) {
  QStringList problems;
  const QRect bounds = window.rect();
  for (QWidget* w : window.findChildren<QWidget*>()) {
    if (!w->isVisible() || w->isWindow()) continue;
    if (auto* area = qobject_cast<QScrollArea*>(w); area && area->horizontalScrollBar()->maximum() > 0)
      problems << QStringLiteral("%1 scrolls sideways: its page needs %2 px more width than its %3 px")
                      .arg(describe(w)).arg(area->horizontalScrollBar()->maximum()).arg(area->viewport()->width());
    if (auto* plot = qobject_cast<QCustomPlot*>(w)) {
      plot->replot(QCustomPlot::rpImmediateRefresh);  // titles set since the last paint are laid out
      for (QCPTextElement* title : plot->findChildren<QCPTextElement*>()) {
        if (!title->visible() || !title->layout()) continue;
        // The layout gives a title the width of its text even past the plot's edge, where
        // the widget cuts it: its room is the plot's width.
        const QFontMetrics metrics(title->font());
        const int room = std::min(title->rect().width(), plot->width() - title->margins().left() - title->margins().right());
        for (const QString& line : title->text().split('\n'))
          if (metrics.horizontalAdvance(line) > room)
            problems << QStringLiteral("%1 cuts its title '%2' (%3 px of %4)")
                            .arg(describe(w), line)
                            .arg(metrics.horizontalAdvance(line))
                            .arg(room);
      }
    }
    if (insideScrollArea(w, &window)) continue;
    if (qobject_cast<QMenu*>(w)) continue;
    const QRect in_window(w->mapTo(&window, QPoint(0, 0)), w->size());
    if (!bounds.contains(in_window)) problems << QStringLiteral("%1 at %2,%3 %4x%5 leaves the window")
                                                     .arg(describe(w)).arg(in_window.x()).arg(in_window.y())
                                                     .arg(in_window.width()).arg(in_window.height());
    if (auto* label = qobject_cast<QLabel*>(w)) {
      const QString text = label->text();
      if (text.isEmpty() || label->pixmap().isNull() == false) continue;
      const int room = label->contentsRect().width() - 2 * label->margin() - 2 * label->indent() * (label->indent() > 0);
      if (label->wordWrap() || Qt::mightBeRichText(text)) {
        if (label->heightForWidth(label->width()) > label->height() + 2)
          problems << QStringLiteral("%1 '%2' needs %3 px of height, has %4")
                          .arg(describe(w), text.left(60)).arg(label->heightForWidth(label->width())).arg(label->height());
        continue;
      }
      for (const QString& line : text.split('\n'))
        if (label->fontMetrics().horizontalAdvance(line) > room)
          problems << QStringLiteral("%1 cuts '%2' (%3 px of %4)")
                          .arg(describe(w), line)
                          .arg(label->fontMetrics().horizontalAdvance(line))
                          .arg(room);
    }
    if (auto* bar = qobject_cast<QProgressBar*>(w))
      if (bar->isTextVisible() && bar->fontMetrics().horizontalAdvance(bar->text()) + 12 > bar->width())
        problems << QStringLiteral("progress bar text '%1' does not fit %2 px").arg(bar->text()).arg(bar->width());
    if (auto* plot = qobject_cast<QCustomPlot*>(w))
      if (plot->width() < 200 || plot->height() < 150)
        problems << QStringLiteral("%1 squeezed to %2x%3").arg(describe(w)).arg(plot->width()).arg(plot->height());
  }
  return problems;
}

QString shotDir() { return qEnvironmentVariable("DISTILL_SCREENSHOT_DIR"); }

void saveShot(QWidget& widget, const QString& name) {
  if (shotDir().isEmpty()) return;
  QDir().mkpath(shotDir());
  QVERIFY(widget.grab().toImage().save(shotDir() + "/" + name));
}

}  // namespace

class TestWindowFit : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    window_ = std::make_unique<MainWindow>(dir_.filePath(QStringLiteral("runs.db")));
    window_->resize(1280, 720);
    window_->show();
    QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
    for (const auto& config : {runConfig("kd-student", 0.9), runConfig("student-alone", 0.0)}) {
      window_->form()->setConfig(config);
      QVERIFY2(window_->form()->isValid(), "the test's config must be valid");
      QSignalSpy finished(window_->controller(), &RunController::runFinished);
      window_->startRun();
      QVERIFY(finished.wait(120'000));
      QCOMPARE(finished.first().at(1).value<RunEnd>(), RunEnd::Completed);
    }
  }
  void cleanupTestCase() { window_.reset(); }

  // Item 5: the log names the run by the user's name and ends with the CLI's final line.
  void logNamesTheRunAndEndsWithItsFinalMetrics() {
    const QString log = window_->logText();
    QVERIFY2(log.contains(QStringLiteral("Run 1 \"kd-student\" started")), qPrintable(log));
    QVERIFY2(log.contains(QStringLiteral("Run 2 \"student-alone\" completed")), qPrintable(log));
    QVERIFY2(log.contains(QRegularExpression(QStringLiteral(
                 "run 2 completed: teacher acc 0\\.\\d{4}, student acc 0\\.\\d{4}, agreement 0\\.\\d{4}, KL \\d+\\.\\d{4}"))),
             qPrintable(log));
  }

  void fitsTheScreen_data() {
    QTest::addColumn<QSize>("size");
    QTest::newRow("1280x720") << QSize(1280, 720);
    QTest::newRow("1920x1080") << QSize(1920, 1080);
  }
  // Item 1: every page at a laptop's and a desktop's size.
  void fitsTheScreen() {
    QFETCH(QSize, size);
    MainWindow& window = *window_;
    window.resize(size);
    QTest::qWait(50);
    if (window.size() != size) {  // the layout's minimum keeps the window larger: say whose
      QStringList minimums;
      for (QWidget* w : window.findChildren<QWidget*>())
        if (w->minimumSizeHint().width() > 400 || w->minimumSize().width() > 400)
          minimums << QStringLiteral("%1 %2x%3").arg(describe(w)).arg(std::max(w->minimumSizeHint().width(), w->minimumWidth()))
                          .arg(std::max(w->minimumSizeHint().height(), w->minimumHeight()));
      QFAIL(qPrintable(QStringLiteral("window %1x%2 for %3x%4; wide minimums:\n%5")
                           .arg(window.width()).arg(window.height()).arg(size.width()).arg(size.height())
                           .arg(minimums.join('\n'))));
    }
    const QString suffix = QStringLiteral("-%1x%2.png").arg(size.width()).arg(size.height());

    // Run page: run 1's curves, and the longest progress text the bar shows.
    window.pages()->setCurrentIndex(0);
    window.runTable()->selectRow(window.runList()->rowOf(1));
    ProgressInfo progress;
    progress.phase = Phase::Student;
    progress.epoch = 3, progress.epochs = 3, progress.step = 1234, progress.steps_in_phase = 1250;
    progress.done_steps = 999, progress.total_steps = 1000;
    progress.eta_s = 3599, progress.units_per_s = 12345;
    window.statusPanel()->showProgress(progress);
    QCOMPARE(window.statusPanel()->progressText(), QStringLiteral("99.9% · ETA 59 min 59 s"));
    QTest::qWait(150);
    QStringList problems = layoutProblems(window);
    QVERIFY2(problems.isEmpty(), qPrintable("Run page: " + problems.join("\n")));
    window.statusPanel()->reset();
    window.statusPanel()->setState(QStringLiteral("completed"));
    QTest::qWait(50);
    saveShot(window, "screenshot-workbench" + suffix);

    // Runs page.
    window.pages()->setCurrentIndex(1);
    QTest::qWait(50);
    problems = layoutProblems(window);
    QVERIFY2(problems.isEmpty(), qPrintable("Runs page: " + problems.join("\n")));

    // Compare page with both runs.
    QVERIFY(window.compareView()->setRuns({1, 2}));
    window.pages()->setCurrentWidget(window.compareView());
    QTest::qWait(150);
    saveShot(window, "screenshot-compare" + suffix);
    problems = layoutProblems(window);
    QVERIFY2(problems.isEmpty(), qPrintable("Compare page: " + problems.join("\n")));

    // Fidelity page: run 1 analysed from its checkpoints.
    auto* fidelity = window.findChild<FidelityView*>();
    window.pages()->setCurrentWidget(fidelity);
    fidelity->setRun(1);
    QTRY_VERIFY_WITH_TIMEOUT(fidelity->analysis() && !fidelity->busy(), 60'000);
    if (fidelity->gallery()->count() > 0) fidelity->selectDisagreement(0);
    QTest::qWait(150);
    saveShot(window, "screenshot-fidelity" + suffix);  // first: a failure's picture helps
    problems = layoutProblems(window);
    QVERIFY2(problems.isEmpty(), qPrintable("Fidelity page: " + problems.join("\n")));
    window.pages()->setCurrentIndex(0);
  }

  // Item 4: one precision and unit per column, right-aligned, the best bold by direction.
  void compareSummaryMarksTheBestInTheMetricsUnits() {
    CompareView& compare = *window_->compareView();
    QVERIFY(compare.setRuns({1, 2}));
    QTableWidget* table = compare.summaryTable();
    int acc_column = -1, loss_column = -1;
    for (int c = 0; c < table->columnCount(); ++c) {
      const QString header = table->horizontalHeaderItem(c)->text();
      if (header.startsWith(QStringLiteral("Student test accuracy (%)")) && header.endsWith(QStringLiteral("final"))) acc_column = c;
      if (header.startsWith(QStringLiteral("Student test loss")) && header.endsWith(QStringLiteral("final"))) loss_column = c;
    }
    QVERIFY2(acc_column > 0 && loss_column > 0, "headers are the metrics' labels and units");
    for (int column : {acc_column, loss_column}) {
      int bold = 0, best_row = -1;
      double best = 0;
      for (int r = 0; r < table->rowCount(); ++r) {
        QTableWidgetItem* item = table->item(r, column);
        QVERIFY(item);
        QVERIFY(item->textAlignment() & Qt::AlignRight);
        const double value = item->text().toDouble();
        const bool higher = column == acc_column;
        if (best_row < 0 || (higher ? value > best : value < best)) best = value, best_row = r;
        if (item->font().bold()) ++bold;
        const int decimals = item->text().size() - item->text().indexOf('.') - 1;
        QCOMPARE(decimals, column == acc_column ? 2 : 4);
      }
      QCOMPARE(bold, 1);
      QVERIFY(table->item(best_row, column)->font().bold());
    }
    QVERIFY(table->item(0, acc_column)->text().toDouble() > 1.0);  // a percentage, not a fraction
  }

  // Item 4: per-class bars from 0; gallery tiles big enough for the image and full captions.
  void fidelityBarsStartAtZeroAndCaptionsFit() {
    auto* fidelity = window_->findChild<FidelityView*>();
    fidelity->setRun(1);
    QTRY_VERIFY_WITH_TIMEOUT(fidelity->analysis() && !fidelity->busy(), 60'000);
    QCOMPARE(fidelity->classPlot()->yAxis->range().lower, 0.0);
    QListWidget* gallery = fidelity->gallery();
    QVERIFY(gallery->iconSize().height() >= 80);
    QVERIFY(gallery->count() > 0);
    for (int i = 0; i < gallery->count(); ++i) {
      const QStringList lines = gallery->item(i)->text().split('\n');
      QCOMPARE(lines.size(), 3);
      QVERIFY(lines[0].contains(QStringLiteral("true: ")));
      QVERIFY(lines[1].startsWith(QStringLiteral("teacher: ")) && lines[1].endsWith('%'));
      QVERIFY(lines[2].startsWith(QStringLiteral("student: ")) && lines[2].endsWith('%'));
      // The delegate wraps a caption at the tile's own rectangle (the item's size), not the
      // grid's: 84 px, which broke "teacher: Trouser 66%" and elided its last line.
      const QRect tile = gallery->visualItemRect(gallery->item(i));
      for (const QString& line : lines) {
        QVERIFY2(gallery->fontMetrics().horizontalAdvance(line) <= gallery->gridSize().width() - 8, qPrintable(line));
        QVERIFY2(gallery->fontMetrics().horizontalAdvance(line) <= tile.width() - 8,
                 qPrintable(QStringLiteral("'%1' in a %2 px tile").arg(line).arg(tile.width())));
      }
      QVERIFY(tile.height() >= gallery->iconSize().height() + 3 * gallery->fontMetrics().lineSpacing());
      QVERIFY(gallery->gridSize().height() >= gallery->iconSize().height() + 3 * gallery->fontMetrics().lineSpacing());
    }
  }

  // Item 4: two references give no spread; notes name the dialog's fields; no red "yes".
  void mirrorDialogSaysWhenTheSpreadCannotBeEstimated() {
    MirrorDialog dialog;
    MirrorReport report;
    report.model_a = "run 1 teacher";
    report.model_b = "run 1 student";
    report.reference_description = "2 x MLP 32, 3000 images, 3 epochs";
    report.references = 2;
    report.a_test_acc = 0.84, report.b_test_acc = 0.80, report.reference_test_acc_mean = 0.71;
    MirrorProbe probe;
    probe.name = "test";
    probe.samples = 1000;
    probe.agreement = 0.86, probe.kl = 0.21;
    probe.reference_vs_a_agreement_mean = 0.78, probe.reference_vs_a_kl_mean = 0.44, probe.reference_vs_a_kl_min = 0.40;
    probe.reference_agreement_mean = 0.80;
    probe.closer_than_references = true;
    report.probes = {probe};
    report.notes = {"the references are weaker than B (test accuracy 71.0% against 80.0%), so they agree less with "
                    "anything: a low bar; train them longer (--reference-epochs) or on more images (--reference-samples)"};
    report.mirrors = true;
    report.verdict = "B mirrors A: closer to it than every reference on 1 of 1 probe sets";
    report.evidence = "test probes: B agrees with A on 86%; references agree with A on 78% +/- 2%";
    dialog.showReport(report);
    const QString table_text = [&] {
      QString all;
      auto* table = dialog.findChild<QTableWidget*>(QStringLiteral("mirrorTable"));
      for (int c = 0; c < table->columnCount(); ++c) all += table->item(0, c)->text() + ' ';
      return all;
    }();
    QVERIFY2(!table_text.contains(QStringLiteral("±")), qPrintable(table_text));
    QVERIFY2(table_text.contains(QStringLiteral("spread n/a")), qPrintable(table_text));
    const QString evidence = dialog.findChild<QLabel*>(QStringLiteral("mirrorEvidence"))->text();
    QVERIFY2(evidence.contains(QStringLiteral("cannot be estimated")), qPrintable(evidence));
    QVERIFY2(!evidence.contains(QStringLiteral("--reference")), qPrintable(evidence));
    QVERIFY2(evidence.contains(QStringLiteral("\"epochs\" field")), qPrintable(evidence));
    QVERIFY2(evidence.contains(QStringLiteral("78% ± 2%")) && !evidence.contains(QStringLiteral("+/-")), qPrintable(evidence));
    const QString verdict = dialog.findChild<QLabel*>(QStringLiteral("mirrorVerdict"))->text();
    QVERIFY2(!verdict.contains(QStringLiteral("color")), qPrintable(verdict));
    auto* yes = dialog.findChild<QTableWidget*>(QStringLiteral("mirrorTable"))->item(0, 7);
    QCOMPARE(yes->text(), QStringLiteral("yes"));
    QVERIFY(yes->foreground().style() == Qt::NoBrush);  // the palette's text colour, not red

    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    for (const QSize size : {QSize(1280, 720), QSize(1920, 1080)}) {
      // The dialog sized as it opens over a window of that size.
      dialog.resize(std::min(1000, size.width() - 80), std::min(660, size.height() - 60));
      QTest::qWait(50);
      const QStringList problems = layoutProblems(dialog);
      QVERIFY2(problems.isEmpty(), qPrintable(problems.join("\n")));
    }
  }

  // The screenshots of the mirror dialog (docs/) come from a real test: does run 1's distilled
  // student mirror its teacher, against three references trained as the run's student was.
  // Only with DISTILL_SCREENSHOT_DIR set: the references take seconds the CI need not spend
  // (test_fidelity runs the dialog end to end).
  void mirrorDialogScreenshotsFromARealTest() {
    if (shotDir().isEmpty()) QSKIP("DISTILL_SCREENSHOT_DIR not set");
    MirrorDialog dialog;
    dialog.setDatabasePath(dir_.filePath(QStringLiteral("runs.db")));
    dialog.setModels(QStringLiteral("1:teacher"), QStringLiteral("1:student"));
    dialog.referencesBox()->setValue(3);
    dialog.epochsBox()->setValue(3);  // as the run's student
    dialog.samplesBox()->setValue(3000);
    dialog.probeBox()->setValue(1000);
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    QSignalSpy finished(&dialog, &MirrorDialog::finished);
    dialog.runButton()->click();
    QVERIFY(finished.wait(180'000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(dialog.verdictLabel()->text()));
    for (const QSize size : {QSize(1280, 720), QSize(1920, 1080)}) {
      dialog.resize(std::min(1000, size.width() - 80), std::min(660, size.height() - 60));
      QTest::qWait(50);
      saveShot(dialog, QStringLiteral("screenshot-mirror-%1x%2.png").arg(size.width()).arg(size.height()));
      const QStringList problems = layoutProblems(dialog);
      QVERIFY2(problems.isEmpty(), qPrintable(problems.join("\n")));
    }
  }

  // Item 3: a comparison's chart as a paper figure, through the window's export.
  void exportsTheComparisonForThePaper() {
    if (shotDir().isEmpty()) QSKIP("DISTILL_SCREENSHOT_DIR not set");
    QVERIFY(QDir().mkpath(shotDir()));
    CompareView& compare = *window_->compareView();
    QVERIFY(compare.setRuns({1, 2}));
    CompareChart* chart = compare.chartFor("eval/student_acc");
    QVERIFY(chart);
    ExportOptions options;
    options.format = FigureFormat::Png;
    compare.exportChart(chart, shotDir() + "/comparison-student-accuracy.png", options);
    options.format = FigureFormat::Pdf;
    compare.exportChart(chart, shotDir() + "/comparison-student-accuracy.pdf", options);
  }

 private:
  QTemporaryDir dir_;
  std::unique_ptr<MainWindow> window_;
};

QTEST_MAIN(TestWindowFit)
#include "test_window_fit.moc"
