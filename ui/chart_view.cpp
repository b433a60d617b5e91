#include "ui/chart_view.h"

#include <QApplication>
#include <QClipboard>
#include <QContextMenuEvent>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QMenu>
#include <QMessageBox>
#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/metrics/metric_info.h"
#include "core/tasks/task_catalog.h"
#include "ui/desktop_integration.h"

namespace distill::ui {

ChartView::ChartView(const QString& title, const QString& x_label, const QString& y_label, const QString& y2_label,
                     QWidget* parent)
    : QCustomPlot(parent), title_(title), x_label_(x_label), y_label_(y_label) {
  setObjectName(title);
  setMinimumSize(220, 180);
  // Curves are antialiased only where they are drawn point for point: a curve with more points
  // in view than the plot has pixels is a band of short segments, which antialiasing shows no
  // better and Qt's rasterizer draws ten times slower (one run's 10,000 points: 48 ms a redraw
  // with every curve antialiased). Decided before every replot, for the range in view.
  setNoAntialiasingOnDrag(true);  // keeps panning smooth on big curves
  setPlottingHint(QCP::phFastPolylines, true);
  connect(this, &QCustomPlot::beforeReplot, this, &ChartView::antialiasSparseCurves);

  plotLayout()->insertRow(0);
  auto* title_element = new QCPTextElement(this, title, QFont(font().family(), font().pointSize() + 1, QFont::Bold));
  plotLayout()->addElement(0, 0, title_element);

  xAxis->setLabel(x_label);
  yAxis->setLabel(y_label);
  if (!y2_label.isEmpty()) {
    yAxis2->setVisible(true);
    yAxis2->setLabel(y2_label);
  }

  // The legend sits in its own row under the axes, filled left to right, so it never covers
  // the curves.
  auto* legend_rect = new QCPLayoutGrid;
  plotLayout()->addElement(2, 0, legend_rect);
  plotLayout()->setRowStretchFactor(2, 0.001);
  legend->setVisible(true);
  legend_rect->addElement(0, 0, legend);
  legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  legend->setWrap(3);
  legend->setBorderPen(Qt::NoPen);
  legend->setBrush(Qt::NoBrush);
  legend->setSelectableParts(QCPLegend::spNone);
  legend->setIconSize(22, 10);
  followPalette(this);  // background, axes, grid and text from the desktop's light or dark palette

  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  const QList<QCPAxis*> horizontal{xAxis};
  const QList<QCPAxis*> vertical = y2_label.isEmpty() ? QList<QCPAxis*>{yAxis} : QList<QCPAxis*>{yAxis, yAxis2};
  axisRect()->setRangeDragAxes(horizontal, vertical);
  axisRect()->setRangeZoomAxes(horizontal, vertical);
  connect(this, &QCustomPlot::legendClick, this, &ChartView::onLegendClick);

  // One paint buffer, not two: QCustomPlot keeps its "overlay" layer (only the selection rect
  // would use it; these charts have none) in a buffer of its own, which every redraw clears and
  // every paint blends over the chart, transparent.
  if (QCPLayer* overlay = layer(QStringLiteral("overlay"))) overlay->setMode(QCPLayer::lmLogical);
  // paintEvent covers the whole widget with the opaque background: Qt need not paint what lies
  // beneath it first.
  setAttribute(Qt::WA_OpaquePaintEvent);

  replot_timer_.setSingleShot(true);
  connect(&replot_timer_, &QTimer::timeout, this, &ChartView::replotNow);
  xAxis->setRange(0, 1);
  yAxis->setRange(0, 1);
  yAxis2->setRange(0, 1);
}

void ChartView::addSeries(const SeriesSpec& spec) {
  Series series;
  series.spec = spec;
  series.graph = addGraph(xAxis, spec.right_axis ? yAxis2 : yAxis);
  series.graph->setName(spec.label);
  series.graph->removeFromLegend();  // until it has data
  const MetricInfo info = metricInfo(spec.key);
  series.lower = info.lower;
  series.upper = info.upper;
  series.scale = info.percent ? 100.0 : 1.0;
  series.graph->setPen(QPen(spec.color, spec.pen_width, spec.pen_style));
  if (spec.markers)
    series.graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(spec.color, 1.4), QBrush(palette().color(QPalette::Base)), 6));
  series_[spec.key] = std::move(series);
}

void ChartView::append(const MetricPoint& point) {
  auto it = series_.find(point.key);
  if (it == series_.end()) return;
  if (!std::isfinite(point.value)) return;  // a diverged run ends with a NaN; do not plot it
  if (it->second.points.empty()) it->second.graph->addToLegend();
  it->second.graph->addData(point.epoch, point.value * it->second.scale);
  it->second.points.push_back(point);
  scheduleReplot();
}

void ChartView::clearData() {
  for (auto& [key, series] : series_) {
    series.graph->data()->clear();
    series.graph->removeFromLegend();
    series.points.clear();
  }
  following_ = true;
  replotSoon();
}

int ChartView::pointCount(const std::string& key) const {
  auto it = series_.find(key);
  return it == series_.end() ? 0 : static_cast<int>(it->second.points.size());
}

int ChartView::totalPointCount() const {
  int total = 0;
  for (const auto& [key, series] : series_) total += static_cast<int>(series.points.size());
  return total;
}

QCPGraph* ChartView::graphFor(const std::string& key) const {
  auto it = series_.find(key);
  return it == series_.end() ? nullptr : it->second.graph;
}

int ChartView::liveInterval() const {
  if (fixed_interval_ms_ > 0) return fixed_interval_ms_;
  const double wanted = kLiveCostFactor * lastRedrawMs();
  return static_cast<int>(std::clamp(wanted, double(kMinLiveIntervalMs), double(kMaxLiveIntervalMs)));
}

void ChartView::scheduleReplot() {
  dirty_ = true;
  if (!replot_timer_.isActive()) replot_timer_.start(liveInterval());
}

void ChartView::replotSoon() {
  dirty_ = true;
  replot_timer_.start(0);  // also cuts short a wait for new data's interval
}

void ChartView::flushReplot() {
  if (!dirty_) return;
  replot_timer_.stop();
  replotNow();
}

void ChartView::replotNow() {
  if (!dirty_) return;
  dirty_ = false;
  if (following_) rescale();
  ++replot_count_;
  QElapsedTimer clock;
  clock.start();
  replot(QCustomPlot::rpQueuedRefresh);
  last_replot_ns_ = clock.nsecsElapsed();
  last_paint_ns_ = 0;  // until the paint that shows it
}

void ChartView::paintEvent(QPaintEvent* event) {
  QElapsedTimer clock;
  clock.start();
  QCustomPlot::paintEvent(event);
  last_paint_ns_ = clock.nsecsElapsed();
}

void ChartView::antialiasSparseCurves() {
  const QCPRange range = xAxis->range();
  const int pixels = std::max(1, axisRect()->width());
  for (auto& [key, series] : series_) {
    const auto data = series.graph->data();
    const auto in_view = data->findEnd(range.upper) - data->findBegin(range.lower);
    series.graph->setAntialiased(in_view <= pixels);
  }
}

void ChartView::rescale() {
  bool any_left = false, any_right = false;
  for (const auto& [key, series] : series_) {
    if (!series.graph->visible() || series.points.empty()) continue;
    (series.spec.right_axis ? any_right : any_left) = true;
  }
  if (!any_left && !any_right) return;
  xAxis->rescale(/*onlyVisiblePlottables=*/true);
  const double x_pad = std::max(xAxis->range().size() * 0.02, 0.01);
  xAxis->setRange(std::max(0.0, xAxis->range().lower - x_pad), xAxis->range().upper + x_pad);
  // Each axis: the data of its visible series, padded, within the series' common bounds (a
  // lone accuracy point no longer gets an axis from -1.5 to 3.3, nor accuracy one up to 140%).
  for (auto* axis : {yAxis, yAxis2}) {
    if (axis == yAxis ? !any_left : !any_right) continue;
    FigureData data;
    data.log_y = log_scale_ && axis == yAxis;  // only positive values, padded by a factor
    data.y_lower = std::numeric_limits<double>::infinity();
    data.y_upper = -data.y_lower;
    for (const auto& [key, series] : series_) {
      if (!series.graph->visible() || series.points.empty() || (series.spec.right_axis != (axis == yAxis2))) continue;
      FigureCurve curve;
      for (const auto& p : series.points) curve.y.push_back(p.value * series.scale);
      data.curves.push_back(std::move(curve));
      data.y_lower = std::min(data.y_lower, series.lower * series.scale);  // NaN bounds stay NaN
      data.y_upper = std::max(data.y_upper, series.upper * series.scale);
      if (std::isnan(series.lower)) data.y_lower = std::numeric_limits<double>::quiet_NaN();
      if (std::isnan(series.upper)) data.y_upper = std::numeric_limits<double>::quiet_NaN();
    }
    const auto [lo, hi] = paddedYRange(data);
    if (std::isfinite(lo) && std::isfinite(hi) && lo < hi) axis->setRange(lo, hi);
  }
}

void ChartView::setLogScale(bool on) {
  if (on == log_scale_) return;
  log_scale_ = on;
  yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  if (on) {
    auto ticker = QSharedPointer<QCPAxisTickerLog>::create();
    ticker->setLogBase(10);
    ticker->setSubTickCount(8);  // 2..9 between decades
    yAxis->setTicker(ticker);
    yAxis->setNumberFormat(QStringLiteral("g"));
  } else {
    yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
  }
  dirty_ = true;
  if (following_) rescale();
  replotSoon();
}

void ChartView::resetView() {
  following_ = true;
  dirty_ = true;
  replotNow();
}

void ChartView::setSeriesVisible(const std::string& key, bool visible) {
  auto it = series_.find(key);
  if (it == series_.end()) return;
  it->second.graph->setVisible(visible);
  if (auto* item = legend->itemWithPlottable(it->second.graph))
    item->setTextColor(palette().color(visible ? QPalette::Active : QPalette::Disabled, QPalette::Text));
  replotSoon();
}

void ChartView::onLegendClick(QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
  auto* plottable_item = qobject_cast<QCPPlottableLegendItem*>(item);
  if (!plottable_item) return;
  for (const auto& [key, series] : series_) {
    if (series.graph == plottable_item->plottable()) {
      setSeriesVisible(key, !series.graph->visible());
      return;
    }
  }
}

QString ChartView::tooltipAt(const QPoint& pos) const {
  if (!axisRect()->rect().contains(pos)) return QString();
  const Series* best = nullptr;
  const MetricPoint* best_point = nullptr;
  double best_distance = 14.0;  // pixels: close enough to mean "this point"
  for (const auto& [key, series] : series_) {
    if (!series.graph->visible() || series.points.empty()) continue;
    QCPAxis* value_axis = series.spec.right_axis ? yAxis2 : yAxis;
    const double epoch = xAxis->pixelToCoord(pos.x());
    auto it = std::lower_bound(series.points.begin(), series.points.end(), epoch,
                               [](const MetricPoint& p, double e) { return p.epoch < e; });
    // Check a few neighbours on each side: evaluation points of both phases may interleave.
    const auto from = it - std::min<std::ptrdiff_t>(it - series.points.begin(), 3);
    const auto to = it + std::min<std::ptrdiff_t>(series.points.end() - it, 3);
    for (auto p = from; p != to; ++p) {
      const double dx = xAxis->coordToPixel(p->epoch) - pos.x();
      const double dy = value_axis->coordToPixel(p->value * series.scale) - pos.y();  // drawn scaled (percent)
      const double distance = std::hypot(dx, dy);
      if (distance < best_distance) {
        best_distance = distance;
        best = &series;
        best_point = &*p;
      }
    }
  }
  if (!best) return QString();
  return QStringLiteral("<b>%1</b><br>step %2 · epoch %3<br>value %4")
      .arg(best->spec.label.toHtmlEscaped())
      .arg(best_point->step)
      .arg(best_point->epoch, 0, 'f', 3)
      .arg(best_point->value * best->scale, 0, 'g', 6);
}

FigureData ChartView::figure() const {
  FigureData figure;
  figure.title = title_;
  figure.x_label = x_label_;
  figure.y_label = y_label_;
  figure.log_y = log_scale_;
  for (const auto& [key, series] : series_) {
    if (!series.graph->visible() || series.points.empty() || series.spec.right_axis) continue;
    FigureCurve curve{series.spec.label, series.spec.color, {}, {}, series.spec.pen_style};
    for (const auto& p : series.points) curve.x.push_back(p.epoch), curve.y.push_back(p.value * series.scale);
    figure.curves.push_back(std::move(curve));
    figure.y_lower = std::isnan(figure.y_lower) ? series.lower * series.scale : std::min(figure.y_lower, series.lower * series.scale);
    figure.y_upper = std::isnan(figure.y_upper) ? series.upper * series.scale : std::max(figure.y_upper, series.upper * series.scale);
  }
  return figure;
}

void ChartView::fillContextMenu(QMenu& menu) {
  menu.addAction(tr("Export chart…"), this, &ChartView::exportInteractive);
  menu.addAction(tr("Copy chart as image"), this, &ChartView::copyToClipboard);
  menu.addAction(tr("Reset zoom"), this, &ChartView::resetView);
  auto* log_action = menu.addAction(tr("Logarithmic scale"), this, [this](bool on) { setLogScale(on); });
  log_action->setCheckable(true);
  log_action->setChecked(log_scale_);
}

void ChartView::contextMenuEvent(QContextMenuEvent* event) {
  QMenu menu(this);
  fillContextMenu(menu);
  menu.exec(event->globalPos());
}

void ChartView::exportInteractive() {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export chart"), title_.toLower().replace(' ', '-') + ".pdf",
                                                    tr("PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"));
  if (path.isEmpty()) return;
  ExportOptions options;
  options.format = figureFormatFromSuffix(path, FigureFormat::Pdf);
  try {
    exportFigure(figure(), path, options);
    emit exported(path);
  } catch (const ExportError& e) {
    QMessageBox::warning(this, tr("Export failed"), QString::fromUtf8(e.what()));
  }
}

void ChartView::copyToClipboard() const {
  ExportOptions options;
  options.format = FigureFormat::Png;
  options.dpi = 150;
  QApplication::clipboard()->setImage(renderFigureImage(figure(), options));
}

void ChartView::mouseMoveEvent(QMouseEvent* event) {
  QCustomPlot::mouseMoveEvent(event);
  if (event->buttons() & Qt::LeftButton) {
    following_ = false;  // the user pans: stop following new data until a double-click
    return;
  }
  const QString text = tooltipAt(event->pos());
  if (text.isEmpty())
    QToolTip::hideText();
  else
    QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

void ChartView::leaveEvent(QEvent* event) {
  QToolTip::hideText();
  QCustomPlot::leaveEvent(event);
}

void ChartView::wheelEvent(QWheelEvent* event) {
  following_ = false;
  QCustomPlot::wheelEvent(event);
}

void ChartView::mouseDoubleClickEvent(QMouseEvent* event) {
  QCustomPlot::mouseDoubleClickEvent(event);
  if (event->button() == Qt::LeftButton) resetView();
}

}  // namespace distill::ui
