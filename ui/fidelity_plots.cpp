#include "ui/fidelity_plots.h"

#include <QBuffer>
#include <QFile>
#include <QFileInfo>
#include <QSvgGenerator>

#include <qcustomplot.h>

#include "core/fidelity/fidelity_report.h"
#include "ui/figure.h"
#include "ui/metric_charts.h"

namespace distill::ui {

namespace {

void styleAxes(QCustomPlot* plot) {
  for (QCPAxis* axis : {plot->xAxis, plot->yAxis, plot->yAxis2}) {
    axis->grid()->setPen(QPen(QColor(0, 0, 0, 28), 1, Qt::DotLine));
    axis->setBasePen(QPen(QColor(90, 90, 90)));
    axis->setTickPen(QPen(QColor(90, 90, 90)));
    axis->setSubTickPen(QPen(QColor(120, 120, 120)));
    QFont font = axis->tickLabelFont();
    font.setPointSizeF(8.0);
    axis->setTickLabelFont(font);
  }
}

// The plot's size for an export: its on-screen size, or `fallback` (a paper-like size) when it
// was never laid out (a plot built off screen).
QSize exportSize(const QCustomPlot* plot, QSize fallback) {
  return plot->width() >= 100 && plot->height() >= 80 ? plot->size() : fallback;
}

}  // namespace

QString plotTitle(const QCustomPlot* plot) {
  if (plot->plotLayout()->rowCount() < 2) return QString();
  auto* text = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0));
  if (!text) return QString();
  const QString full = text->property("fullTitle").toString();
  return full.isEmpty() ? text->text() : full;
}

// A chart's title on one line where the plot is wide enough, else broken after its first
// ": " (the subject, then the details): QCustomPlot centres a title wider than its plot and
// cuts both ends ("ent matrix: counts and row % (agreement" at 1280x720).
void fitPlotTitle(QCustomPlot* plot) {
  auto* text = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0));
  if (!text) return;
  const QString full = text->property("fullTitle").toString();
  const int room = plot->width() - text->margins().left() - text->margins().right() - 4;
  const int colon = full.indexOf(QStringLiteral(": "));
  const bool fits = QFontMetrics(text->font()).horizontalAdvance(full) <= room;
  const QString shown = fits || colon < 0 ? full : full.left(colon + 1) + '\n' + full.mid(colon + 2);
  if (text->text() != shown) {
    text->setText(shown);
    plot->replot(QCustomPlot::rpQueuedReplot);
  }
}

void setPlotTitle(QCustomPlot* plot, const QString& title) {
  if (auto* text = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0))) {
    text->setProperty("fullTitle", title);
    fitPlotTitle(plot);
  }
}

QCustomPlot* makeFidelityPlot(const QString& title, const QString& object_name) {
  auto* plot = new QCustomPlot;
  plot->setObjectName(object_name);
  plot->setMinimumSize(260, 200);
  plot->plotLayout()->insertRow(0);
  auto* text = new QCPTextElement(plot, title, QFont(plot->font().family(), 10, QFont::Bold));
  text->setObjectName(QStringLiteral("title"));
  plot->plotLayout()->addElement(0, 0, text);
  setPlotTitle(plot, title);
  styleAxes(plot);
  return plot;
}

void legendBelow(QCustomPlot* plot) {
  if (plot->plotLayout()->rowCount() < 3) {
    plot->plotLayout()->addElement(2, 0, plot->legend);
    plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    plot->legend->setBorderPen(Qt::NoPen);
    plot->legend->setFont(QFont(plot->font().family(), 8));
    plot->legend->setMargins(QMargins(2, 0, 2, 0));
    plot->plotLayout()->setRowStretchFactor(2, 0.001);
  }
  plot->legend->setVisible(true);
}

QByteArray plotSvg(QCustomPlot* plot, QSize fallback) {
  const QSize size = exportSize(plot, fallback);
  QBuffer buffer;
  buffer.open(QIODevice::WriteOnly);
  QSvgGenerator generator;
  generator.setOutputDevice(&buffer);
  generator.setSize(size);
  generator.setViewBox(QRect(QPoint(0, 0), size));
  generator.setTitle(plotTitle(plot));
  generator.setDescription(QStringLiteral("Distill Workbench figure"));
  QCPPainter painter;
  if (!painter.begin(&generator)) throw ExportError("cannot start the SVG painter");
  plot->toPainter(&painter, size.width(), size.height());
  painter.end();
  return buffer.data();
}

void savePlot(QCustomPlot* plot, const QString& path, QSize fallback) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  const QSize size = exportSize(plot, fallback);
  bool written = false;
  if (suffix == QLatin1String("png")) {
    written = plot->savePng(path, size.width(), size.height(), /*scale=*/2.0);
  } else if (suffix == QLatin1String("pdf")) {
    written = plot->savePdf(path, size.width(), size.height(), QCP::epNoCosmetic, QStringLiteral("Distill Workbench"),
                            plotTitle(plot));
  } else if (suffix == QLatin1String("svg")) {
    const QByteArray svg = plotSvg(plot, fallback);
    QFile file(path);
    written = file.open(QIODevice::WriteOnly) && file.write(svg) == svg.size();
  } else {
    throw ExportError("'" + path.toStdString() + "': expected a file name ending in .png, .pdf or .svg");
  }
  if (!written) throw ExportError("cannot write '" + path.toStdString() + "'");
}

void drawReliabilityDiagram(QCustomPlot* plot, const Calibration& teacher, const Calibration& student,
                            const QString& x_label, const QString& y_label, const QString& title) {
  auto* diagonal = plot->addGraph();
  diagonal->setName(QObject::tr("perfect calibration"));
  diagonal->setPen(QPen(QColor(120, 120, 120), 1.2, Qt::DashLine));
  diagonal->setData({0.0, 1.0}, {0.0, 1.0});
  struct Model {
    QString name;
    const Calibration* calibration;
    QColor color;
  };
  for (const Model& model : {Model{QObject::tr("teacher"), &teacher, kTeacherColor},
                             Model{QObject::tr("student"), &student, kStudentColor}}) {
    auto* graph = plot->addGraph();
    graph->setName(QObject::tr("%1 (ECE %2)").arg(model.name).arg(model.calibration->ece, 0, 'f', 4));
    graph->setPen(QPen(model.color, 2.0));
    graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, model.color, model.color, 6));
    for (const auto& bin : model.calibration->bins)
      if (bin.count > 0) graph->addData(bin.mean_confidence, bin.accuracy);
  }
  plot->xAxis->setLabel(x_label);
  plot->yAxis->setLabel(y_label);
  plot->xAxis->setRange(0.0, 1.0);
  plot->yAxis->setRange(0.0, 1.02);
  plot->legend->setVisible(true);
  plot->legend->setFont(QFont(plot->font().family(), 8));
  plot->legend->setBrush(QColor(255, 255, 255, 215));
  plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  setPlotTitle(plot, title);
  plot->replot();
}

}  // namespace distill::ui
