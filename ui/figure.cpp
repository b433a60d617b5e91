#include "ui/figure.h"

#include <QBuffer>
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

#include "core/metrics/smoothing.h"

namespace distill::ui {

QColor runColor(int index) {
  static const QColor kTableau[] = {{0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
                                    {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
                                    {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf}};
  if (index >= 0 && index < 10) return kTableau[index];
  const double hue = std::fmod(0.11 + 0.618033988749895 * index, 1.0);
  const double value = index % 2 ? 0.62 : 0.80;  // alternate brightness for neighbours
  return QColor::fromHsvF(static_cast<float>(hue), 0.75f, static_cast<float>(value));
}

namespace {

// On a log axis, non-positive values have no place; drop them rather than draw garbage.
void setGraphData(QCPGraph* graph, const std::vector<double>& xs, const std::vector<double>& ys,
                  const std::vector<size_t>* indices, bool log_y) {
  QVector<double> gx, gy;
  const size_t n = indices ? indices->size() : xs.size();
  gx.reserve(static_cast<int>(n));
  gy.reserve(static_cast<int>(n));
  for (size_t k = 0; k < n; ++k) {
    const size_t i = indices ? (*indices)[k] : k;
    if (log_y && !(ys[i] > 0)) continue;
    gx.push_back(xs[i]);
    gy.push_back(ys[i]);
  }
  graph->setData(gx, gy, /*alreadySorted=*/true);
}

// Each curve has a raw graph (faint when smoothing) and, when smoothing, a smoothed graph;
// the smoothed values are cached on the graph pair via this list, in curve order.
struct CurveGraphs {
  QCPGraph* raw = nullptr;
  QCPGraph* smooth = nullptr;
};

std::vector<CurveGraphs> curveGraphs(QCustomPlot& plot, const FigureData& figure) {
  std::vector<CurveGraphs> out(figure.curves.size());
  const bool smoothing = figure.smoothing > 0.0;
  int g = 0;
  for (size_t c = 0; c < figure.curves.size() && g < plot.graphCount(); ++c) {
    out[c].raw = plot.graph(g++);
    if (smoothing && g < plot.graphCount()) out[c].smooth = plot.graph(g++);
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
    if (graphs[c].raw) setGraphData(graphs[c].raw, curve.x, curve.y, kept, figure.log_y);
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
      // the drawing is decimated.
      const auto smoothed = smoothEma(curve.y, figure.smoothing);
      std::vector<size_t> smooth_indices;
      if (decimation_width > 0)
        smooth_indices = minMaxDecimate(curve.x, smoothed, range.lower, range.upper, static_cast<size_t>(decimation_width));
      setGraphData(graphs[c].smooth, curve.x, smoothed, decimation_width > 0 ? &smooth_indices : nullptr, figure.log_y);
    }
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
  plot.xAxis->setLabel(figure.x_label);
  plot.yAxis->setLabel(figure.y_label);
  if (figure.x_is_wall_time) {
    auto ticker = QSharedPointer<QCPAxisTickerDateTime>::create();
    ticker->setDateTimeFormat(QStringLiteral("HH:mm\nyyyy-MM-dd"));
    plot.xAxis->setTicker(ticker);
  } else {
    plot.xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
  }
  if (figure.log_y) {
    plot.yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot.yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
  } else {
    plot.yAxis->setScaleType(QCPAxis::stLinear);
    plot.yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
  }
  const bool smoothing = figure.smoothing > 0.0;
  for (const auto& curve : figure.curves) {
    QCPGraph* raw = plot.addGraph();
    QColor raw_color = curve.color;
    if (smoothing) raw_color.setAlpha(60);  // faint behind the smoothed curve
    raw->setPen(QPen(raw_color, smoothing ? 1.0 : 1.5));
    raw->setName(curve.label);
    if (curve.x.size() <= 40 && !smoothing)  // evaluation curves: few points, mark each
      raw->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
    if (smoothing) {
      raw->removeFromLegend();
      QCPGraph* smooth = plot.addGraph();
      smooth->setPen(QPen(curve.color, 1.6));
      smooth->setName(curve.label);
    }
  }
  plot.legend->setVisible(!figure.curves.empty());
  // Rescale on the full range first, so the decimation sees all of it. Min/max decimation
  // over that range keeps every curve's first and last point and its extremes, so on a linear
  // Y axis the decimated curves rescale exactly as the full ones would, without QCustomPlot
  // holding every point; on a log axis dropped non-positive points could change that.
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  for (const auto& curve : figure.curves)
    if (!curve.x.empty()) x_lo = std::min(x_lo, curve.x.front()), x_hi = std::max(x_hi, curve.x.back());
  const bool decimate_first = decimation_width > 0 && !figure.log_y && x_lo < x_hi;
  if (decimate_first) plot.xAxis->setRange(x_lo, x_hi);
  fillData(plot, figure, decimate_first ? decimation_width : 0);
  plot.rescaleAxes();
  // Keep the legend off the curves' ends: rising curves (accuracy, agreement) end high, so
  // their legend goes bottom right; falling ones (losses) keep it top right.
  double end_sum = 0.0;
  int ends = 0;
  for (const auto& curve : figure.curves)
    if (!curve.y.empty() && std::isfinite(curve.y.back())) end_sum += curve.y.back(), ++ends;
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

// A plot in paper style: white, 8-9 pt type, thin axes, a framed legend inside the axes.
// `font_scale` < 1 where the device counts 72 logical units per inch (PDF) instead of 96.
std::unique_ptr<QCustomPlot> paperPlot(const FigureData& figure, int width, int height, double font_scale = 1.0) {
  auto plot = std::make_unique<QCustomPlot>();
  plot->resize(width, height);
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
  populatePlot(*plot, figure, 0);
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

QImage renderFigureImage(const FigureData& figure, const ExportOptions& options) {
  const QSize logical = logicalSize(options);
  const QSize pixels = pixelSize(options);
  if (logical.width() < 50 || logical.height() < 50) throw ExportError("figure too small to draw");
  auto plot = paperPlot(figure, logical.width(), logical.height());
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
