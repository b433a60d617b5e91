// The Fidelity page for a language-model run: a tiny lm run (tests/support/lm_test_support.h,
// one thread) analysed on the worker thread, its charts and contexts holding exactly the
// numbers `distill fidelity RUN --json` prints for the same run, each chart exported as PNG,
// PDF and SVG and the HTML report; and the screenshot docs/screenshot-lm-fidelity.png comes
// from (tests/ui/screenshots/lm-fidelity.png).
//
// DISTILL_SCREENSHOT_DB and DISTILL_SCREENSHOT_RUN point the screenshot at another database
// and run (the docs' picture comes from an lm-fortunes run).
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>

#include <qcustomplot.h>

#include "tests/support/lm_test_support.h"
#include "ui/fidelity_plots.h"
#include "ui/fidelity_view.h"
#include "ui/figure.h"
#include "ui/lm_fidelity_panel.h"

using namespace distill;
using namespace distill::ui;

namespace {

// The CLI's report of `run` in `db`, parsed.
QJsonObject cliReport(const QString& db, qint64 run) {
  QProcess cli;
  cli.start(QStringLiteral(DISTILL_CLI_PATH),
            {QStringLiteral("fidelity"), QString::number(run), QStringLiteral("--json"), QStringLiteral("--db"), db});
  if (!cli.waitForFinished(120000) || cli.exitCode() != 0) {
    qWarning("distill fidelity failed: %s", cli.readAllStandardError().constData());
    return {};
  }
  return QJsonDocument::fromJson(cli.readAllStandardOutput()).object();
}

// The values of the plottable named `name` (bars or a graph) in order of their keys.
QVector<double> values(QCustomPlot* plot, const QString& name) {
  QVector<double> out;
  for (int i = 0; i < plot->plottableCount(); ++i) {
    QCPAbstractPlottable* p = plot->plottable(i);
    if (p->name() != name) continue;
    if (auto* bars = qobject_cast<QCPBars*>(p))
      for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it) out << it->value;
    if (auto* graph = qobject_cast<QCPGraph*>(p))
      for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it) out << it->value;
  }
  return out;
}

QVector<double> field(const QJsonArray& buckets, const QString& key, bool skip_empty) {
  QVector<double> out;
  for (const auto& b : buckets)
    if (!skip_empty || b.toObject().value(QStringLiteral("count")).toDouble() > 0) out << b.toObject().value(key).toDouble();
  return out;
}

void compareValues(const QVector<double>& shown, const QVector<double>& printed, const char* what) {
  QVERIFY2(shown.size() == printed.size(), qPrintable(QStringLiteral("%1: %2 values shown, %3 printed")
                                                          .arg(what).arg(shown.size()).arg(printed.size())));
  for (int i = 0; i < shown.size(); ++i)
    QVERIFY2(std::abs(shown[i] - printed[i]) < 1e-12,
             qPrintable(QStringLiteral("%1 [%2]: %3 shown, %4 printed").arg(what).arg(i).arg(shown[i]).arg(printed[i])));
}

QString saveShot(QWidget& widget, const QString& name) {
  const QString folder = QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/screenshots");
  QDir().mkpath(folder);
  const QString path = folder + "/" + name;
  if (!widget.grab().toImage().save(path)) return QString();
  qInfo("screenshot: %s", qPrintable(path));
  return path;
}

}  // namespace

class TestLmFidelity : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() {
    const auto corpus = testing::writeCorpus(std::filesystem::path(dir_.path().toStdString()) / "corpus");
    const auto finished = testing::runLm(dir_.path().toStdString(), testing::lmConfig(corpus));
    run_ = finished.run.id;
    db_ = dir_.filePath(QStringLiteral("lm.db"));
  }

  void viewShowsTheCliNumbers() {
    FidelityView view;
    view.resize(1500, 950);
    view.setDatabasePath(db_);
    QSignalSpy shown(&view, &FidelityView::analysisShown);
    view.setRun(run_);
    QVERIFY(view.busy());  // analysed on the worker thread
    QVERIFY(shown.wait(60000));
    QVERIFY(view.showingLm());
    const QJsonObject cli = cliReport(db_, run_);
    QVERIFY(!cli.isEmpty());
    const RunFidelity* result = view.analysis();
    QCOMPARE(result->task, std::string("lm"));
    const LmFidelityAnalysis& a = result->lm;
    QCOMPARE(a.tokens, static_cast<int64_t>(cli.value(QStringLiteral("tokens")).toDouble()));
    QCOMPARE(a.agreement, cli.value(QStringLiteral("agreement")).toDouble());
    QCOMPARE(a.kl, cli.value(QStringLiteral("kl")).toDouble());

    // The summary line as printed to four places.
    const QString summary = view.summaryLabel()->text();
    for (const char* key : {"teacher_acc", "student_acc", "agreement", "top5_overlap", "kl"})
      QVERIFY2(summary.contains(QString::number(cli.value(QLatin1String(key)).toDouble(), 'f', 4)),
               qPrintable(QStringLiteral("%1 missing from: %2").arg(key, summary)));
    QVERIFY(view.findChild<QLabel*>(QStringLiteral("fidelityTitle"))->text().contains(
        QStringLiteral("%1 validation tokens").arg(a.tokens)));

    // Each chart's data is the CLI's buckets.
    LmFidelityPanel* panel = view.lmPanel();
    const QJsonArray position = cli.value(QStringLiteral("by_position")).toArray();
    compareValues(values(panel->positionPlot(), QStringLiteral("agreement")), field(position, QStringLiteral("agreement"), true),
                  "agreement by position");
    compareValues(values(panel->positionPlot(), QStringLiteral("KL (right)")), field(position, QStringLiteral("kl"), true),
                  "KL by position");
    compareValues(values(panel->positionPlot(), QStringLiteral("student acc")),
                  field(position, QStringLiteral("student_acc"), true), "student accuracy by position");
    const QJsonArray confidence = cli.value(QStringLiteral("by_confidence")).toArray();
    compareValues(values(panel->confidencePlot(), QStringLiteral("agreement")),
                  field(confidence, QStringLiteral("agreement"), true), "agreement by confidence");
    compareValues(values(panel->confidencePlot(), QStringLiteral("KL (right)")),
                  field(confidence, QStringLiteral("kl"), true), "KL by confidence");
    const QJsonArray frequency = cli.value(QStringLiteral("by_frequency")).toArray();
    compareValues(values(panel->frequencyPlot(), QStringLiteral("agreement")), field(frequency, QStringLiteral("agreement"), false),
                  "agreement by frequency");
    compareValues(values(panel->frequencyPlot(), QStringLiteral("teacher accuracy")),
                  field(frequency, QStringLiteral("teacher_acc"), false), "teacher accuracy by frequency");
    const QJsonObject calibration = cli.value(QStringLiteral("student_calibration")).toObject();
    const QString student_name = QStringLiteral("student (ECE %1)").arg(calibration.value(QStringLiteral("ece")).toDouble(), 0, 'f', 4);
    compareValues(values(panel->reliabilityPlot(), student_name),
                  field(calibration.value(QStringLiteral("bins")).toArray(), QStringLiteral("accuracy"), true),
                  "student reliability");

    // The contexts: as many as printed, the first one's top tokens with their probabilities.
    const QJsonArray disagreements = cli.value(QStringLiteral("disagreements")).toArray();
    QCOMPARE(static_cast<int>(a.disagreements.size()), disagreements.size());
    if (!disagreements.isEmpty()) {
      const QString text = panel->contexts()->toPlainText();
      const QJsonObject first = disagreements.first().toObject();
      QVERIFY2(text.contains(QStringLiteral("KL %1 nats").arg(first.value(QStringLiteral("kl")).toDouble(), 0, 'f', 3)),
               qPrintable(text.left(400)));
      const QJsonObject top = first.value(QStringLiteral("student_top5")).toArray().first().toObject();
      QVERIFY(text.contains(top.value(QStringLiteral("text")).toString()));
      QVERIFY(text.contains(QString::number(top.value(QStringLiteral("probability")).toDouble(), 'f', 2)));
      QCOMPARE(text.count(QStringLiteral("block ")), disagreements.size());
    }

    // Exports: each chart as PNG, PDF and SVG; the report with the four charts and the contexts.
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QTemporaryDir out;
    for (const QString& suffix : {QStringLiteral("png"), QStringLiteral("pdf"), QStringLiteral("svg")}) {
      const QString path = out.filePath(QStringLiteral("position.") + suffix);
      savePlot(panel->positionPlot(), path);
      QVERIFY2(QFileInfo(path).size() > 1000, qPrintable(path));
    }
    QFile svg(out.filePath(QStringLiteral("position.svg")));
    QVERIFY(svg.open(QIODevice::ReadOnly));
    QVERIFY(svg.readAll().contains("<svg"));
    QVERIFY_THROWS_EXCEPTION(ExportError, savePlot(panel->positionPlot(), out.filePath(QStringLiteral("chart.gif"))));
    const QString report = out.filePath(QStringLiteral("report.html"));
    QSignalSpy exported(panel, &LmFidelityPanel::exported);
    panel->saveReport(report);
    QFile html(report);
    QVERIFY(html.open(QIODevice::ReadOnly));
    const QString content = QString::fromUtf8(html.readAll());
    QCOMPARE(content.count(QStringLiteral("<svg")), 4);
    QVERIFY(content.contains(QString::number(a.agreement, 'f', 4)));
    QCOMPARE(content.count(QStringLiteral("block ")), disagreements.size());
  }

  // A vocabulary padded beyond the tokenizer's ids is said in the summary line, as the CLI says it.
  void summarySaysHowManyRowsArePadding() {
    LmFidelityAnalysis a;
    a.vocab = 136, a.tokenizer_vocab = 128;
    QVERIFY2(lmSummaryHtml(a).contains("8 padding rows beyond the tokenizer's 128 ids"), qPrintable(lmSummaryHtml(a)));
    a.vocab = 128;
    QVERIFY(!lmSummaryHtml(a).contains("padding"));
  }

  void screenshot() {
    QString db = qEnvironmentVariable("DISTILL_SCREENSHOT_DB");
    qint64 id = qEnvironmentVariableIntValue("DISTILL_SCREENSHOT_RUN");
    if (db.isEmpty()) db = db_, id = run_;
    FidelityView view;
    view.resize(1600, 1000);
    view.setDatabasePath(db);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy shown(&view, &FidelityView::analysisShown);
    view.setRun(id);
    QVERIFY(shown.wait(180000));
    QTest::qWait(200);
    QVERIFY(!saveShot(view, QStringLiteral("lm-fidelity.png")).isEmpty());
  }

 private:
  QTemporaryDir dir_;
  QString db_;
  qint64 run_ = 0;
};

QTEST_MAIN(TestLmFidelity)
#include "test_lm_fidelity.moc"
