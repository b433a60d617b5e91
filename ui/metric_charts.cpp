#include "ui/metric_charts.h"

#include <QSplitter>

#include <algorithm>
#include <QVBoxLayout>

#include "core/tasks/task_catalog.h"
#include "ui/chart_view.h"

namespace distill::ui {

namespace {

Qt::PenStyle penStyle(LineStyle line) {
  switch (line) {
    case LineStyle::Dash: return Qt::DashLine;
    case LineStyle::Dot: return Qt::DotLine;
    case LineStyle::Solid: break;
  }
  return Qt::SolidLine;
}

}  // namespace

QColor seriesColor(const MetricInfo& info) {
  QColor color = info.role == SeriesRole::Teacher   ? kTeacherColor
                 : info.role == SeriesRole::Student ? kStudentColor
                 : info.color.empty()               ? QColor(0x55, 0x55, 0x55)
                                                    : QColor(QString::fromStdString(info.color));
  if (info.shade > 100) color = color.lighter(info.shade);
  if (info.shade > 0 && info.shade < 100) color = color.darker(10000 / info.shade);
  return color;
}

MetricCharts::MetricCharts(QWidget* parent) : QWidget(parent) {
  // The splitters stay for the window's lifetime (their names key the saved sizes); a task's
  // charts are put into them.
  bottom_ = new QSplitter(Qt::Horizontal);
  bottom_->setObjectName(QStringLiteral("charts-bottom"));
  bottom_->setChildrenCollapsible(false);
  vertical_ = new QSplitter(Qt::Vertical);
  vertical_->setObjectName(QStringLiteral("charts-vertical"));
  vertical_->addWidget(new QWidget);  // the first chart's place
  vertical_->addWidget(bottom_);
  vertical_->setChildrenCollapsible(false);
  vertical_->setStretchFactor(0, 3);
  vertical_->setStretchFactor(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(vertical_);
  setTask("image");
}

void MetricCharts::setTask(const std::string& task) {
  if (task == task_ && !charts_.empty()) return;
  const TaskDisplay display = taskDisplay(task);
  task_ = task;
  const QList<int> vertical_sizes = vertical_->sizes();
  for (auto* chart : charts_) {
    chart->hide();
    chart->deleteLater();
  }
  charts_.clear();
  ids_.clear();

  const QString epoch_label = tr("epoch (within the phase)");
  for (const auto& info : display.charts) {
    auto* chart = new ChartView(QString::fromStdString(info.title), epoch_label, QString::fromStdString(info.y_label),
                                QString::fromStdString(info.y2_label));
    chart->setObjectName(QString::fromStdString("chart-" + info.id));
    chart->setLogScale(info.log_y);
    if (replot_interval_ms_ >= 0) chart->setReplotInterval(replot_interval_ms_);
    connect(chart, &ChartView::exported, this, &MetricCharts::exported);
    charts_.push_back(chart);
    ids_.push_back(info.id);
  }
  for (const auto& metric : displayedMetrics(display)) {
    if (metric.chart.empty()) continue;
    if (auto* target = chart(metric.chart))
      target->addSeries({metric.key, QString::fromStdString(metric.series), seriesColor(metric), penStyle(metric.line),
                         metric.width, metric.markers, metric.right_axis});
  }
  // The first chart across the top (the loss has the most to show), the others below.
  if (!charts_.empty()) {
    QWidget* old_top = vertical_->widget(0);
    vertical_->replaceWidget(0, charts_.front());
    if (old_top && std::find(charts_.begin(), charts_.end(), old_top) == charts_.end()) old_top->deleteLater();
  }
  for (std::size_t i = 1; i < charts_.size(); ++i) bottom_->addWidget(charts_[i]);
  // replaceWidget() gives the new top chart the old one's visibility, hidden above.
  for (auto* chart : charts_) chart->show();
  bottom_->setVisible(charts_.size() > 1);
  if (vertical_sizes.size() == 2 && vertical_sizes[0] + vertical_sizes[1] > 0) vertical_->setSizes(vertical_sizes);
}

ChartView* MetricCharts::chart(const std::string& id) const {
  for (std::size_t i = 0; i < ids_.size(); ++i)
    if (ids_[i] == id) return charts_[i];
  return nullptr;
}

ChartView* MetricCharts::chartFor(const std::string& key) const {
  for (auto* chart : charts_)
    if (chart->hasSeries(key)) return chart;
  return nullptr;
}

void MetricCharts::append(const std::vector<MetricPoint>& points) {
  for (const auto& point : points)
    if (auto* chart = chartFor(point.key)) chart->append(point);
}

void MetricCharts::showPoints(const std::vector<MetricPoint>& points) {
  clear();
  append(points);
  for (auto* chart : charts_) chart->resetView();
}

void MetricCharts::clear() {
  for (auto* chart : charts_) chart->clearData();
}

int MetricCharts::pointCount(const std::string& key) const {
  auto* chart = chartFor(key);
  return chart ? chart->pointCount(key) : 0;
}

void MetricCharts::flushRedraws() {
  for (auto* chart : charts_) chart->flushReplot();
}

void MetricCharts::setReplotInterval(int milliseconds) {
  replot_interval_ms_ = milliseconds;
  for (auto* chart : charts_) chart->setReplotInterval(milliseconds);
}

}  // namespace distill::ui
