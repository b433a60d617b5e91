#include "ui/compare_view.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QContextMenuEvent>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QScrollArea>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QTextStream>
#include <QVBoxLayout>

#include <fmt/format.h>

#include "ui/desktop_integration.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/metrics/metric_info.h"
#include "core/metrics/smoothing.h"
#include "core/store/compared_metrics.h"
#include "core/tasks/lm/lm_tokens.h"
#include "core/tasks/task_catalog.h"

namespace distill::ui {
namespace {

QString toQ(const std::string& text) { return QString::fromStdString(text); }

// Decimation buckets per chart: one per horizontal pixel of the axis rectangle.
int bucketsFor(const QCustomPlot& plot) { return std::max(100, plot.axisRect()->width()); }

}  // namespace

// ---- CompareChart ------------------------------------------------------------------------

CompareChart::CompareChart(QWidget* parent) : QCustomPlot(parent) {
  setMinimumHeight(260);
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  setNoAntialiasingOnDrag(true);
  // Lines as separate segments: a polyline of thousands of min/max spikes makes Qt's stroker
  // build one huge self-overlapping path; segments rasterize quickly (see tests/benchmarks).
  setPlottingHint(QCP::phFastPolylines, true);
  legend->setVisible(true);
  QFont small = font();
  small.setPointSizeF(8.5);
  legend->setFont(small);
  legend->setBrush(QColor(255, 255, 255, 210));
  redecimate_.setSingleShot(true);
  redecimate_.setInterval(30);
  connect(&redecimate_, &QTimer::timeout, this, [this] {
    decimated_buckets_ = bucketsFor(*this);
    redecimate(*this, figure_, decimated_buckets_);
    replot(QCustomPlot::rpQueuedReplot);
  });
  connect(xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] { redecimate_.start(); });
  connect(this, &QCustomPlot::beforeReplot, this, &CompareChart::decimateForCurrentWidth);
  followPalette(this);  // light or dark, as the desktop is
}

void CompareChart::setFigure(FigureData figure) {
  figure_ = std::move(figure);
  // In a window on screen, a new chart gets its curves when the layout has sized it
  // (resizeEvent): until then a replot (QCustomPlot queues one on construction) draws an
  // empty plot, not 20 curves decimated for a width the chart will not keep.
  if (!sized_ && window()->isVisible()) return;
  const QSignalBlocker blocker(xAxis);  // populatePlot rescales; one decimation follows
  decimated_buckets_ = bucketsFor(*this);
  populatePlot(*this, figure_, decimated_buckets_);
  applyChartPalette(*this, palette());  // the title is new
  replot(QCustomPlot::rpQueuedReplot);
}

int CompareChart::drawnPointCount() const {
  int count = 0;
  for (int i = 0; i < graphCount(); ++i) count += graph(i)->dataCount();
  return count;
}

void CompareChart::mouseDoubleClickEvent(QMouseEvent* event) {
  rescaleAxes();
  redecimate_.start();
  replot(QCustomPlot::rpQueuedReplot);
  QCustomPlot::mouseDoubleClickEvent(event);
}

void CompareChart::contextMenuEvent(QContextMenuEvent* event) {
  QMenu menu(this);
  menu.addAction(tr("Export chart…"), this, [this] { emit exportRequested(this); });
  menu.addAction(tr("Copy chart as image"), this, [this] { emit copyRequested(this); });
  menu.addAction(tr("Reset zoom"), this, [this] {
    rescaleAxes();
    redecimate_.start();
  });
  menu.exec(event->globalPos());
}

void CompareChart::resizeEvent(QResizeEvent* event) {
  // Not QCustomPlot::resizeEvent: it replots at once on every resize, and a comparison's
  // layout resizes each chart several times before it settles (62 full replots of 11 charts
  // in the compare benchmark). A queued replot draws each chart once, at its final size;
  // beforeReplot re-decimates it for that width.
  Q_UNUSED(event);
  if (!sized_) {
    sized_ = true;
    setFigure(std::move(figure_));
  }
  setViewport(rect());
  replot(QCustomPlot::rpQueuedReplot);
}

void CompareChart::decimateForCurrentWidth() {
  updateLayout();  // the axis rectangle's width for the current size
  const int buckets = bucketsFor(*this);
  if (buckets == decimated_buckets_) return;
  decimated_buckets_ = buckets;
  const QSignalBlocker blocker(xAxis);
  redecimate(*this, figure_, buckets);
}

// ---- CompareView -------------------------------------------------------------------------

CompareView::CompareView(QWidget* parent) : QWidget(parent) {
  message_ = new QLabel(tr("Select 2 to 50 runs in the run browser and press Compare."));
  message_->setObjectName(QStringLiteral("compareMessage"));

  smoothing_slider_ = new QSlider(Qt::Horizontal);
  smoothing_slider_->setObjectName(QStringLiteral("smoothing"));
  smoothing_slider_->setRange(0, 99);
  smoothing_slider_->setMaximumWidth(180);
  smoothing_slider_->setToolTip(tr("TensorBoard smoothing: debiased exponential moving average weight"));
  smoothing_label_ = new QLabel(QStringLiteral("0.00"));
  connect(smoothing_slider_, &QSlider::valueChanged, this, [this](int v) { setSmoothing(v / 100.0); });

  // Each item holds its XAxis; "Tokens" is there only while every run has tokens (offerXAxes()).
  x_axis_box_ = new QComboBox;
  x_axis_box_->setObjectName(QStringLiteral("compareXAxis"));
  x_axis_box_->addItem(tr("Step"), static_cast<int>(XAxis::Step));
  x_axis_box_->addItem(tr("Epoch"), static_cast<int>(XAxis::Epoch));
  x_axis_box_->addItem(tr("Relative time"), static_cast<int>(XAxis::RelativeTime));
  x_axis_box_->addItem(tr("Wall time"), static_cast<int>(XAxis::WallTime));
  connect(x_axis_box_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
    if (i >= 0) setXAxis(static_cast<XAxis>(x_axis_box_->itemData(i).toInt()));
  });
  log_y_box_ = new QCheckBox(tr("Log Y"));
  connect(log_y_box_, &QCheckBox::toggled, this, &CompareView::setLogY);
  auto* export_data = new QPushButton(tr("Export data…"));
  export_data->setToolTip(tr("Every point of the compared runs as CSV (long format) or JSON"));
  connect(export_data, &QPushButton::clicked, this, &CompareView::exportDataInteractive);

  // The message on a row of its own, wrapped: beside the controls it was cut at laptop widths.
  message_->setWordWrap(true);
  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Smoothing")));
  controls->addWidget(smoothing_slider_);
  controls->addWidget(smoothing_label_);
  controls->addSpacing(12);
  controls->addWidget(new QLabel(tr("X")));
  controls->addWidget(x_axis_box_);
  controls->addWidget(log_y_box_);
  controls->addStretch(1);
  controls->addWidget(export_data);

  chart_area_ = new QWidget;
  chart_grid_ = new QGridLayout(chart_area_);
  chart_grid_->setContentsMargins(0, 0, 0, 0);
  auto* scroll = new QScrollArea;
  scroll->setWidgetResizable(true);
  scroll->setWidget(chart_area_);

  params_ = new QTableWidget;
  params_->setObjectName(QStringLiteral("compareParams"));
  params_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  params_->verticalHeader()->hide();
  differences_box_ = new QCheckBox(tr("Differences only"));
  differences_box_->setChecked(true);
  connect(differences_box_, &QCheckBox::toggled, this, &CompareView::setDifferencesOnly);
  auto* params_page = new QWidget;
  auto* params_layout = new QVBoxLayout(params_page);
  params_layout->setContentsMargins(0, 4, 0, 0);
  params_layout->addWidget(differences_box_);
  params_layout->addWidget(params_);

  summary_ = new QTableWidget;
  summary_->setObjectName(QStringLiteral("compareSummary"));
  summary_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  summary_->verticalHeader()->hide();

  auto* tables = new QTabWidget;
  tables->addTab(summary_, tr("Summary"));
  tables->addTab(params_page, tr("Config"));

  auto* splitter = new QSplitter(Qt::Vertical);
  splitter->setObjectName(QStringLiteral("compare-splitter"));  // keys its saved sizes
  splitter->addWidget(scroll);
  splitter->addWidget(tables);
  splitter->setStretchFactor(0, 3);
  splitter->setStretchFactor(1, 1);
  splitter->setSizes({3000, 1000});  // the charts first: the tables need only a few rows

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->addWidget(message_);
  layout->addLayout(controls);
  layout->addWidget(splitter, 1);
}

bool CompareView::setRuns(const QList<qint64>& run_ids) {
  if (run_ids.size() < 2 || run_ids.size() > 50) {
    message_->setText(tr("Compare needs 2 to 50 runs (%1 selected).").arg(run_ids.size()));
    return false;
  }
  if (!store_) return false;
  std::vector<Run> runs;
  std::vector<RunMetricKeys> run_keys;
  try {
    for (qint64 id : run_ids) {
      auto record = store_->getRun(id);
      if (!record) {
        message_->setText(tr("Run %1 is no longer in the database.").arg(id));
        return false;
      }
      Run run{std::move(*record), store_->metricSeries(id), 0.0, 0.0};
      run.tokens_per_step = lmTokensPerStep(run.record.params);
      RunMetricKeys keys{taskOfRun(run.record.params), {}};
      bool have_start = false;
      for (const auto& [key, series] : run.series) {
        keys.keys.insert(key);
        for (double t : series.wall_times)
          if (!have_start || t < run.start_time) run.start_time = t, have_start = true;
      }
      runs.push_back(std::move(run));
      run_keys.push_back(std::move(keys));
    }
  } catch (const std::exception& e) {
    message_->setText(QString::fromStdString(e.what()));
    return false;
  }
  runs_ = std::move(runs);
  const MetricSelection selection = selectComparedMetrics(run_keys);
  metric_keys_ = selection.shown;
  left_out_metrics_ = selection.left_out;
  QStringList ids;
  for (const auto& run : runs_) ids << QStringLiteral("#%1").arg(run.record.id);
  QString text = tr("Comparing %1").arg(ids.join(QStringLiteral(", ")));
  if (selection.mixed_tasks) {
    std::set<std::string> tasks;
    for (const auto& keys : run_keys) tasks.insert(keys.task);
    QStringList names;
    for (const auto& task : tasks) names << toQ(task);
    text += tr(" (runs of several tasks: %1; only the metrics they share)").arg(names.join(QStringLiteral(", ")));
    if (metric_keys_.empty()) text += tr(". They share no metric");
    if (!left_out_metrics_.empty()) text += QStringLiteral(". ") + toQ(leftOutNote(selection));
  }
  message_->setText(text);
  offerXAxes();
  rebuildCharts();
  fillParamTable();
  fillSummaryTable();
  return true;
}

QString CompareView::message() const { return message_->text(); }

bool CompareView::tokensAxisOffered() const {
  return !runs_.empty() && std::all_of(runs_.begin(), runs_.end(), [](const Run& run) { return run.tokens_per_step > 0; });
}

void CompareView::offerXAxes() {
  const int tokens_item = x_axis_box_->findData(static_cast<int>(XAxis::Tokens));
  const QSignalBlocker blocker(x_axis_box_);
  if (tokensAxisOffered() && tokens_item < 0) {
    x_axis_box_->addItem(tr("Tokens"), static_cast<int>(XAxis::Tokens));
    x_axis_box_->setItemData(x_axis_box_->count() - 1, tr("Tokens seen: step x batch size x context"), Qt::ToolTipRole);
  } else if (!tokensAxisOffered() && tokens_item >= 0) {
    x_axis_box_->removeItem(tokens_item);
  }
  if (x_axis_ == XAxis::Tokens && !tokensAxisOffered()) x_axis_ = XAxis::Step;
  x_axis_box_->setCurrentIndex(x_axis_box_->findData(static_cast<int>(x_axis_)));
}

QList<qint64> CompareView::runIds() const {
  QList<qint64> ids;
  for (const auto& run : runs_) ids << run.record.id;
  return ids;
}

QColor CompareView::colorOf(qint64 run_id) const {
  for (size_t i = 0; i < runs_.size(); ++i)
    if (runs_[i].record.id == run_id) return runColor(static_cast<int>(i));
  return {};
}

CompareChart* CompareView::chartFor(const std::string& metric) const {
  for (size_t i = 0; i < metric_keys_.size() && i < charts_.size(); ++i)
    if (metric_keys_[i] == metric) return charts_[i];
  return nullptr;
}

FigureData CompareView::figureFor(const std::string& metric) const {
  // The same start as the CLI's export (app/cli/chart_render_qt.cpp): one figure code.
  // Tokens are steps scaled per run: the figure of Step, relabelled.
  FigureData figure = metricFigure(metric, x_axis_ == XAxis::Tokens ? FigureX::Step : static_cast<FigureX>(x_axis_));
  if (x_axis_ == XAxis::Tokens) figure.x_label = tr("Tokens seen");
  figure.log_y = log_y_;
  figure.smoothing = smoothing_;
  for (size_t i = 0; i < runs_.size(); ++i) {
    const Run& run = runs_[i];
    FigureCurve curve{QStringLiteral("#%1 %2").arg(run.record.id).arg(toQ(run.record.name)), runColor(static_cast<int>(i)),
                      {}, {}, runPenStyle(static_cast<int>(i))};
    auto it = run.series.find(metric);
    if (it != run.series.end()) {
      const MetricSeries& series = it->second;
      switch (x_axis_) {
        case XAxis::Step: curve.x.assign(series.steps.begin(), series.steps.end()); break;
        case XAxis::Epoch: curve.x = series.epochs; break;
        case XAxis::RelativeTime:
          curve.x.reserve(series.wall_times.size());
          for (double t : series.wall_times) curve.x.push_back(t - run.start_time);
          break;
        case XAxis::WallTime: curve.x = series.wall_times; break;
        case XAxis::Tokens:
          curve.x.reserve(series.steps.size());
          for (int64_t step : series.steps) curve.x.push_back(static_cast<double>(step) * run.tokens_per_step);
          break;
      }
      curve.y = series.values;
    }
    figure.curves.push_back(std::move(curve));  // empty curves keep the colours in run order
  }
  return figure;
}

void CompareView::rebuildCharts() {
  for (auto* chart : charts_) chart->deleteLater();
  charts_.clear();
  int index = 0;
  for (const auto& key : metric_keys_) {
    auto* chart = new CompareChart;
    chart->setObjectName(toQ("chart:" + key));
    connect(chart, &CompareChart::exportRequested, this, &CompareView::exportChartInteractive);
    connect(chart, &CompareChart::copyRequested, this, &CompareView::copyChart);
    chart_grid_->addWidget(chart, index / 2, index % 2);
    chart->show();  // now, not deferred by the layout: the settling below sizes it
    charts_.push_back(chart);
    ++index;
  }
  refreshFigures();
  // Settle the layout now (the grid, then the scroll area's scroll bar, which narrows the
  // charts once more), so that each chart is sized, decimated and drawn once, not once per
  // intermediate width.
  for (int pass = 0; pass < 3; ++pass) QCoreApplication::sendPostedEvents(nullptr, QEvent::LayoutRequest);
}

void CompareView::refreshFigures() {
  for (size_t i = 0; i < charts_.size(); ++i) charts_[i]->setFigure(figureFor(metric_keys_[i]));
}

void CompareView::setSmoothing(double weight) {
  smoothing_ = std::clamp(weight, 0.0, 0.99);
  smoothing_label_->setText(QString::number(smoothing_, 'f', 2));
  const int slider = static_cast<int>(std::lround(smoothing_ * 100));
  if (smoothing_slider_->value() != slider) {
    const QSignalBlocker blocker(smoothing_slider_);
    smoothing_slider_->setValue(slider);
  }
  refreshFigures();
}

void CompareView::setXAxis(XAxis axis) {
  x_axis_ = axis == XAxis::Tokens && !tokensAxisOffered() ? XAxis::Step : axis;
  const int item = x_axis_box_->findData(static_cast<int>(x_axis_));
  if (x_axis_box_->currentIndex() != item) {
    const QSignalBlocker blocker(x_axis_box_);
    x_axis_box_->setCurrentIndex(item);
  }
  refreshFigures();
}

void CompareView::setLogY(bool log_y) {
  log_y_ = log_y;
  if (log_y_box_->isChecked() != log_y) {
    const QSignalBlocker blocker(log_y_box_);
    log_y_box_->setChecked(log_y);
  }
  refreshFigures();
}

void CompareView::setDifferencesOnly(bool on) {
  differences_only_ = on;
  if (differences_box_->isChecked() != on) {
    const QSignalBlocker blocker(differences_box_);
    differences_box_->setChecked(on);
  }
  fillParamTable();
}

void CompareView::fillParamTable() {
  std::set<std::string> keys;
  for (const auto& run : runs_)
    for (const auto& [key, value] : run.record.params) keys.insert(key);
  auto value = [](const Run& run, const std::string& key) {
    auto it = run.record.params.find(key);
    return it == run.record.params.end() ? std::string("-") : it->second;
  };
  std::vector<std::pair<std::string, bool>> rows;
  for (const auto& key : keys) {
    bool differs = false;
    for (const auto& run : runs_) differs = differs || value(run, key) != value(runs_.front(), key);
    if (differs || !differences_only_) rows.emplace_back(key, differs);
  }
  params_->clear();
  params_->setColumnCount(static_cast<int>(runs_.size()) + 1);
  params_->setRowCount(static_cast<int>(rows.size()));
  QStringList headers{tr("key")};
  for (const auto& run : runs_) headers << QStringLiteral("#%1").arg(run.record.id);
  params_->setHorizontalHeaderLabels(headers);
  for (size_t c = 0; c < runs_.size(); ++c) {
    auto* header = new QTableWidgetItem(headers[static_cast<int>(c) + 1]);
    header->setForeground(runColor(static_cast<int>(c)));
    params_->setHorizontalHeaderItem(static_cast<int>(c) + 1, header);
  }
  const QColor highlight(0xFF, 0xB3, 0x00, 70);  // translucent amber: readable on light and dark rows
  for (size_t r = 0; r < rows.size(); ++r) {
    auto* key_item = new QTableWidgetItem(toQ(rows[r].first));
    if (rows[r].second) key_item->setBackground(highlight);
    params_->setItem(static_cast<int>(r), 0, key_item);
    for (size_t c = 0; c < runs_.size(); ++c) {
      auto* item = new QTableWidgetItem(toQ(value(runs_[c], rows[r].first)));
      if (rows[r].second) item->setBackground(highlight);
      params_->setItem(static_cast<int>(r), static_cast<int>(c) + 1, item);
    }
  }
  params_->resizeColumnsToContents();
}

// One column per metric: its final value in the metric's units and precision (percent
// metrics as percentages, the rest as plain numbers), right-aligned, the best run's value bold
// (best by the metric's direction); a second column gives the best value and its step.
void CompareView::fillSummaryTable() {
  summary_->clear();
  summary_->setRowCount(static_cast<int>(runs_.size()));
  summary_->setColumnCount(1 + 2 * static_cast<int>(metric_keys_.size()));
  QStringList headers{tr("run")};
  for (const auto& key : metric_keys_) {
    const MetricInfo info = metricInfo(key);
    const QString unit = info.unit.empty() ? QString() : QStringLiteral(" (%1)").arg(toQ(info.unit));
    headers << tr("%1%2\nfinal").arg(toQ(info.label), unit) << tr("%1%2\nbest @ step").arg(toQ(info.label), unit);
  }
  summary_->setHorizontalHeaderLabels(headers);
  const Qt::Alignment right = Qt::AlignRight | Qt::AlignVCenter;
  for (size_t r = 0; r < runs_.size(); ++r) {
    auto* name = new QTableWidgetItem(QStringLiteral("#%1 %2").arg(runs_[r].record.id).arg(toQ(runs_[r].record.name)));
    name->setForeground(runColor(static_cast<int>(r)));
    summary_->setItem(static_cast<int>(r), 0, name);
  }
  for (size_t k = 0; k < metric_keys_.size(); ++k) {
    const MetricInfo info = metricInfo(metric_keys_[k]);
    const int column = 1 + 2 * static_cast<int>(k);
    std::vector<SeriesSummary> summaries(runs_.size());
    int best_run = -1;
    for (size_t r = 0; r < runs_.size(); ++r) {
      auto it = runs_[r].series.find(metric_keys_[k]);
      if (it == runs_[r].series.end() || it->second.values.empty()) continue;
      summaries[r] = summarizeSeries(it->second.steps, it->second.values, info.higher_is_better);
      const double value = summaries[r].final_value;
      if (!std::isfinite(value)) continue;
      const double best = best_run < 0 ? 0.0 : summaries[static_cast<size_t>(best_run)].final_value;
      if (best_run < 0 || (info.higher_is_better ? value > best : value < best)) best_run = static_cast<int>(r);
    }
    for (size_t r = 0; r < runs_.size(); ++r) {
      const SeriesSummary& s = summaries[r];
      auto* final_item = new QTableWidgetItem(s.count ? toQ(formatMetricValue(info, s.final_value)) : QStringLiteral("–"));
      auto* best_item = new QTableWidgetItem(
          s.count ? tr("%1 @ %2").arg(toQ(formatMetricValue(info, s.best_value))).arg(s.best_step) : QStringLiteral("–"));
      final_item->setTextAlignment(right);
      best_item->setTextAlignment(right);
      if (static_cast<int>(r) == best_run && runs_.size() > 1) {
        QFont bold = final_item->font();
        bold.setBold(true);
        final_item->setFont(bold);
        final_item->setToolTip(info.higher_is_better ? tr("best final value (higher is better)")
                                                     : tr("best final value (lower is better)"));
      }
      summary_->setItem(static_cast<int>(r), column, final_item);
      summary_->setItem(static_cast<int>(r), column + 1, best_item);
    }
  }
  summary_->resizeColumnsToContents();
}

void CompareView::exportChart(CompareChart* chart, const QString& path, const ExportOptions& options) {
  // The chart's figure holds every point; the export draws them all, in paper style.
  exportFigure(chart->figure(), path, options);
}

void CompareView::exportChartInteractive(CompareChart* chart) {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export chart"), chart->figure().title.section('/', -1) +
                                                                                  QStringLiteral(".pdf"),
                                                    tr("PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"));
  if (path.isEmpty()) return;
  ExportOptions options;
  options.format = figureFormatFromSuffix(path, FigureFormat::Pdf);
  QDialog dialog(this);
  dialog.setWindowTitle(tr("Figure size"));
  auto* form = new QFormLayout(&dialog);
  auto* width = new QDoubleSpinBox;
  width->setRange(1, 20);
  width->setValue(options.width_in);
  width->setSuffix(tr(" in"));
  auto* height = new QDoubleSpinBox;
  height->setRange(1, 20);
  height->setValue(options.height_in);
  height->setSuffix(tr(" in"));
  auto* dpi = new QSpinBox;
  dpi->setRange(30, 1200);
  dpi->setValue(options.dpi);
  dpi->setEnabled(options.format == FigureFormat::Png);
  form->addRow(tr("Width"), width);
  form->addRow(tr("Height"), height);
  form->addRow(tr("DPI (PNG)"), dpi);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  form->addRow(buttons);
  if (dialog.exec() != QDialog::Accepted) return;
  options.width_in = width->value();
  options.height_in = height->value();
  options.dpi = dpi->value();
  try {
    exportChart(chart, path, options);
    emit exported(path);
  } catch (const ExportError& e) {
    QMessageBox::warning(this, tr("Export failed"), QString::fromUtf8(e.what()));
  }
}

void CompareView::copyChart(CompareChart* chart) {
  ExportOptions options;
  options.format = FigureFormat::Png;
  options.dpi = 150;
  QApplication::clipboard()->setImage(renderFigureImage(chart->figure(), options));
}

bool CompareView::exportCsv(const QString& path) const {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) return false;
  std::string text = "run,metric,step,epoch,wall_time,value\n";
  for (const auto& run : runs_)
    for (const auto& [key, series] : run.series)
      for (size_t i = 0; i < series.values.size(); ++i)
        text += fmt::format("{},{},{},{},{},{}\n", run.record.id, key, series.steps[i], series.epochs[i],
                            series.wall_times[i], series.values[i]);
  return file.write(text.data(), static_cast<qint64>(text.size())) == static_cast<qint64>(text.size());
}

bool CompareView::exportJson(const QString& path) const {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) return false;
  // Written by hand to keep nlohmann out of the window's link line; numbers in shortest
  // round-trip form, as the CLI writes them.
  auto quoted = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) < 0x20) {
        out += fmt::format("\\u{:04x}", static_cast<int>(c));
        continue;
      }
      out += c;
    }
    return out + "\"";
  };
  std::string text = "{\"runs\": [";
  for (size_t r = 0; r < runs_.size(); ++r) {
    const auto& run = runs_[r];
    text += r ? ",\n" : "\n";
    text += fmt::format("{{\"id\": {}, \"name\": {}, \"status\": {}, \"params\": {{", run.record.id,
                        quoted(run.record.name), quoted(statusName(run.record.status)));
    bool first = true;
    for (const auto& [key, value] : run.record.params) {
      text += (first ? "" : ", ") + quoted(key) + ": " + quoted(value);
      first = false;
    }
    text += "}, \"metrics\": {";
    first = true;
    for (const auto& [key, series] : run.series) {
      std::string step, epoch, wall, value;
      for (size_t i = 0; i < series.values.size(); ++i) {
        const char* sep = i ? ", " : "";
        step += fmt::format("{}{}", sep, series.steps[i]);
        epoch += fmt::format("{}{}", sep, series.epochs[i]);
        wall += fmt::format("{}{}", sep, series.wall_times[i]);
        value += fmt::format("{}{}", sep, series.values[i]);
      }
      text += (first ? "" : ", ") + quoted(key) + ": {\"step\": [" + step + "], \"epoch\": [" + epoch +
              "], \"wall_time\": [" + wall + "], \"value\": [" + value + "]}";
      first = false;
    }
    text += "}}";
  }
  text += "\n]}\n";
  return file.write(text.data(), static_cast<qint64>(text.size())) == static_cast<qint64>(text.size());
}

void CompareView::exportDataInteractive() {
  if (runs_.empty()) return;
  const QString path = QFileDialog::getSaveFileName(this, tr("Export data"), QStringLiteral("runs.csv"),
                                                    tr("CSV, long format (*.csv);;JSON (*.json)"));
  if (path.isEmpty()) return;
  const bool ok = path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive) ? exportJson(path) : exportCsv(path);
  if (!ok) QMessageBox::warning(this, tr("Export failed"), tr("Cannot write %1").arg(path));
  else emit exported(path);
}

}  // namespace distill::ui
