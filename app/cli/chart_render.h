// Chart files from the CLI, behind a Qt-free interface: in the GUI build this renders with
// QCustomPlot on Qt's offscreen platform (chart_render_qt.cpp, the same code the compare view
// exports with); in the Qt-free build (DISTILL_BUILD_GUI=OFF) chartsAvailable() is false and
// the CLI says that chart formats need the GUI build (chart_render_none.cpp).
//
// Thread contract: main thread only (Qt's application object lives there).
#pragma once

#include <string>
#include <vector>

namespace distill::cli {

struct ChartCurve {
  std::string label;
  std::vector<double> x, y;  // x ascending
};

struct ChartRequest {
  // When set, the title, axis labels, units and Y bounds come from the metric table
  // (core/metrics/metric_info.h) exactly as the window's compare view draws them, and
  // x_label/y_label are ignored; a title replaces the metric's label (export --title).
  std::string metric;
  std::string x_axis = "step";  // step, epoch, relative, wall, tokens (with `metric`)
  std::string title, x_label, y_label;
  std::vector<ChartCurve> curves;  // curve i gets the compare view's colour and line style of run i
  bool x_is_wall_time = false;
  bool log_y = false;
  double smoothing = 0.0;
  std::string format = "pdf";  // png, pdf, svg
  double width_in = 6.0, height_in = 3.6;
  int dpi = 300;
  int width_px = 0, height_px = 0;  // png: exact size when set
};

bool chartsAvailable();
// "#0072b2": the colour of run i in charts (runColorHex(), also without charts).
std::string chartColorHex(size_t index);
// Throws std::runtime_error.
void writeChart(const ChartRequest& request, const std::string& path);
// An SVG document (for the HTML report). Throws std::runtime_error.
std::string chartSvg(const ChartRequest& request);

}  // namespace distill::cli
