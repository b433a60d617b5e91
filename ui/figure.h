// Figures of metric curves, as the compare view draws them and as they are exported: one
// colour per run (by its position in the comparison, so a run keeps its colour on every
// chart), optional TensorBoard smoothing with the raw curve faint behind, log Y, a date-time
// X axis for wall time. Export to PNG (pixel size and DPI), PDF and SVG (vector), sized and
// lettered for a paper figure.
//
// This file is part of distill_figures, which links Qt, QCustomPlot and the core's plain
// smoothing helpers but no window code, so
// the CLI can render charts on the offscreen platform.
// Thread contract: GUI thread only (QCustomPlot is a QWidget); a QApplication must exist.
#pragma once

#include <QColor>
#include <QImage>
#include <QString>

#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

class QCustomPlot;

namespace distill::ui {

// The colour of the run at `index` in a comparison (core/metrics/metric_info.h: Okabe-Ito,
// then golden-angle hues), and its line style, so that runs differ in greyscale print too.
QColor runColor(int index);
Qt::PenStyle runPenStyle(int index);
QColor teacherColor();  // orange, in every chart
QColor studentColor();  // blue

struct FigureCurve {
  QString label;  // legend text (the run's "#id name")
  QColor color;
  std::vector<double> x, y;  // the full data, x ascending
  Qt::PenStyle pen_style = Qt::SolidLine;
};

enum class FigureX { Step, Epoch, RelativeTime, WallTime };

// Below this many points a curve is drawn raw even when smoothing is on: an EMA over a few
// evaluations only drags the line towards its start. The legend says so.
inline constexpr size_t kMinPointsToSmooth = 10;

struct FigureData {
  QString title;
  QString x_label;
  QString y_label;
  std::vector<FigureCurve> curves;
  bool x_is_wall_time = false;  // x in Unix seconds, drawn as times of day (date in the label)
  bool x_is_duration = false;   // x in seconds since the start, ticks in s, min or h by span
  bool log_y = false;
  double smoothing = 0.0;  // TensorBoard EMA weight in [0, 1); 0 draws the raw curves only
  // The metric's bounds in stored units (NaN: none): the Y range is padded around the data
  // but never past them. y_scale multiplies every value drawn (100 for a percent metric).
  double y_lower = std::numeric_limits<double>::quiet_NaN();
  double y_upper = std::numeric_limits<double>::quiet_NaN();
  double y_scale = 1.0;
};

// An empty figure of one metric, titled and labelled from the metric table (its human label
// and unit, its bounds, percent or not) with the X axis of `x`. The compare view and the
// CLI's export both start from it, so their figures are the same.
FigureData metricFigure(const std::string& metric, FigureX x);

// The Y range a figure's data gets: the data's extent padded by 6% (a flat series by a
// little around its value), clamped to the bounds, in drawn units (after y_scale).
// {NaN, NaN} without finite data.
std::pair<double, double> paddedYRange(const FigureData& figure);

// Fills `plot` with the figure. `decimation_width` > 0 draws each curve min/max-decimated to
// that many buckets over the current x range (the screen); 0 draws every point (exports).
void populatePlot(QCustomPlot& plot, const FigureData& figure, int decimation_width);

// Rebuilds the graph data of a populated plot for its current x range (after pan or zoom).
void redecimate(QCustomPlot& plot, const FigureData& figure, int decimation_width);

enum class FigureFormat { Png, Pdf, Svg };

struct ExportOptions {
  FigureFormat format = FigureFormat::Pdf;
  double width_in = 6.0;  // a figure across a single-column page, 9-10 pt type
  double height_in = 3.6;
  int dpi = 300;           // PNG only
  int width_px = 0;        // PNG only: when set, the exact pixel size (width_in follows from dpi)
  int height_px = 0;
};

class ExportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The plot a PNG or SVG export draws, laid out at the options' logical size (96 dpi), for
// tests and previews. Throws ExportError.
std::unique_ptr<QCustomPlot> exportPlot(const FigureData& figure, const ExportOptions& options);
// Writes the figure with every point, in paper style. Throws ExportError.
void exportFigure(const FigureData& figure, const QString& path, const ExportOptions& options);
// The figure as an image of the options' pixel size (clipboard, previews).
QImage renderFigureImage(const FigureData& figure, const ExportOptions& options);
// The figure as an SVG document (for the HTML report).
QByteArray renderFigureSvg(const FigureData& figure, const ExportOptions& options);
FigureFormat figureFormatFromSuffix(const QString& path, FigureFormat fallback);

}  // namespace distill::ui
