// Charts that do not mislead and exports that go into a paper (issue 19, items 2 and 3): Y
// ranges from the metrics' bounds, no smoothing of a few points, wall-time and duration ticks,
// legends of series with data, the live charts' context menu, human titles and units, and one
// chart drawn through the window's export and the CLI's, compared pixel for pixel.
#include <QMenu>
#include <QSet>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

#include <qcustomplot.h>

#include <cmath>

#include "app/cli/chart_render.h"
#include "app/cli/comparison.h"
#include "core/metrics/metric_info.h"
#include "core/tasks/task_catalog.h"
#include "core/store/run_store.h"
#include "ui/chart_view.h"
#include "ui/compare_view.h"
#include "ui/figure.h"
#include "ui/main_window.h"
#include "ui/metric_charts.h"

using namespace distill;
using namespace distill::ui;

namespace {

FigureData accuracyFigure(std::vector<double> x, std::vector<double> y) {
  FigureData figure = metricFigure("eval/student_acc", FigureX::Step);
  figure.curves.push_back({QStringLiteral("#1 kd"), runColor(0), std::move(x), std::move(y), runPenStyle(0)});
  return figure;
}

QSet<QString> tickLabels(QCustomPlot& plot, QCPAxis* axis) {
  plot.replot(QCustomPlot::rpImmediateRefresh);
  QSet<QString> labels;
  for (const QString& label : axis->tickVectorLabels()) labels.insert(label);
  return labels;
}

}  // namespace

class TestFigures : public QObject {
  Q_OBJECT

 private slots:
  void anAccuracyAxisStaysWithinItsBounds() {
    QCustomPlot plot;
    plot.resize(600, 400);
    populatePlot(plot, accuracyFigure({100}, {0.9}), 0);  // one point
    QVERIFY2(plot.yAxis->range().lower >= 0.0 && plot.yAxis->range().upper <= 100.0,
             qPrintable(QStringLiteral("%1..%2").arg(plot.yAxis->range().lower).arg(plot.yAxis->range().upper)));
    QVERIFY(plot.yAxis->range().contains(90.0));
    populatePlot(plot, accuracyFigure({1, 2, 3}, {0.97, 0.99, 1.0}), 0);  // up to the bound
    QCOMPARE(plot.yAxis->range().upper, 100.0);
    // A flat loss at 0 starts at 0, not below.
    FigureData loss = metricFigure("train/student_loss", FigureX::Step);
    loss.curves.push_back({QStringLiteral("#1"), runColor(0), {1, 2, 3}, {0.0, 0.0, 0.0}});
    populatePlot(plot, loss, 0);
    QCOMPARE(plot.yAxis->range().lower, 0.0);
    QVERIFY(plot.yAxis->range().upper > 0.0);
  }

  // The first and last evaluations' markers, at the ends of the X range and one at the
  // accuracy bound (100%), drawn whole inside the frame of an exported chart.
  void markersAtTheEndsAreInsideTheExportedPlotArea() {
    ExportOptions options;
    options.format = FigureFormat::Png;
    options.dpi = 100;
    const auto plot = exportPlot(accuracyFigure({0, 50, 100, 150, 200}, {0.55, 0.7, 0.8, 0.9, 1.0}), options);
    const QRectF area = plot->axisRect()->rect();
    QCPGraph* graph = plot->graph(0);
    const double reach = graph->scatterStyle().size() / 2 + graph->pen().widthF();
    for (const auto& [step, accuracy] : {std::pair{0.0, 55.0}, std::pair{200.0, 100.0}}) {
      const QPointF centre(plot->xAxis->coordToPixel(step), plot->yAxis->coordToPixel(accuracy));
      const QRectF marker(centre - QPointF(reach, reach), QSizeF(2 * reach, 2 * reach));
      QVERIFY2(area.contains(marker), qPrintable(QStringLiteral("step %1: marker %2..%3 x %4..%5, plot area %6..%7 x %8..%9")
                                                     .arg(step).arg(marker.left()).arg(marker.right()).arg(marker.top())
                                                     .arg(marker.bottom()).arg(area.left()).arg(area.right())
                                                     .arg(area.top()).arg(area.bottom())));
    }
    // Room, not data: no tick before the first step or past the last.
    for (double tick : plot->xAxis->tickVector()) QVERIFY2(tick >= 0.0 && tick <= 200.0, qPrintable(QString::number(tick)));
  }

  void aFewPointsAreNotSmoothed() {
    QCustomPlot plot;
    plot.resize(600, 400);
    FigureData figure = accuracyFigure({1, 2, 3}, {0.5, 0.8, 0.9});
    figure.smoothing = 0.9;
    populatePlot(plot, figure, 0);
    QCOMPARE(plot.graphCount(), 1);  // the raw curve only
    QVERIFY(plot.graph(0)->name().contains(QStringLiteral("too few to smooth")));
    QCOMPARE(plot.graph(0)->dataCount(), 3);
  }

  void wallTimeTicksAreDistinctAndDurationsHaveUnits() {
    QCustomPlot plot;
    plot.resize(800, 400);
    FigureData figure = metricFigure("train/student_loss", FigureX::WallTime);
    std::vector<double> x, y;
    for (int i = 0; i <= 180; ++i) x.push_back(1.7e9 + i), y.push_back(1.0 / (1 + i));  // a 3-minute run
    figure.curves.push_back({QStringLiteral("#1"), runColor(0), x, y});
    populatePlot(plot, figure, 0);
    const auto labels = tickLabels(plot, plot.xAxis);
    QCOMPARE(labels.size(), plot.xAxis->tickVectorLabels().size());  // no label twice
    FigureData relative = metricFigure("train/student_loss", FigureX::RelativeTime);
    std::vector<double> seconds;
    for (int i = 0; i <= 600; ++i) seconds.push_back(i);
    relative.curves.push_back({QStringLiteral("#1"), runColor(0), seconds, std::vector<double>(seconds.size(), 1.0)});
    populatePlot(plot, relative, 0);
    QCOMPARE(plot.xAxis->label(), QStringLiteral("Time since start (min)"));
    for (const QString& label : tickLabels(plot, plot.xAxis)) QVERIFY2(label.toDouble() <= 10.0, qPrintable(label));
  }

  void legendsListOnlySeriesWithData() {
    QCustomPlot plot;
    FigureData figure = accuracyFigure({1, 2}, {0.5, 0.6});
    figure.curves.push_back({QStringLiteral("#2 baseline"), runColor(1), {}, {}});
    populatePlot(plot, figure, 0);
    QCOMPARE(plot.legend->itemCount(), 1);

    MetricCharts charts;
    ChartView* accuracy = charts.accuracyChart();
    QCOMPARE(accuracy->legend->itemCount(), 0);
    charts.append({MetricPoint{"eval/student_acc", 10, 0.5, 1.7e9, 0.91}});
    accuracy->flushReplot();
    accuracy->resetView();
    QCOMPARE(accuracy->legend->itemCount(), 1);
    // One live point: an axis within 0-100%, not -1.5 to 3.3.
    QVERIFY(accuracy->yAxis->range().lower >= 0.0 && accuracy->yAxis->range().upper <= 100.0);
    QVERIFY(accuracy->yAxis->range().contains(91.0));
  }

  void liveChartsHaveTheSavedChartsMenu() {
    MetricCharts charts;
    QMenu menu;
    charts.lossChart()->fillContextMenu(menu);
    QStringList texts;
    for (QAction* action : menu.actions()) texts << action->text();
    QCOMPARE(texts, (QStringList{"Export chart…", "Copy chart as image", "Reset zoom", "Logarithmic scale"}));
  }

  void exportsUseHumanLabelsAndUnits() {
    const FigureData figure = metricFigure("eval/student_acc", FigureX::Epoch);
    QCOMPARE(figure.title, QStringLiteral("Student test accuracy"));
    QCOMPARE(figure.y_label, QStringLiteral("Student test accuracy (%)"));
    QCOMPARE(figure.x_label, QStringLiteral("Epoch"));
    QCOMPARE(runColor(0).name(), QString::fromStdString(cli::chartColorHex(0)));  // the report's swatch
    QCOMPARE(QColor(QLatin1String(kTeacherColorHex)), kTeacherColor);
  }

  // The same comparison chart through the window's export and the CLI's: same size, colours,
  // labels, pixel for pixel.
  void theWindowAndTheCliExportTheSameImage() {
    QTemporaryDir dir;
    const std::string db = dir.filePath(QStringLiteral("runs.db")).toStdString();
    {
      RunStore store(db);
      for (int r = 0; r < 2; ++r) {
        const int64_t id = store.createRun({r ? "student alone" : "kd student", "name: x\n", {}, std::nullopt});
        std::vector<MetricPoint> points;
        for (int i = 0; i <= 8; ++i)
          points.push_back({"eval/student_acc", i * 50, i * 0.5, 1.7e9 + i, 0.6 + 0.03 * i + 0.01 * r});
        store.appendMetrics(id, points);
        store.finishRun(id, RunStatus::Completed);
      }
    }
    RunStore store(db);
    CompareView view;
    view.setStore(&store);
    QVERIFY(view.setRuns({1, 2}));
    ExportOptions options;
    options.format = FigureFormat::Png;
    options.dpi = 100;
    const QString window_png = dir.filePath(QStringLiteral("window.png"));
    view.exportChart(view.chartFor("eval/student_acc"), window_png, options);

    const cli::Comparison comparison = cli::loadComparison(store, {1, 2}, {});
    cli::ChartRequest request = cli::chartFor(comparison, "eval/student_acc", cli::XAxis::Step);
    request.format = "png";
    request.dpi = 100;
    const std::string cli_png = dir.filePath(QStringLiteral("cli.png")).toStdString();
    cli::writeChart(request, cli_png);

    const QImage from_window(window_png), from_cli(QString::fromStdString(cli_png));
    QCOMPARE(from_window.size(), QSize(600, 360));
    QCOMPARE(from_cli.size(), from_window.size());
    QVERIFY2(from_cli == from_window, "the CLI's chart differs from the window's");
    // Both runs in their palette colours.
    for (int run = 0; run < 2; ++run) {
      const QRgb colour = runColor(run).rgb();
      int found = 0;
      for (int y = 0; y < from_cli.height(); ++y)
        for (int x = 0; x < from_cli.width(); ++x) found += (from_cli.pixel(x, y) & 0xffffff) == (colour & 0xffffff);
      QVERIFY2(found > 20, qPrintable(runColor(run).name()));
    }
  }

  // After an export the window says where the file went, with a button to open its folder.
  void theWindowSaysWhereAnExportWent() {
    QTemporaryDir dir;
    MainWindow window(dir.filePath(QStringLiteral("runs.db")));
    window.show();
    const QString path = dir.filePath(QStringLiteral("figure.pdf"));
    emit window.compareView()->exported(path);
    QVERIFY2(window.statusBar()->currentMessage().contains(path), qPrintable(window.statusBar()->currentMessage()));
    QVERIFY(window.openExportFolderButton()->isVisible());
    QCOMPARE(window.lastExport(), path);
  }
};

QTEST_MAIN(TestFigures)
#include "test_figures.moc"
