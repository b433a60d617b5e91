// One live chart: a QCustomPlot with named metric series, plotted against the fractional
// epoch within the metric's phase, so the teacher's and the student's curves share an axis.
//
// Interaction: wheel zooms, drag pans, double-click resets, hovering shows the nearest
// point's exact step/epoch/value, clicking a legend entry hides or shows its curve, the
// context menu exports, copies or resets the chart (as the compare view's charts do). The
// legend lists only series that have data. The Y range is padded around the data and kept
// within the metrics' bounds (core/metrics/metric_info.h); percent metrics are drawn x 100. The
// view follows new data (rescales) until the user zooms or pans; a double-click resumes it.
//
// Redraws are coalesced: append() only marks the chart dirty and arms a single-shot timer,
// so however many points arrive, the chart redraws at most once per interval (PlotJuggler's
// approach). The interval for new data follows the cost of a redraw, measured on every one
// (layout and drawing into the buffer, then the paint onto the window): kLiveCostFactor times
// that, between kMinLiveIntervalMs and kMaxLiveIntervalMs. A live chart thus takes under 1% of
// a core, which on a 2-core machine is taken from the run. What the user does (hiding a curve,
// a new run shown, a zoom) is drawn at once. Thread contract: a widget; GUI thread only.
#pragma once

#include <QColor>
#include <QString>
#include <QTimer>

#include <qcustomplot.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/train/observer.h"
#include "ui/figure.h"

class QMenu;

namespace distill::ui {

struct SeriesSpec {
  std::string key;  // metric key, e.g. "train/student_loss"
  QString label;    // legend text
  QColor color;
  Qt::PenStyle pen_style = Qt::SolidLine;
  double pen_width = 1.6;
  bool markers = false;     // evaluation points: few, so mark each
  bool right_axis = false;  // on yAxis2 (e.g. KL beside agreement)
};

class ChartView : public QCustomPlot {
  Q_OBJECT
 public:
  ChartView(const QString& title, const QString& x_label, const QString& y_label, const QString& y2_label = QString(),
            QWidget* parent = nullptr);

  void addSeries(const SeriesSpec& spec);
  bool hasSeries(const std::string& key) const { return series_.count(key) != 0; }
  // Points must arrive in step order per key (they do: the trainer logs them so).
  void append(const MetricPoint& point);
  void clearData();
  int pointCount(const std::string& key) const;
  int totalPointCount() const;
  QCPGraph* graphFor(const std::string& key) const;

  bool following() const { return following_; }
  void resetView();                  // rescale to all data and follow again
  // A logarithmic left axis (decades ticked), for values spanning orders of magnitude such as
  // perplexity; the context menu toggles it, and exports follow it.
  void setLogScale(bool on);
  bool logScale() const { return log_scale_; }
  void setSeriesVisible(const std::string& key, bool visible);
  static constexpr int kMinLiveIntervalMs = 100;
  static constexpr int kMaxLiveIntervalMs = 1000;
  static constexpr double kLiveCostFactor = 150.0;
  // A fixed interval for new data instead of the measured one (0: measured again).
  void setReplotInterval(int milliseconds) { fixed_interval_ms_ = std::max(0, milliseconds); }
  // The interval new data waits for its redraw now.
  int liveInterval() const;
  // Milliseconds the last redraw took (layout and drawing, plus its paint once painted).
  double lastRedrawMs() const { return (last_replot_ns_ + last_paint_ns_) / 1e6; }
  void scheduleReplot();  // for new data: at most once per liveInterval()
  void replotSoon();      // for what the user did: on the next turn of the event loop
  void flushReplot();     // draws now what new data waits for (a run's end: its last points)
  bool redrawPending() const { return dirty_; }
  int replotCount() const { return replot_count_; }
  // The tooltip text for a point near widget position `pos`, empty when none is close.
  QString tooltipAt(const QPoint& pos) const;
  // The chart as a figure (visible series with data, every point), for export and copy.
  FigureData figure() const;
  // Fills `menu` with the chart's actions: export, copy as image, reset zoom, logarithmic scale.
  void fillContextMenu(QMenu& menu);
  void exportInteractive();
  void copyToClipboard() const;

 signals:
  // A file was written by the chart's export (the window says where).
  void exported(QString path);

 protected:
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void leaveEvent(QEvent* event) override;
  void paintEvent(QPaintEvent* event) override;
  void contextMenuEvent(QContextMenuEvent* event) override;

 private slots:
  void onLegendClick(QCPLegend* legend, QCPAbstractLegendItem* item, QMouseEvent* event);
  void replotNow();
  void antialiasSparseCurves();

 private:
  struct Series {
    SeriesSpec spec;
    QCPGraph* graph = nullptr;
    std::vector<MetricPoint> points;  // the exact values, for the tooltip
    double lower = 0, upper = 0;      // the metric's bounds (NaN: none)
    double scale = 1.0;               // 100 for a percent metric
  };
  void rescale();

  std::map<std::string, Series> series_;
  QString title_, x_label_, y_label_;
  QTimer replot_timer_;
  bool dirty_ = false;
  bool following_ = true;
  bool log_scale_ = false;
  int replot_count_ = 0;
  int fixed_interval_ms_ = 0;
  qint64 last_replot_ns_ = 0;
  qint64 last_paint_ns_ = 0;
};

}  // namespace distill::ui
