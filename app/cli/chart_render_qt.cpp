// The GUI build: charts drawn by distill_figures (QCustomPlot) on Qt's offscreen platform.
#include <QApplication>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "app/cli/chart_render.h"
#include "core/metrics/metric_info.h"
#include "ui/figure.h"

namespace distill::cli {
namespace {

// QCustomPlot is a QWidget, so a QApplication is needed; created on first use only, so the
// text commands never touch Qt. Offscreen unless the user chose a platform: the CLI must work
// over ssh and in CI, where there is no display.
// Qt's note about a missing XDG_RUNTIME_DIR is noise on a terminal; everything else is shown.
void quietHandler(QtMsgType type, const QMessageLogContext&, const QString& message) {
  if (message.startsWith(QLatin1String("QStandardPaths:"))) return;
  if (type != QtDebugMsg) std::fprintf(stderr, "%s\n", qPrintable(message));
}

void ensureApplication() {
  if (QApplication::instance()) return;
  qInstallMessageHandler(quietHandler);
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  static int argc = 1;
  static char name[] = "distill";
  static char* argv[] = {name, nullptr};
  static std::unique_ptr<QApplication> app = std::make_unique<QApplication>(argc, argv);
}

ui::FigureX figureX(const std::string& name) {
  if (name == "epoch") return ui::FigureX::Epoch;
  if (name == "relative") return ui::FigureX::RelativeTime;
  if (name == "wall") return ui::FigureX::WallTime;
  return ui::FigureX::Step;
}

// The same figure the compare view draws: metricFigure() for titles, units and bounds,
// runColor() and runPenStyle() for the curves.
ui::FigureData figureFor(const ChartRequest& request) {
  ui::FigureData figure;
  if (!request.metric.empty()) {
    figure = ui::metricFigure(request.metric, figureX(request.x_axis));
    if (request.x_axis == "tokens") figure.x_label = QStringLiteral("Tokens seen");  // steps scaled per run
    if (!request.title.empty()) figure.title = QString::fromStdString(request.title);  // --title
  } else {
    figure.title = QString::fromStdString(request.title);
    figure.x_label = QString::fromStdString(request.x_label);
    figure.y_label = QString::fromStdString(request.y_label);
    figure.x_is_wall_time = request.x_is_wall_time;
  }
  figure.log_y = request.log_y;
  figure.smoothing = request.smoothing;
  int index = 0;
  for (const auto& curve : request.curves) {
    figure.curves.push_back({QString::fromStdString(curve.label), ui::runColor(index), curve.x, curve.y,
                             ui::runPenStyle(index)});
    ++index;
  }
  return figure;
}

ui::ExportOptions optionsFor(const ChartRequest& request) {
  ui::ExportOptions options;
  options.format = request.format == "png"   ? ui::FigureFormat::Png
                   : request.format == "svg" ? ui::FigureFormat::Svg
                                             : ui::FigureFormat::Pdf;
  options.width_in = request.width_in;
  options.height_in = request.height_in;
  options.dpi = request.dpi;
  options.width_px = request.width_px;
  options.height_px = request.height_px;
  return options;
}

}  // namespace

bool chartsAvailable() { return true; }

std::string chartColorHex(size_t index) { return runColorHex(index); }

void writeChart(const ChartRequest& request, const std::string& path) {
  ensureApplication();
  try {
    ui::exportFigure(figureFor(request), QString::fromStdString(path), optionsFor(request));
  } catch (const ui::ExportError& e) {
    throw std::runtime_error(e.what());
  }
}

std::string chartSvg(const ChartRequest& request) {
  ensureApplication();
  ChartRequest svg = request;
  svg.format = "svg";
  return ui::renderFigureSvg(figureFor(svg), optionsFor(svg)).toStdString();
}

}  // namespace distill::cli
