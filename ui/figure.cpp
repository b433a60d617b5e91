#include "ui/figure.h"

#include <QBuffer>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QPainter>
#include <QSvgGenerator>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <memory>

#include "core/metrics/metric_info.h"
#include "core/tasks/task_catalog.h"
#include "core/metrics/smoothing.h"

namespace distill::ui {

QColor runColor(int index) { return QColor(QString::fromStdString(runColorHex(static_cast<size_t>(std::max(0, index))))); }

Qt::PenStyle runPenStyle(int index) {
  static const Qt::PenStyle kStyles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine};
  return kStyles[runDashIndex(static_cast<size_t>(std::max(0, index)))];
}

QColor teacherColor() { return QColor(QLatin1String(kTeacherColorHex)); }
QColor studentColor() { return QColor(QLatin1String(kStudentColorHex)); }

FigureData metricFigure(const std::string& metric, FigureX x) {
  const MetricInfo info = metricInfo(metric);
  FigureData figure;
  figure.title = QString::fromStdString(info.label);
  figure.y_label = QString::fromStdString(metricAxisLabel(info));
  figure.y_lower = info.lower;
  figure.y_upper = info.upper;
  figure.y_scale = info.percent ? 100.0 : 1.0;
  switch (x) {
    case FigureX::Step: figure.x_label = QStringLiteral("Step"); break;
    case FigureX::Epoch: figure.x_label = QStringLiteral("Epoch"); break;
    case FigureX::RelativeTime:
      figure.x_label = QStringLiteral("Time since start");
      figure.x_is_duration = true;
      break;
    case FigureX::WallTime:
      figure.x_label = QStringLiteral("Wall time");
      figure.x_is_wall_time = true;
      break;
  }
  return figure;
}

std::pair<double, double> paddedYRange(const FigureData& figure) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& curve : figure.curves)
    for (double y : curve.y)
      if (std::isfinite(y) && (!figure.log_y || y > 0)) lo = std::min(lo, y), hi = std::max(hi, y);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!(lo <= hi)) return {nan, nan};
  if (figure.log_y) return {lo / 1.15 * figure.y_scale, hi * 1.15 * figure.y_scale};
  double pad = (hi - lo) * 0.06;
  if (!(pad > 0)) {
    // A flat series or one point: a small window around it, a tenth of the bounded span
    // where there is one, else 5% of the value.
    const bool bounded = std::isfinite(figure.y_lower) && std::isfinite(figure.y_upper);
    pad = bounded ? (figure.y_upper - figure.y_lower) * 0.05 : std::max(std::fabs(hi) * 0.05, 1e-3);
  }
  lo -= pad;
  hi += pad;
  if (std::isfinite(figure.y_lower)) lo = std::max(lo, figure.y_lower);
  if (std::isfinite(figure.y_upper)) hi = std::min(hi, figure.y_upper);
  return {lo * figure.y_scale, hi * figure.y_scale};
}

namespace {

bool smoothed(const FigureData& figure, const FigureCurve& curve) {
  return figure.smoothing > 0.0 && curve.y.size() >= kMinPointsToSmooth;
}

// On a log axis, non-positive values have no place; drop them rather than draw garbage.
void setGraphData(QCPGraph* graph, const std::vector<double>& xs, const std::vector<double>& ys,
                  const std::vector<size_t>* indices, bool log_y, double y_scale) {
  QVector<double> gx, gy;
  const size_t n = indices ? indices->size() : xs.size();
  gx.reserve(static_cast<int>(n));
  gy.reserve(static_cast<int>(n));
  for (size_t k = 0; k < n; ++k) {
    const size_t i = indices ? (*indices)[k] : k;
    if (log_y && !(ys[i] > 0)) continue;
    gx.push_back(xs[i]);
    gy.push_back(ys[i] * y_scale);
  }
  graph->setData(gx, gy, /*alreadySorted=*/true);
}

// Each curve has a raw graph (faint when smoothed) and, when smoothed, a smoothed graph after
// it; populatePlot adds them in curve order.
struct CurveGraphs {
  QCPGraph* raw = nullptr;
  QCPGraph* smooth = nullptr;
};

std::vector<CurveGraphs> curveGraphs(QCustomPlot& plot, const FigureData& figure) {
  std::vector<CurveGraphs> out(figure.curves.size());
  int g = 0;
  for (size_t c = 0; c < figure.curves.size() && g < plot.graphCount(); ++c) {
    out[c].raw = plot.graph(g++);
    if (smoothed(figure, figure.curves[c]) && g < plot.graphCount()) out[c].smooth = plot.graph(g++);
  }
  return out;
}

void fillData(QCustomPlot& plot, const FigureData& figure, int decimation_width) {
  const auto graphs = curveGraphs(plot, figure);
  const QCPRange range = plot.xAxis->range();
  for (size_t c = 0; c < figure.curves.size(); ++c) {
    const auto& curve = figure.curves[c];
    std::vector<size_t> indices;
    const std::vector<size_t>* kept = nullptr;
    if (decimation_width > 0) {
      indices = minMaxDecimate(curve.x, curve.y, range.lower, range.upper, static_cast<size_t>(decimation_width));
      kept = &indices;
    }
    if (graphs[c].raw) setGraphData(graphs[c].raw, curve.x, curve.y, kept, figure.log_y, figure.y_scale);
    if (decimation_width > 0) {
      // A decimated curve is a column of min/max spikes per pixel: antialiasing it makes Qt's
      // rasterizer crawl with 20 noisy curves and shows nothing more, so only curves drawn
      // point for point keep it. Exports (decimation_width 0) are untouched.
      const auto first = std::lower_bound(curve.x.begin(), curve.x.end(), range.lower);
      const auto in_range = std::upper_bound(first, curve.x.end(), range.upper) - first;
      const bool dense = static_cast<std::ptrdiff_t>(indices.size()) < in_range;
      for (QCPGraph* graph : {graphs[c].raw, graphs[c].smooth})
        if (graph) graph->setAntialiased(!dense);
    }
    if (graphs[c].smooth) {
      // Smoothing runs over the full series (the EMA depends on every earlier point); only
      // the drawing is decimated. The debiased EMA is a weighted mean of the points so far,
      // so it never leaves the data's range.
      const auto smoothed_values = smoothEma(curve.y, figure.smoothing);
      std::vector<size_t> smooth_indices;
      if (decimation_width > 0)
        smooth_indices =
            minMaxDecimate(curve.x, smoothed_values, range.lower, range.upper, static_cast<size_t>(decimation_width));
      setGraphData(graphs[c].smooth, curve.x, smoothed_values, decimation_width > 0 ? &smooth_indices : nullptr,
                   figure.log_y, figure.y_scale);
    }
  }
}

// Seconds since the start, ticked at round numbers of the unit that fits the span.
class DurationTicker : public QCPAxisTicker {
 public:
  explicit DurationTicker(double unit_s) : unit_s_(unit_s) {}

 protected:
  double getTickStep(const QCPRange& range) override {
    return QCPAxisTicker::getTickStep(QCPRange(range.lower / unit_s_, range.upper / unit_s_)) * unit_s_;
  }
  QString getTickLabel(double tick, const QLocale& locale, QChar format, int precision) override {
    return QCPAxisTicker::getTickLabel(tick / unit_s_, locale, format, precision);
  }

 private:
  double unit_s_;
};

std::pair<double, double> xExtent(const FigureData& figure) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& curve : figure.curves)
    if (!curve.x.empty()) lo = std::min(lo, curve.x.front()), hi = std::max(hi, curve.x.back());
  return {lo, hi};
}

void setXTicker(QCustomPlot& plot, const FigureData& figure) {
  const auto [x_lo, x_hi] = xExtent(figure);
  const double span = x_hi > x_lo ? x_hi - x_lo : 0.0;
  if (figure.x_is_wall_time) {
    auto ticker = QSharedPointer<QCPAxisTickerDateTime>::create();
    // Seconds where a run is short: "HH:mm" repeated the same label across a 3-minute run.
    ticker->setDateTimeFormat(span < 15 * 60 ? QStringLiteral("HH:mm:ss") : span < 2 * 86400 ? QStringLiteral("HH:mm")
                                                                                          : QStringLiteral("MM-dd HH:mm"));
    ticker->setTickCount(5);
    plot.xAxis->setTicker(ticker);
    QString label = figure.x_label;
    if (x_lo <= x_hi && span < 2 * 86400)
      label += QStringLiteral(" (%1)").arg(QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(x_lo * 1000))
                                               .toString(QStringLiteral("yyyy-MM-dd")));
    plot.xAxis->setLabel(label);
  } else if (figure.x_is_duration) {
    const double unit = span >= 3 * 3600 ? 3600 : span >= 3 * 60 ? 60 : 1;
    plot.xAxis->setTicker(QSharedPointer<DurationTicker>::create(unit));
    plot.xAxis->setLabel(figure.x_label + (unit == 3600 ? QStringLiteral(" (h)") : unit == 60 ? QStringLiteral(" (min)")
                                                                                            : QStringLiteral(" (s)")));
  } else {
    plot.xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    plot.xAxis->setLabel(figure.x_label);
  }
}

}  // namespace

void populatePlot(QCustomPlot& plot, const FigureData& figure, int decimation_width) {
  plot.clearGraphs();
  plot.clearItems();
  if (plot.plotLayout()->rowCount() > 1 && dynamic_cast<QCPTextElement*>(plot.plotLayout()->element(0, 0))) {
    plot.plotLayout()->remove(plot.plotLayout()->element(0, 0));
    plot.plotLayout()->simplify();
  }
  if (!figure.title.isEmpty()) {
    plot.plotLayout()->insertRow(0);
    auto* title = new QCPTextElement(&plot, figure.title, QFont(plot.font().family(), 10, QFont::Bold));
    title->setObjectName(QStringLiteral("title"));
    plot.plotLayout()->addElement(0, 0, title);
  }
  setXTicker(plot, figure);
  plot.yAxis->setLabel(figure.y_label);
  if (figure.log_y) {
    plot.yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot.yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
  } else {
    plot.yAxis->setScaleType(QCPAxis::stLinear);
    plot.yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
  }
  for (const auto& curve : figure.curves) {
    const bool smooth = smoothed(figure, curve);
    QCPGraph* raw = plot.addGraph();
    QColor raw_color = curve.color;
    if (smooth) raw_color.setAlpha(60);  // faint behind the smoothed curve
    raw->setPen(QPen(raw_color, smooth ? 1.0 : 1.5, smooth ? Qt::SolidLine : curve.pen_style));
    raw->setName(curve.label);
    if (curve.x.size() <= 40 && !smooth)  // evaluation curves: few points, mark each
      raw->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
    if (curve.x.empty()) {
      raw->removeFromLegend();  // a run without this metric: its colour is kept, its entry not
    } else if (smooth) {
      raw->removeFromLegend();
      QCPGraph* smooth_graph = plot.addGraph();
      smooth_graph->setPen(QPen(curve.color, 1.6, curve.pen_style));
      smooth_graph->setName(curve.label);
    } else if (figure.smoothing > 0.0) {
      raw->setName(curve.label + QStringLiteral(" (raw: %1 points, too few to smooth)").arg(curve.x.size()));
    }
  }
  plot.legend->setVisible(plot.legend->itemCount() > 0);
  // Rescale on the full range first, so the decimation sees all of it. Min/max decimation
  // over that range keeps every curve's first and last point and its extremes.
  const auto [x_lo, x_hi] = xExtent(figure);
  const bool decimate_first = decimation_width > 0 && !figure.log_y && x_lo < x_hi;
  if (decimate_first) plot.xAxis->setRange(x_lo, x_hi);
  fillData(plot, figure, decimate_first ? decimation_width : 0);
  plot.rescaleAxes();
  if (x_lo == x_hi) plot.xAxis->setRange(x_lo - 1, x_hi + 1);  // one point: not a zero-width axis
  // Y from the data, padded, within the metric's bounds (rescaleAxes alone gave a flat
  // accuracy series an axis from -1.5 to 3.3).
  const auto [y_lo, y_hi] = paddedYRange(figure);
  if (std::isfinite(y_lo) && std::isfinite(y_hi) && y_lo < y_hi) plot.yAxis->setRange(y_lo, y_hi);
  // Keep the legend off the curves' ends: rising curves (accuracy, agreement) end high, so
  // their legend goes bottom right; falling ones (losses) keep it top right.
  double end_sum = 0.0;
  int ends = 0;
  for (const auto& curve : figure.curves)
    if (!curve.y.empty() && std::isfinite(curve.y.back())) end_sum += curve.y.back() * figure.y_scale, ++ends;
  const QCPRange y_range = plot.yAxis->range();
  const bool ends_high = ends > 0 && end_sum / ends > (y_range.lower + y_range.upper) / 2;
  plot.axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignRight | (ends_high ? Qt::AlignBottom : Qt::AlignTop));
  if (decimation_width > 0 && !(decimate_first && plot.xAxis->range() == QCPRange(x_lo, x_hi)))
    fillData(plot, figure, decimation_width);
}

void redecimate(QCustomPlot& plot, const FigureData& figure, int decimation_width) {
  if (decimation_width > 0) fillData(plot, figure, decimation_width);
}

FigureFormat figureFormatFromSuffix(const QString& path, FigureFormat fallback) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == QLatin1String("png")) return FigureFormat::Png;
  if (suffix == QLatin1String("pdf")) return FigureFormat::Pdf;
  if (suffix == QLatin1String("svg")) return FigureFormat::Svg;
  return fallback;
}

namespace {

constexpr double kLogicalDpi = 96.0;  // QCustomPlot lays out in 96-dpi logical pixels
constexpr double kEdgePadPx = 5.0;     // a marker (4 px) and its pen, in logical pixels

// A plot in paper style: white, 8-9 pt type, thin axes, a framed legend inside the axes.
// `font_scale` < 1 where the device counts 72 logical units per inch (PDF) instead of 96.
std::unique_ptr<QCustomPlot> paperPlot(const FigureData& figure, int width, int height, double font_scale = 1.0) {
  auto plot = std::make_unique<QCustomPlot>();
  plot->resize(width, height);
  // A widget never shown gets its resize event only when shown: without the viewport set here,
  // the layout below (and the padding computed from it) was that of a 640x480 default.
  plot->setViewport(QRect(0, 0, width, height));
  QFont font = plot->font();
  font.setPointSizeF(8.0 * font_scale);
  plot->setFont(font);
  for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
    axis->setTickLabelFont(font);
    QFont label_font = font;
    label_font.setPointSizeF(9.0 * font_scale);
    axis->setLabelFont(label_font);
  }
  plot->legend->setFont(font);
  plot->legend->setBrush(QColor(255, 255, 255, 220));
  plot->legend->setBorderPen(QPen(QColor(0xb0, 0xb0, 0xb0), 0.5));
  plot->legend->setRowSpacing(-3);
  plot->setAntialiasedElements(QCP::aeAll);
  // The grids' zero lines would mark the padding below (a grey line a few pixels inside the
  // frame at step 0 or accuracy 0), not a reference: the metrics drawn do not cross zero.
  for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) axis->grid()->setZeroLinePen(Qt::NoPen);
  populatePlot(*plot, figure, 0);
  // A marker on a bound (accuracy 100%, loss 0) sat on the frame, cut in half, and so did the
  // markers of the first and last step at the left and right edges: pad the plot area by a
  // marker's size in pixels at each end, on both axes (a few pixels of room, not a value past
  // the data: no tick lands there).
  plot->replot(QCustomPlot::rpImmediateRefresh);  // lays out the axis rectangle
  if (!figure.log_y && plot->axisRect()->height() > 20) {
    const QCPRange range = plot->yAxis->range();
    const double per_pixel = range.size() / plot->axisRect()->height();
    plot->yAxis->setRange(range.lower - kEdgePadPx * per_pixel, range.upper + kEdgePadPx * per_pixel);
  }
  if (plot->axisRect()->width() > 20) {
    const QCPRange range = plot->xAxis->range();
    const double per_pixel = range.size() / plot->axisRect()->width();
    plot->xAxis->setRange(range.lower - kEdgePadPx * per_pixel, range.upper + kEdgePadPx * per_pixel);
  }
  if (auto* title = plot->findChild<QCPTextElement*>(QStringLiteral("title"))) {
    QFont title_font = font;
    title_font.setBold(true);
    title_font.setPointSizeF(9.5 * font_scale);
    title->setFont(title_font);
  }
  plot->replot(QCustomPlot::rpImmediateRefresh);
  return plot;
}

QSize logicalSize(const ExportOptions& options) {
  if (options.format == FigureFormat::Png && options.width_px > 0 && options.height_px > 0) {
    const double scale = options.dpi / kLogicalDpi;
    return {static_cast<int>(std::lround(options.width_px / scale)), static_cast<int>(std::lround(options.height_px / scale))};
  }
  return {static_cast<int>(std::lround(options.width_in * kLogicalDpi)),
          static_cast<int>(std::lround(options.height_in * kLogicalDpi))};
}

QSize pixelSize(const ExportOptions& options) {
  if (options.width_px > 0 && options.height_px > 0) return {options.width_px, options.height_px};
  return {static_cast<int>(std::lround(options.width_in * options.dpi)),
          static_cast<int>(std::lround(options.height_in * options.dpi))};
}

}  // namespace

std::unique_ptr<QCustomPlot> exportPlot(const FigureData& figure, const ExportOptions& options) {
  const QSize logical = logicalSize(options);
  if (logical.width() < 50 || logical.height() < 50) throw ExportError("figure too small to draw");
  return paperPlot(figure, logical.width(), logical.height());
}

QImage renderFigureImage(const FigureData& figure, const ExportOptions& options) {
  const QSize logical = logicalSize(options);
  const QSize pixels = pixelSize(options);
  auto plot = exportPlot(figure, options);
  const double scale = std::min(pixels.width() / double(logical.width()), pixels.height() / double(logical.height()));
  const QPixmap pixmap = plot->toPixmap(logical.width(), logical.height(), scale);
  // Rounding may leave the pixmap a pixel off the requested size: place it on an exact canvas.
  QImage image(pixels, QImage::Format_ARGB32);
  image.fill(Qt::white);
  QPainter painter(&image);
  painter.drawPixmap(0, 0, pixmap);
  painter.end();
  const int dots_per_meter = static_cast<int>(std::lround(options.dpi / 0.0254));
  image.setDotsPerMeterX(dots_per_meter);
  image.setDotsPerMeterY(dots_per_meter);
  return image;
}

QByteArray renderFigureSvg(const FigureData& figure, const ExportOptions& options) {
  const QSize logical = logicalSize(options);
  auto plot = paperPlot(figure, logical.width(), logical.height());
  QBuffer buffer;
  buffer.open(QIODevice::WriteOnly);
  QSvgGenerator generator;
  generator.setOutputDevice(&buffer);
  generator.setSize(logical);
  generator.setViewBox(QRect(QPoint(0, 0), logical));
  generator.setResolution(static_cast<int>(kLogicalDpi));
  generator.setTitle(figure.title.isEmpty() ? figure.y_label : figure.title);
  generator.setDescription(QStringLiteral("Distill Workbench figure"));
  QCPPainter painter;
  if (!painter.begin(&generator)) throw ExportError("cannot start the SVG painter");
  plot->toPainter(&painter, logical.width(), logical.height());
  painter.end();
  return buffer.data();
}

void exportFigure(const FigureData& figure, const QString& path, const ExportOptions& options) {
  switch (options.format) {
    case FigureFormat::Png: {
      const QImage image = renderFigureImage(figure, options);
      if (!image.save(path, "PNG")) throw ExportError("cannot write '" + path.toStdString() + "'");
      return;
    }
    case FigureFormat::Pdf: {
      // QCustomPlot's PDF page has one point per logical pixel: lay out in points (72 per
      // inch) and scale the type to match, so a 6-inch figure is a 6-inch page with 8 pt text.
      const QSize logical(static_cast<int>(std::lround(options.width_in * 72)),
                          static_cast<int>(std::lround(options.height_in * 72)));
      auto plot = paperPlot(figure, logical.width(), logical.height(), 72.0 / kLogicalDpi);
      if (!plot->savePdf(path, logical.width(), logical.height(), QCP::epNoCosmetic, QStringLiteral("Distill Workbench"),
                         figure.title))
        throw ExportError("cannot write '" + path.toStdString() + "'");
      return;
    }
    case FigureFormat::Svg: {
      const QByteArray svg = renderFigureSvg(figure, options);
      QFile file(path);
      if (!file.open(QIODevice::WriteOnly) || file.write(svg) != svg.size())
        throw ExportError("cannot write '" + path.toStdString() + "'");
      return;
    }
  }
}

}  // namespace distill::ui
