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

#include <stdexcept>
#include <vector>

class QCustomPlot;

namespace distill::ui {

// The colour of the run at `index` in a comparison: Tableau 10, then golden-angle hues, so
// 50 runs stay distinguishable and the first ten look familiar.
QColor runColor(int index);

struct FigureCurve {
  QString label;  // legend text (the run's "#id name")
  QColor color;
  std::vector<double> x, y;  // the full data, x ascending
};

struct FigureData {
  QString title;
  QString x_label;
  QString y_label;
  std::vector<FigureCurve> curves;
  bool x_is_wall_time = false;  // x in Unix seconds, drawn as dates and times
  bool log_y = false;
  double smoothing = 0.0;  // TensorBoard EMA weight in [0, 1); 0 draws the raw curves only
};

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

// Writes the figure with every point, in paper style. Throws ExportError.
void exportFigure(const FigureData& figure, const QString& path, const ExportOptions& options);
// The figure as an image of the options' pixel size (clipboard, previews).
QImage renderFigureImage(const FigureData& figure, const ExportOptions& options);
// The figure as an SVG document (for the HTML report).
QByteArray renderFigureSvg(const FigureData& figure, const ExportOptions& options);
FigureFormat figureFormatFromSuffix(const QString& path, FigureFormat fallback);

}  // namespace distill::ui
