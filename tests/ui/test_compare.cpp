// Select, compare, export: the run browser's table and filter, the compare view's charts and
// tables, and chart/data exports, over a database of synthetic runs (points known exactly).
// Set DISTILL_COMPARE_SCREENSHOT_DB to a database with real runs to also save a screenshot
// of the compare view (docs/screenshot-compare.png is made this way).
#include <QCheckBox>
#include <QDockWidget>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

#include <cmath>

#include "core/store/run_store.h"
#include "ui/compare_view.h"
#include "ui/main_window.h"
#include "ui/run_browser.h"
#include "ui/run_table_model.h"

#include <QTabWidget>

using namespace distill;
using namespace distill::ui;

class TestCompare : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    db_ = dir_.filePath(QStringLiteral("runs.db")).toStdString();
    RunStore store(db_);
    const double finals[] = {0.90, 0.96, 0.93};
    const char* temperatures[] = {"2", "4", "8"};
    for (int r = 0; r < 3; ++r) {
      NewRun run{std::string("kd T") + temperatures[r], "name: x\n",
                 {{"distill.temperature", temperatures[r]}, {"distill.alpha", "0.9"}, {"student.arch", "mlp"}},
                 std::nullopt};
      const int64_t id = store.createRun(run);
      std::vector<MetricPoint> points;
      for (int i = 0; i <= 10; ++i)
        points.push_back({"eval/agreement", i * 100, i * 0.1, 1.7e9 + i, finals[r] * (0.5 + i / 20.0)});
      // Run 1 has a million training points with one spike: decimation must keep it.
      const int count = r == 0 ? 1000000 : 2000;
      for (int i = 0; i < count; ++i)
        points.push_back({"train/student_loss", i, i / double(count), 1.7e9 + i * 1e-3,
                          (i == 654321 ? 40.0 : 1.0) * (2.0 * std::exp(-i / double(count) * 3) + 0.1)});
      store.appendMetrics(id, points);
      store.finishRun(id, RunStatus::Completed);
    }
    store.addTag(2, "baseline");
  }

  void browserSortsFiltersAndSaysWhereAQueryIsWrong() {
    RunStore store(db_);
    RunBrowser browser;
    browser.setStore(&store);
    QCOMPARE(browser.visibleRunIds(), (QList<qint64>{3, 2, 1}));  // newest first
    browser.table()->sortByColumn(RunTableModel::Agreement, Qt::DescendingOrder);
    QCOMPARE(browser.visibleRunIds(), (QList<qint64>{2, 3, 1}));  // numbers sort as numbers

    QTest::keyClicks(browser.filterEdit(), QStringLiteral("agreement > 0.92 and distill.temperature >= 4"));
    QCOMPARE(browser.visibleRunIds(), (QList<qint64>{2, 3}));
    QVERIFY(browser.filterError()->isHidden());

    QCOMPARE(browser.setFilter(QStringLiteral("agreement > 0.92 and (")),
             QStringLiteral("column 23: the query ends where a term was expected"));
    QVERIFY(!browser.filterError()->isHidden());
    QCOMPARE(browser.visibleRunIds(), (QList<qint64>{2, 3}));  // the last good filter stays

    QVERIFY(browser.setFilter(QStringLiteral("tag:baseline")).isEmpty());
    QCOMPARE(browser.visibleRunIds(), (QList<qint64>{2}));
    QVERIFY(browser.setFilter(QString()).isEmpty());

    browser.setColumnVisible(RunTableModel::Seed, false);
    QVERIFY(browser.table()->isColumnHidden(RunTableModel::Seed));
  }

  void selectCompareAndExport() {
    RunStore store(db_);
    RunBrowser browser;
    browser.setStore(&store);
    browser.selectRuns({1, 3});
    QSignalSpy compare_spy(&browser, &RunBrowser::compareRequested);
    browser.compareSelected();
    QCOMPARE(compare_spy.count(), 1);
    const auto ids = compare_spy.takeFirst().at(0).value<QList<qint64>>();
    QCOMPARE(ids, (QList<qint64>{3, 1}));  // table order: newest first

    CompareView view;
    view.setStore(&store);
    view.resize(1400, 900);
    view.show();
    QVERIFY(view.setRuns(ids));
    QCOMPARE(view.charts().size(), size_t{2});

    // One colour per run, the same on every chart.
    for (auto* chart : view.charts()) {
      QCOMPARE(chart->graphCount(), 2);
      QCOMPARE(chart->graph(0)->pen().color(), view.colorOf(3));
      QCOMPARE(chart->graph(1)->pen().color(), view.colorOf(1));
    }
    QVERIFY(view.colorOf(1) != view.colorOf(3));

    // A million points are drawn decimated, with the spike kept; the figure keeps them all.
    CompareChart* loss = view.chartFor("train/student_loss");
    QVERIFY(loss);
    QVERIFY2(loss->graph(1)->dataCount() < 5000, qPrintable(QString::number(loss->graph(1)->dataCount())));
    QCOMPARE(loss->figure().curves[1].y.size(), size_t{1000000});
    QVERIFY(loss->yAxis->range().upper > 10.0);  // the spike is about 15
    double drawn_max = 0;
    for (auto it = loss->graph(1)->data()->constBegin(); it != loss->graph(1)->data()->constEnd(); ++it)
      drawn_max = std::max(drawn_max, it->value);
    QVERIFY(drawn_max > 10.0);

    // Smoothing adds a smoothed curve over each faint raw one; log Y switches the scale.
    view.setSmoothing(0.9);
    QCOMPARE(loss->graphCount(), 4);
    QVERIFY(loss->graph(0)->pen().color().alpha() < 100);
    view.setLogY(true);
    QCOMPARE(loss->yAxis->scaleType(), QCPAxis::stLogarithmic);
    view.setXAxis(CompareView::XAxis::Epoch);
    QVERIFY(loss->xAxis->range().upper <= 1.01);

    // Hyperparameter table: differences only, then all keys.
    QCOMPARE(view.paramTable()->rowCount(), 1);
    QCOMPARE(view.paramTable()->item(0, 0)->text(), QStringLiteral("distill.temperature"));
    view.setDifferencesOnly(false);
    QCOMPARE(view.paramTable()->rowCount(), 3);
    // Summary: final, and best @ step, for every metric; agreement in percent.
    QCOMPARE(view.summaryTable()->rowCount(), 2);
    QCOMPARE(view.summaryTable()->item(0, 1)->text(), QStringLiteral("93.00"));

    // Exports: PNG of the requested size, PDF with a page, SVG that parses and names the runs.
    QTemporaryDir out;
    ExportOptions png;
    png.format = FigureFormat::Png;
    png.width_px = 1200;
    png.height_px = 800;
    png.dpi = 200;
    view.exportChart(view.chartFor("eval/agreement"), out.filePath(QStringLiteral("a.png")), png);
    QImage image(out.filePath(QStringLiteral("a.png")));
    QCOMPARE(image.size(), QSize(1200, 800));
    QCOMPARE(qRound(image.dotsPerMeterX() * 0.0254), 200);

    ExportOptions pdf;
    view.exportChart(view.chartFor("eval/agreement"), out.filePath(QStringLiteral("a.pdf")), pdf);
    QFile pdf_file(out.filePath(QStringLiteral("a.pdf")));
    QVERIFY(pdf_file.open(QIODevice::ReadOnly));
    const QByteArray pdf_bytes = pdf_file.readAll();
    QVERIFY(pdf_bytes.startsWith("%PDF-"));
    QVERIFY(pdf_bytes.contains("/Type /Page"));

    ExportOptions svg;
    svg.format = FigureFormat::Svg;
    view.exportChart(loss, out.filePath(QStringLiteral("loss.svg")), svg);
    QFile svg_file(out.filePath(QStringLiteral("loss.svg")));
    QVERIFY(svg_file.open(QIODevice::ReadOnly));
    QXmlStreamReader xml(&svg_file);
    QString text;
    while (!xml.atEnd()) {
      xml.readNext();
      if (xml.isCharacters()) text += xml.text();
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QVERIFY(text.contains(QStringLiteral("#1 kd T2")));
    QVERIFY(text.contains(QStringLiteral("#3 kd T8")));

    // CSV in long format, every point.
    QVERIFY(view.exportCsv(out.filePath(QStringLiteral("points.csv"))));
    QFile csv(out.filePath(QStringLiteral("points.csv")));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    QCOMPARE(csv.readLine(), QByteArray("run,metric,step,epoch,wall_time,value\n"));
    int lines = 0;
    while (!csv.readLine().isEmpty()) ++lines;
    QCOMPARE(lines, 11 + 2000 + 11 + 1000000);
    QVERIFY(view.exportJson(out.filePath(QStringLiteral("points.json"))));
  }

  void compareRefusesOneRun() {
    RunStore store(db_);
    CompareView view;
    view.setStore(&store);
    QVERIFY(!view.setRuns({1}));
  }

  void deleteIsConfirmedAndRemovesTheRuns() {
    const std::string copy = dir_.filePath(QStringLiteral("delete.db")).toStdString();
    {
      RunStore store(copy);
      for (int i = 0; i < 3; ++i) store.createRun({"r" + std::to_string(i), "x: 1\n", {}, std::nullopt});
    }
    RunStore store(copy);
    RunBrowser browser;
    browser.setStore(&store);
    int asked = 0;
    browser.setDeleteConfirmation([&](int count) {
      asked = count;
      return false;
    });
    browser.selectRuns({1, 2});
    browser.deleteSelected();
    QCOMPARE(asked, 2);
    QCOMPARE(browser.visibleRunIds().size(), 3);  // declined: nothing deleted
    browser.setDeleteConfirmation([](int) { return true; });
    browser.selectRuns({1, 2});
    browser.deleteSelected();
    QCOMPARE(browser.visibleRunIds(), (QList<qint64>{3}));
  }

  void screenshotOfTheCompareView() {
    const QByteArray real_db = qgetenv("DISTILL_COMPARE_SCREENSHOT_DB");
    if (real_db.isEmpty()) QSKIP("set DISTILL_COMPARE_SCREENSHOT_DB to a database with real runs");
    MainWindow window(QString::fromLocal8Bit(real_db));
    window.resize(1600, 1000);
    // The picture is of the compare page: the side panels would only narrow it.
    for (auto* dock : window.findChildren<QDockWidget*>()) dock->hide();
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    const auto ids = window.browser()->visibleRunIds();
    QVERIFY(ids.size() >= 2);
    window.browser()->selectRuns(ids);
    window.browser()->compareSelected();
    QCOMPARE(window.pages()->currentWidget(), static_cast<QWidget*>(window.compareView()));
    window.compareView()->setSmoothing(0.6);
    QTest::qWait(200);
    const QString path = QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/screenshot-compare.png");
    QVERIFY(window.grab().save(path));
    qInfo("screenshot: %s", qPrintable(path));
  }

 private:
  QTemporaryDir dir_;
  std::string db_;
};

QTEST_MAIN(TestCompare)
#include "test_compare.moc"
