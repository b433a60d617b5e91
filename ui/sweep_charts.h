// The Sweeps page's charts, drawn into a QCustomPlot from core/sweep/sweep_results.h's
// reductions, and written to PNG, PDF or SVG:
//   - a final metric against one axis (X), one line per value of a second axis, each point the
//     mean over the runs that differ only in the other axes (the seeds) with error bars of one
//     standard deviation;
//   - parallel coordinates: one vertical axis per sweep axis, then the metric; one curve per
//     completed run through its normalised values (QCustomPlot has no such plot type: a QCPCurve
//     per run over positions in [0, 1], axes drawn as the X grid), coloured by the metric;
//   - the Pareto chart: the student's size (parameters, log scale) against its quality
//     (accuracy, or perplexity) on the left axis and its agreement with the teacher on the
//     right, each front drawn as a step line through the runs no smaller run beats.
//
// Thread contract: GUI thread only (QCustomPlot is a QWidget).
#pragma once

#include <QString>

#include <vector>

#include "core/metrics/metric_info.h"
#include "core/sweep/sweep_results.h"

class QCustomPlot;

namespace distill::ui {

// Each clears the plot and draws the chart with its title; an empty reduction draws the title
// and a line saying why there is nothing to draw.
void drawMetricByAxes(QCustomPlot& plot, const AxisGrouping& grouping, const MetricInfo& metric);
void drawParallelCoordinates(QCustomPlot& plot, const ParallelCoordinates& chart, const MetricInfo& metric);
void drawPareto(QCustomPlot& plot, const std::vector<ParetoPoint>& quality, const MetricInfo& quality_metric,
                const std::vector<ParetoPoint>& agreement, const MetricInfo& agreement_metric);

// Writes the chart by the file's suffix: .png (twice the on-screen pixels), .pdf or .svg (vector),
// at its on-screen size (900 x 540 when it has none yet): ui/fidelity_plots.h's savePlot. Throws
// ExportError (ui/figure.h) naming the path.
void writeChart(QCustomPlot& plot, const QString& path);

}  // namespace distill::ui
