// Charts: routing of metric keys, coalesced redraws, follow mode, legend toggling, tooltips.
#include <QSignalSpy>
#include <QTest>

#include <memory>

#include "ui/chart_view.h"
#include "ui/metric_charts.h"

using namespace distill;
using namespace distill::ui;

namespace {
std::vector<MetricPoint> curve(const std::string& key, int count, double steps_per_epoch = 100.0) {
  std::vector<MetricPoint> points;
  for (int i = 1; i <= count; ++i) points.push_back({key, i, i / steps_per_epoch, 0.0, 2.0 / (1.0 + i)});
  return points;
}
}  // namespace

class TestChartView : public QObject {
  Q_OBJECT
 private slots:
  void routesKeysToCharts() {
    MetricCharts charts;
    charts.append(curve("train/teacher_loss", 5));
    charts.append(curve("train/kd_loss", 4));
    charts.append(curve("eval/kl", 3));
    charts.append(curve("eval/student_acc", 2));
    charts.append(curve("perf/samples_per_s", 7));  // not plotted
    QCOMPARE(charts.lossChart()->pointCount("train/teacher_loss"), 5);
    QCOMPARE(charts.lossChart()->pointCount("train/kd_loss"), 4);
    QCOMPARE(charts.agreementChart()->pointCount("eval/kl"), 3);
    QCOMPARE(charts.accuracyChart()->pointCount("eval/student_acc"), 2);
    QCOMPARE(charts.pointCount("perf/samples_per_s"), 0);
    // KL is on the agreement chart's right axis.
    QCOMPARE(charts.agreementChart()->graphFor("eval/kl")->valueAxis(), charts.agreementChart()->yAxis2);
  }

  void teacherAndStudentHaveFixedColours() {
    MetricCharts charts;
    QCOMPARE(charts.accuracyChart()->graphFor("eval/teacher_acc")->pen().color(), kTeacherColor);
    QCOMPARE(charts.accuracyChart()->graphFor("eval/student_acc")->pen().color(), kStudentColor);
    QCOMPARE(charts.lossChart()->graphFor("eval/teacher_loss")->pen().color(), kTeacherColor);
  }

  void redrawsAreCoalesced() {
    MetricCharts charts;
    charts.resize(800, 600);
    charts.show();
    QVERIFY(QTest::qWaitForWindowExposed(&charts));
    ChartView* chart = charts.lossChart();
    const int before = chart->replotCount();
    // A thousand appends in one go, as from one big batch: one redraw, not a thousand.
    for (const auto& point : curve("train/student_loss", 1000)) charts.append({point});
    QTRY_COMPARE(chart->replotCount(), before + 1);
    QTest::qWait(100);
    QCOMPARE(chart->replotCount(), before + 1);
  }

  void whatTheUserDoesIsDrawnAtOnceWhileDataWaits() {
    ChartView chart("Loss", "epoch", "loss");
    chart.addSeries({"train/student_loss", "student", kStudentColor});
    chart.resize(600, 400);
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    chart.setReplotInterval(60'000);  // new data would wait a minute for its redraw
    const int before = chart.replotCount();
    for (const auto& p : curve("train/student_loss", 50)) chart.append(p);
    QTest::qWait(150);
    QCOMPARE(chart.replotCount(), before);
    // Hiding the curve (a legend click) does not wait: it is drawn, with the data, at once.
    chart.setSeriesVisible("train/student_loss", false);
    QTRY_COMPARE_WITH_TIMEOUT(chart.replotCount(), before + 1, 500);
    QVERIFY(chart.xAxis->range().upper >= 0.5);
  }

  void aCostlyChartRedrawsLessOften() {
    // The interval for new data follows what a redraw costs: a big chart with four antialiased
    // curves of marked points waits longer than a small one with one short line, so a costly
    // live chart does not take the run's CPU. Both stay within the bounds (10 redraws a second
    // at most, 1 at least).
    auto drawn = [](QSize size, int curves, int points) {
      auto chart = std::make_unique<ChartView>("Loss", "epoch", "loss");
      for (int c = 0; c < curves; ++c)
        chart->addSeries({"eval/curve" + std::to_string(c), QString("curve %1").arg(c), kStudentColor, Qt::SolidLine,
                          2.0, /*markers=*/true});
      chart->resize(size);
      chart->show();
      if (!QTest::qWaitForWindowExposed(chart.get())) qWarning("chart window not exposed");
      for (int c = 0; c < curves; ++c)
        for (const auto& p : curve("eval/curve" + std::to_string(c), points, 100.0 + c)) chart->append(p);
      // Drawn into the buffer, then painted onto the window: both are measured.
      const int before = chart->replotCount();
      if (!QTest::qWaitFor([&] { return chart->replotCount() > before; }, 5000)) qWarning("chart not redrawn");
      QTest::qWait(100);  // the paint that follows the redraw
      return chart;
    };
    const auto small = drawn({300, 220}, 1, 10);
    const auto big = drawn({1800, 1000}, 4, 1500);
    const QString measured = QString("big %1 ms, %2 ms interval; small %3 ms, %4 ms interval")
                                 .arg(big->lastRedrawMs()).arg(big->liveInterval())
                                 .arg(small->lastRedrawMs()).arg(small->liveInterval());
    qInfo("%s", qPrintable(measured));
    QVERIFY2(big->lastRedrawMs() > small->lastRedrawMs(), qPrintable(measured));
    QVERIFY2(big->liveInterval() > small->liveInterval(), qPrintable(measured));
    for (const auto* chart : {small.get(), big.get()}) {
      QVERIFY(chart->liveInterval() >= ChartView::kMinLiveIntervalMs);
      QVERIFY(chart->liveInterval() <= ChartView::kMaxLiveIntervalMs);
    }
  }

  void followsUntilTheUserZooms() {
    ChartView chart("Loss", "epoch", "loss");
    chart.addSeries({"train/student_loss", "student", kStudentColor});
    chart.resize(600, 400);
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    for (const auto& p : curve("train/student_loss", 50)) chart.append(p);
    QTRY_VERIFY(chart.xAxis->range().upper >= 0.5);
    QVERIFY(chart.following());

    // A wheel turn zooms and ends following: new data no longer moves the view.
    const QPoint centre = chart.axisRect()->rect().center();
    QWheelEvent wheel(centre, chart.mapToGlobal(centre), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                      Qt::NoScrollPhase, false);
    QApplication::sendEvent(&chart, &wheel);
    QVERIFY(!chart.following());
    const QCPRange zoomed = chart.xAxis->range();
    for (int i = 51; i <= 200; ++i) chart.append({"train/student_loss", i, i / 100.0, 0.0, 0.1});
    QTest::qWait(80);
    QCOMPARE(chart.xAxis->range().upper, zoomed.upper);

    // A double-click resets the view to all data and follows again.
    QTest::mouseDClick(&chart, Qt::LeftButton, Qt::NoModifier, centre);
    QVERIFY(chart.following());
    QVERIFY(chart.xAxis->range().upper >= 2.0);
  }

  void legendClickTogglesACurve() {
    ChartView chart("Accuracy", "epoch", "accuracy");
    chart.addSeries({"eval/teacher_acc", "teacher", kTeacherColor});
    chart.addSeries({"eval/student_acc", "student", kStudentColor});
    chart.resize(600, 400);
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    // The legend lists series with data only.
    QVERIFY(!chart.legend->itemWithPlottable(chart.graphFor("eval/student_acc")));
    chart.append({"eval/teacher_acc", 469, 1.0, 0.0, 0.85});
    chart.append({"eval/student_acc", 469, 1.0, 0.0, 0.81});
    chart.replot();
    auto* item = chart.legend->itemWithPlottable(chart.graphFor("eval/student_acc"));
    QVERIFY(item);
    const QPoint where = item->outerRect().center();
    QTest::mouseClick(&chart, Qt::LeftButton, Qt::NoModifier, where);
    QVERIFY(!chart.graphFor("eval/student_acc")->visible());
    QVERIFY(chart.graphFor("eval/teacher_acc")->visible());
    QTest::mouseClick(&chart, Qt::LeftButton, Qt::NoModifier, where);
    QVERIFY(chart.graphFor("eval/student_acc")->visible());
  }

  void tooltipShowsExactValues() {
    ChartView chart("Accuracy", "epoch", "accuracy");
    chart.addSeries({"eval/student_acc", "student", kStudentColor});
    chart.resize(600, 400);
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    chart.append({"eval/student_acc", 469, 1.0, 0.0, 0.8125});
    chart.append({"eval/student_acc", 938, 2.0, 0.0, 0.84375});
    chart.resetView();
    chart.replot();
    // Accuracy is drawn and told in percent (the metric table's unit).
    const QPoint at(static_cast<int>(chart.xAxis->coordToPixel(2.0)), static_cast<int>(chart.yAxis->coordToPixel(84.375)));
    const QString tip = chart.tooltipAt(at + QPoint(3, -2));
    QVERIFY2(tip.contains("step 938") && tip.contains("epoch 2.000") && tip.contains("84.375"), qPrintable(tip));
    QVERIFY(chart.tooltipAt(QPoint(2, 2)).isEmpty());
  }

  // A language model's perplexity starts near its vocabulary size (256 for bytes) and ends near
  // 14: on a linear axis every point after the first sits on the floor. The lm task's
  // perplexity chart starts logarithmic; the context menu turns it back, and exports follow.
  void perplexityIsOnALogarithmicAxisThatCanBeTurnedOff() {
    MetricCharts charts;
    charts.setTask("lm");
    ChartView* chart = charts.chart("perplexity");
    QVERIFY(chart);
    QVERIFY(chart->logScale());
    QCOMPARE(chart->yAxis->scaleType(), QCPAxis::stLogarithmic);
    std::vector<MetricPoint> points;
    const double values[] = {256.0, 40.0, 20.0, 15.0, 14.0};
    for (int i = 0; i < 5; ++i) points.push_back({"eval/student_ppl", i * 10, i * 1.0, 0.0, values[i]});
    charts.append(points);
    chart->resetView();
    // Both ends in view, and the last points apart from each other by a visible distance.
    QVERIFY(chart->yAxis->range().lower > 0.0 && chart->yAxis->range().lower <= 14.0);
    QVERIFY(chart->yAxis->range().upper >= 256.0);
    const double gap = chart->yAxis->coordToPixel(15.0) - chart->yAxis->coordToPixel(20.0);  // pixels
    QVERIFY2(std::abs(gap) > 0.05 * chart->axisRect()->height(), qPrintable(QString::number(gap)));
    QVERIFY(chart->figure().log_y);
    chart->setLogScale(false);
    QCOMPARE(chart->yAxis->scaleType(), QCPAxis::stLinear);
    QVERIFY(!chart->figure().log_y);
    // The image task's charts stay linear.
    charts.setTask("image");
    for (auto* c : charts.charts()) QVERIFY(!c->logScale());
  }
};

QTEST_MAIN(TestChartView)
#include "test_chart_view.moc"
