#include "ui/sweep_charts.h"


#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "ui/fidelity_plots.h"
#include "ui/figure.h"

namespace distill::ui {
namespace {

QString toQ(const std::string& text) { return QString::fromStdString(text); }

// The title row: one QCPTextElement above the axes, made once per plot.
QCPTextElement* titleElement(QCustomPlot& plot) {
  auto* layout = plot.plotLayout();
  if (layout->rowCount() > 1)
    if (auto* title = qobject_cast<QCPTextElement*>(layout->element(0, 0))) return title;
  layout->insertRow(0);
  QFont font = plot.font();
  font.setPointSizeF(font.pointSizeF() + 1.0);
  font.setBold(true);
  auto* title = new QCPTextElement(&plot, QString(), font);
  layout->addElement(0, 0, title);
  return title;
}

// Back to a blank plot: no plottables or items, plain linear axes, legend on, no right axis.
void resetPlot(QCustomPlot& plot, const QString& title) {
  plot.clearPlottables();
  plot.clearItems();
  plot.setAutoAddPlottableToLegend(false);
  plot.legend->clearItems();
  plot.legend->setVisible(true);
  plot.legend->setFont(plot.font());
  if (plot.axisRect()->insetLayout()->elementCount() > 0)
    plot.axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
  for (QCPAxis* axis : {plot.xAxis, plot.yAxis, plot.yAxis2}) {
    axis->setScaleType(QCPAxis::stLinear);
    axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    axis->setLabel(QString());
    axis->setTickLabels(true);
    axis->grid()->setVisible(axis != plot.yAxis2);
    axis->grid()->setPen(QPen(QColor(0xd8, 0xd8, 0xd8), 1, Qt::DotLine));
  }
  plot.yAxis->setVisible(true);
  plot.yAxis2->setVisible(false);
  titleElement(plot)->setText(title);
}

void noData(QCustomPlot& plot, const QString& why) {
  auto* text = new QCPItemText(&plot);
  text->position->setType(QCPItemPosition::ptAxisRectRatio);
  text->position->setCoords(0.5, 0.5);
  text->setText(why);
  text->setColor(QColor(0x70, 0x70, 0x70));
  plot.legend->setVisible(false);
  plot.xAxis->setRange(0, 1);
  plot.yAxis->setRange(0, 1);
  plot.replot();
}

void logAxis(QCPAxis* axis) {
  axis->setScaleType(QCPAxis::stLogarithmic);
  QSharedPointer<QCPAxisTickerLog> ticker(new QCPAxisTickerLog);
  axis->setTicker(ticker);
  axis->setNumberFormat(QStringLiteral("gb"));
  axis->setNumberPrecision(3);
}

enum class Band { Whole, Upper, Lower };

// The Y range of values, padded by 8% (a flat set by a little around its value); Upper and
// Lower keep the data in that part of the plot, so two sets on the left and right axes of one
// chart do not hide each other.
void fitY(QCPAxis* axis, double low, double high, Band band = Band::Whole) {
  if (!std::isfinite(low) || !std::isfinite(high)) return;
  const double span = high > low ? high - low : std::max(std::abs(high) * 0.1, 0.02);
  const double pad = span * 0.08;
  switch (band) {
    case Band::Whole: axis->setRange(low - pad, high + pad); break;
    case Band::Upper: axis->setRange(low - span * 1.1, high + pad); break;
    case Band::Lower: axis->setRange(low - pad, high + span * 1.1); break;
  }
}

// Viridis from yellow (t = 0) through teal to purple (t = 1).
QColor viridis(double t) {
  static const QColor stops[] = {QColor(0xfd, 0xe7, 0x25), QColor(0x5e, 0xc9, 0x62), QColor(0x21, 0x91, 0x8c),
                                 QColor(0x3b, 0x52, 0x8b), QColor(0x44, 0x01, 0x54)};
  t = std::clamp(std::isfinite(t) ? t : 0.5, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  const QColor& a = stops[i];
  const QColor& b = stops[i + 1];
  return QColor::fromRgbF(a.redF() + (b.redF() - a.redF()) * f, a.greenF() + (b.greenF() - a.greenF()) * f,
                          a.blueF() + (b.blueF() - a.blueF()) * f);
}

QString valueText(double value) { return QString::number(value, 'g', 4); }

// "distill.temperature" -> "temperature": the axis's last part for a narrow column label.
QString shortKey(const std::string& key) {
  const size_t dot = key.rfind('.');
  return toQ(dot == std::string::npos ? key : key.substr(dot + 1));
}

}  // namespace

void drawMetricByAxes(QCustomPlot& plot, const AxisGrouping& grouping, const MetricInfo& metric) {
  QString title = toQ(metric.label) + " by " + toQ(grouping.x_axis);
  if (!grouping.series_axis.empty()) title += " and " + toQ(grouping.series_axis);
  if (!grouping.spread_over.empty()) {
    QStringList over;
    for (const auto& key : grouping.spread_over) over << toQ(key);
    title += QStringLiteral("  (mean ± s.d. over %1)").arg(over.join(", "));
  }
  resetPlot(plot, title);
  if (grouping.groups.empty()) {
    noData(plot, QStringLiteral("No completed run has %1 yet").arg(toQ(metric.label)));
    return;
  }
  plot.xAxis->setLabel(toQ(grouping.x_axis));
  plot.yAxis->setLabel(toQ(metricAxisLabel(metric)));
  bool x_log = false;
  if (grouping.x_numeric) {
    const double low = std::numeric_limits<double>::infinity();
    double lo = low, hi = -low;
    for (const auto& group : grouping.groups) lo = std::min(lo, group.x), hi = std::max(hi, group.x);
    x_log = lo > 0 && hi / lo > 20.0;
    if (x_log) logAxis(plot.xAxis);
    if (hi > lo)
      x_log ? plot.xAxis->setRange(lo / std::pow(hi / lo, 0.06), hi * std::pow(hi / lo, 0.06))
            : plot.xAxis->setRange(lo - (hi - lo) * 0.06, hi + (hi - lo) * 0.06);
    else
      plot.xAxis->setRange(lo - std::max(std::abs(lo) * 0.1, 0.5), hi + std::max(std::abs(hi) * 0.1, 0.5));
  } else {
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (size_t i = 0; i < grouping.x_values.size(); ++i) ticker->addTick(static_cast<double>(i), toQ(grouping.x_values[i]));
    plot.xAxis->setTicker(ticker);
    plot.xAxis->setRange(-0.5, grouping.x_values.size() - 0.5);
  }
  double y_low = std::numeric_limits<double>::infinity(), y_high = -y_low;
  for (size_t s = 0; s < grouping.series_values.size(); ++s) {
    QVector<double> xs, ys, errors;
    int runs = 0;
    for (const auto& group : grouping.groups) {
      if (group.series_value != grouping.series_values[s]) continue;
      xs << group.x;
      ys << displayValue(metric, group.mean);
      errors << displayValue(metric, group.spread);
      runs += group.runs;
      y_low = std::min(y_low, displayValue(metric, group.mean - group.spread));
      y_high = std::max(y_high, displayValue(metric, group.mean + group.spread));
    }
    if (xs.isEmpty()) continue;
    const QColor color = runColor(static_cast<int>(s));
    auto* graph = plot.addGraph();
    graph->setData(xs, ys, /*alreadySorted=*/true);
    graph->setPen(QPen(color, 2.0));
    graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, color, 7));
    graph->setName(grouping.series_axis.empty()
                       ? QStringLiteral("%1 runs").arg(runs)
                       : QStringLiteral("%1 = %2 (%3 runs)").arg(shortKey(grouping.series_axis), toQ(grouping.series_values[s])).arg(runs));
    graph->addToLegend();
    auto* bars = new QCPErrorBars(plot.xAxis, plot.yAxis);
    bars->setDataPlottable(graph);
    bars->setData(errors);
    bars->setPen(QPen(color, 1.4));
    bars->setWhiskerWidth(8);
  }
  fitY(plot.yAxis, y_low, y_high);
  plot.legend->setVisible(grouping.series_values.size() > 1 || !grouping.spread_over.empty());
  plot.replot();
}

void drawParallelCoordinates(QCustomPlot& plot, const ParallelCoordinates& chart, const MetricInfo& metric) {
  resetPlot(plot, QStringLiteral("Parallel coordinates: the axes against %1").arg(toQ(metric.label)));
  plot.legend->setVisible(false);
  if (chart.lines.empty()) {
    noData(plot, QStringLiteral("No completed run has %1 yet").arg(toQ(metric.label)));
    return;
  }
  const int axes = static_cast<int>(chart.axes.size());
  // The vertical axes are the X grid at 0..axes-1, labelled under the plot.
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  for (int a = 0; a < axes; ++a)
    ticker->addTick(a, a + 1 == axes ? toQ(metric.short_label.empty() ? metric.label : metric.short_label)
                                     : shortKey(chart.axes[a].key));
  plot.xAxis->setTicker(ticker);
  plot.xAxis->grid()->setPen(QPen(QColor(0x60, 0x60, 0x60), 1.2));
  plot.xAxis->setRange(-0.15, axes - 1 + 0.45);
  plot.yAxis->setRange(-0.08, 1.08);
  plot.yAxis->setTickLabels(false);
  plot.yAxis->grid()->setVisible(false);
  plot.yAxis->setLabel(QStringLiteral("each axis from its lowest to its highest value"));
  const ParallelAxis& metric_axis = chart.axes.back();
  // Worst first, so the best runs are drawn on top.
  std::vector<const ParallelCoordinates::Line*> order;
  for (const auto& line : chart.lines) order.push_back(&line);
  std::stable_sort(order.begin(), order.end(), [&](const auto* a, const auto* b) {
    return metric.higher_is_better ? a->metric < b->metric : a->metric > b->metric;
  });
  for (const auto* line : order) {
    const double t = metric_axis.position(line->metric);
    auto* curve = new QCPCurve(plot.xAxis, plot.yAxis);
    QVector<double> xs, ys;
    for (int a = 0; a < axes; ++a) xs << a, ys << line->y[a];
    curve->setData(xs, ys);
    QColor color = viridis(metric.higher_is_better ? t : 1.0 - t);
    color.setAlphaF(0.85);
    curve->setPen(QPen(color, 1.8));
    curve->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, color, color, 4));
  }
  // Each axis's values beside it: every category, or its lowest and highest number.
  QFont small = plot.font();
  small.setPointSizeF(std::max(6.0, small.pointSizeF() - 1.0));
  const auto label = [&](double x, double y, const QString& text) {
    auto* item = new QCPItemText(&plot);
    item->position->setType(QCPItemPosition::ptPlotCoords);
    item->position->setCoords(x, y);
    item->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
    item->setPadding(QMargins(4, 0, 0, 0));
    item->setFont(small);
    item->setColor(QColor(0x30, 0x30, 0x30));
    item->setBrush(QBrush(QColor(255, 255, 255, 200)));
    item->setText(text);
  };
  for (int a = 0; a < axes; ++a) {
    const ParallelAxis& axis = chart.axes[a];
    const bool is_metric = a + 1 == axes;
    const auto shown = [&](double v) { return valueText(is_metric ? displayValue(metric, v) : v); };
    if (axis.numeric) {
      label(a, 0.0, shown(axis.low));
      if (axis.high > axis.low) label(a, 1.0, shown(axis.high) + (axis.log ? QStringLiteral("  (log)") : QString()));
    } else {
      for (const auto& category : axis.categories) label(a, axis.position(category), toQ(category));
    }
  }
  plot.replot();
}

void drawPareto(QCustomPlot& plot, const std::vector<ParetoPoint>& quality, const MetricInfo& quality_metric,
                const std::vector<ParetoPoint>& agreement, const MetricInfo& agreement_metric) {
  resetPlot(plot, QStringLiteral("Student size against %1 and %2").arg(toQ(quality_metric.label), toQ(agreement_metric.label)));
  if (quality.empty() && agreement.empty()) {
    noData(plot, QStringLiteral("No completed run with a known student size yet"));
    return;
  }
  // The legend in a row under the axes: the two sets fill the plot's upper and lower halves.
  if (plot.axisRect()->insetLayout()->take(plot.legend)) {
    plot.axisRect()->insetLayout()->simplify();
    const int row = plot.plotLayout()->rowCount();
    plot.plotLayout()->addElement(row, 0, plot.legend);
    plot.plotLayout()->setRowStretchFactor(row, 0.001);
    plot.legend->setFillOrder(QCPLegend::foColumnsFirst);
    plot.legend->setWrap(2);
    plot.legend->setBorderPen(Qt::NoPen);
  }
  plot.xAxis->setLabel(QStringLiteral("student parameters"));
  plot.yAxis->setLabel(toQ(metricAxisLabel(quality_metric)));
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* points : {&quality, &agreement})
    for (const auto& p : *points) lo = std::min(lo, p.parameters), hi = std::max(hi, p.parameters);
  logAxis(plot.xAxis);
  const double span = hi > lo ? std::pow(hi / lo, 0.08) : 1.6;
  plot.xAxis->setRange(lo / span, hi * span);

  const bool both = !quality.empty() && !agreement.empty();
  const auto drawSet = [&](const std::vector<ParetoPoint>& points, const MetricInfo& metric, QCPAxis* y, const QColor& color,
                           QCPScatterStyle::ScatterShape shape, Band band) {
    if (points.empty()) return;
    QVector<double> xs, ys, front_x, front_y;
    double low = std::numeric_limits<double>::infinity(), high = -low;
    for (const auto& p : points) {
      const double v = displayValue(metric, p.value);
      xs << p.parameters;
      ys << v;
      low = std::min(low, v), high = std::max(high, v);
      if (p.on_front) front_x << p.parameters, front_y << v;
    }
    auto* runs = new QCPGraph(plot.xAxis, y);
    runs->setData(xs, ys);
    runs->setLineStyle(QCPGraph::lsNone);
    QColor faint = color;
    faint.setAlphaF(0.55);
    runs->setScatterStyle(QCPScatterStyle(shape, faint, Qt::white, 8));
    runs->setName(toQ(metric.short_label.empty() ? metric.label : metric.short_label) + QStringLiteral(", each run"));
    runs->addToLegend();
    auto* front = new QCPGraph(plot.xAxis, y);
    front->setData(front_x, front_y);
    front->setLineStyle(QCPGraph::lsStepLeft);
    front->setPen(QPen(color, 2.0));
    front->setScatterStyle(QCPScatterStyle(shape, color, color, 8));
    front->setName(toQ(metric.short_label.empty() ? metric.label : metric.short_label) + QStringLiteral(", Pareto front"));
    front->addToLegend();
    fitY(y, low, high, both ? band : Band::Whole);
    y->setLabel(toQ(metricAxisLabel(metric)));
  };
  drawSet(quality, quality_metric, plot.yAxis, studentColor(), QCPScatterStyle::ssCircle, Band::Upper);
  if (!agreement.empty()) {
    plot.yAxis2->setVisible(true);
    plot.yAxis2->setTickLabels(true);
    drawSet(agreement, agreement_metric, plot.yAxis2, QColor(0x88, 0x44, 0xaa), QCPScatterStyle::ssSquare, Band::Lower);
  }
  plot.replot();
}

void writeChart(QCustomPlot& plot, const QString& path) { savePlot(&plot, path, QSize(900, 540)); }

}  // namespace distill::ui
