// The Fidelity page's chart style, shared by the image charts (fidelity_view.cpp) and the
// language-model charts (lm_fidelity_panel.cpp): a bold title row that breaks after its first
// ": " where the plot is too narrow, quiet dotted grids, a legend in a row under the axes;
// and a chart written as PNG, PDF or SVG at its on-screen size (by the file's suffix).
//
// Thread contract: GUI thread only (QCustomPlot is a QWidget).
#pragma once

#include <QSize>
#include <QString>

class QCustomPlot;

namespace distill {
struct Calibration;
}

namespace distill::ui {

// A plot with a title row; `object_name` names it for tests.
QCustomPlot* makeFidelityPlot(const QString& title, const QString& object_name);
// Sets the title (kept whole in a property; shown on two lines where it does not fit).
void setPlotTitle(QCustomPlot* plot, const QString& title);
// The plot's title row's text, whole; empty without a title row.
QString plotTitle(const QCustomPlot* plot);
// Re-fits the title to the plot's width (call on resize).
void fitPlotTitle(QCustomPlot* plot);
// The legend in a row of its own under the axes, so it never hides a bar.
void legendBelow(QCustomPlot* plot);
// A reliability diagram: the diagonal of perfect calibration and each model's accuracy against
// its confidence per non-empty bin (teacher orange, student blue, their ECE in the legend), axes
// 0..1 with `x_label` and `y_label`, the legend inside at the top left, titled `title`; replots.
void drawReliabilityDiagram(QCustomPlot* plot, const Calibration& teacher, const Calibration& student,
                            const QString& x_label, const QString& y_label, const QString& title);
// Writes `plot` at its current size (`fallback` when it is smaller than 100 x 80: never laid
// out) to `path`: .png (at twice the screen's pixels), .pdf or .svg, the PDF and SVG titled by
// the plot's title row. Throws ExportError (ui/figure.h) naming the path when it cannot be
// written or the suffix is none of the three. Shared by the Fidelity and Sweeps pages.
void savePlot(QCustomPlot* plot, const QString& path, QSize fallback = QSize(600, 400));
// The plot as an SVG document at its current size (for the HTML report).
QByteArray plotSvg(QCustomPlot* plot, QSize fallback = QSize(600, 400));

}  // namespace distill::ui
