// The compare view: 2 to 50 runs side by side. Every metric gets a chart with one curve per
// run, in the run's colour (its position in the comparison, the same on every chart), a
// smoothing slider (TensorBoard's debiased EMA, raw curve faint behind), X by step, epoch,
// relative time, wall time or, when every run is a language-model run, tokens seen
// (core/tasks/lm/lm_tokens.h), log Y. Runs of several tasks share their common metrics only;
// the message names the ones left out (core/store/compared_metrics.h, as `distill compare`). Below: the config keys with differences highlighted (and
// a "differences only" switch) and a summary of every metric's final and best value with the
// step of the best. Curves are drawn min/max-decimated to the chart's width and re-decimated
// on pan and zoom; exports (right-click a chart) use every point.
//
// Thread contract: a widget; GUI thread only. Reads through the window's RunStore, which must
// outlive it.
#pragma once

#include <QList>
#include <QTimer>
#include <QWidget>

#include <qcustomplot.h>

#include <map>
#include <string>
#include <vector>

#include "core/store/run_store.h"
#include "ui/figure.h"

class QCheckBox;
class QComboBox;
class QGridLayout;
class QLabel;
class QSlider;
class QTableWidget;

namespace distill::ui {

// One chart of the compare view: a figure drawn decimated to the widget's width.
class CompareChart : public QCustomPlot {
  Q_OBJECT
 public:
  explicit CompareChart(QWidget* parent = nullptr);
  void setFigure(FigureData figure);
  const FigureData& figure() const { return figure_; }
  int drawnPointCount() const;  // points handed to QCustomPlot, after decimation

 signals:
  void exportRequested(distill::ui::CompareChart* chart);
  void copyRequested(distill::ui::CompareChart* chart);

 protected:
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void contextMenuEvent(QContextMenuEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  void decimateForCurrentWidth();  // before each replot: decimate again if the width changed
  FigureData figure_;
  QTimer redecimate_;  // coalesces pan/zoom steps into one re-decimation
  int decimated_buckets_ = 0;  // the axis width the drawn data was decimated for
  bool sized_ = false;         // the layout has given it a size (it had a resizeEvent)
};

class CompareView : public QWidget {
  Q_OBJECT
 public:
  enum class XAxis { Step, Epoch, RelativeTime, WallTime, Tokens };

  explicit CompareView(QWidget* parent = nullptr);
  void setStore(RunStore* store) { store_ = store; }

  // Loads the runs' curves; returns false (and says why in the view) for fewer than 2 or
  // more than 50 runs or a store error.
  bool setRuns(const QList<qint64>& run_ids);
  QList<qint64> runIds() const;

  void setSmoothing(double weight);
  // Tokens is taken only when tokensAxisOffered(); otherwise the axis becomes Step.
  void setXAxis(XAxis axis);
  XAxis xAxis() const { return x_axis_; }
  // Every compared run is a language-model run with a batch size and context in its config.
  bool tokensAxisOffered() const;
  // The metrics with a chart, in chart order, and those left out (runs of several tasks).
  const std::vector<std::string>& metricKeys() const { return metric_keys_; }
  const std::vector<std::string>& leftOutMetrics() const { return left_out_metrics_; }
  QString message() const;
  void setLogY(bool log_y);
  void setDifferencesOnly(bool on);

  const std::vector<CompareChart*>& charts() const { return charts_; }
  CompareChart* chartFor(const std::string& metric) const;
  QTableWidget* paramTable() const { return params_; }
  QTableWidget* summaryTable() const { return summary_; }
  QColor colorOf(qint64 run_id) const;

  void exportChart(CompareChart* chart, const QString& path, const ExportOptions& options);  // throws ExportError
  bool exportCsv(const QString& path) const;   // long format: run,metric,step,epoch,wall_time,value
  bool exportJson(const QString& path) const;  // the `distill export --format json` layout

 public slots:
  void exportChartInteractive(distill::ui::CompareChart* chart);
  void copyChart(distill::ui::CompareChart* chart);
  void exportDataInteractive();

 signals:
  // A chart or the data was written to `path` (the window says where, with "Open folder").
  void exported(QString path);

 private:
  struct Run {
    RunRecord record;
    std::map<std::string, MetricSeries> series;
    double start_time = 0.0;
    double tokens_per_step = 0.0;  // 0: not a language-model run (no Tokens axis)
  };
  void offerXAxes();
  void rebuildCharts();
  void refreshFigures();
  void fillParamTable();
  void fillSummaryTable();
  FigureData figureFor(const std::string& metric) const;

  RunStore* store_ = nullptr;
  std::vector<Run> runs_;
  std::vector<std::string> metric_keys_;
  std::vector<std::string> left_out_metrics_;
  std::vector<CompareChart*> charts_;
  double smoothing_ = 0.0;
  XAxis x_axis_ = XAxis::Step;
  bool log_y_ = false;
  bool differences_only_ = true;

  QLabel* message_ = nullptr;
  QSlider* smoothing_slider_ = nullptr;
  QLabel* smoothing_label_ = nullptr;
  QComboBox* x_axis_box_ = nullptr;
  QCheckBox* log_y_box_ = nullptr;
  QCheckBox* differences_box_ = nullptr;
  QWidget* chart_area_ = nullptr;
  QGridLayout* chart_grid_ = nullptr;
  QTableWidget* params_ = nullptr;
  QTableWidget* summary_ = nullptr;
};

}  // namespace distill::ui
