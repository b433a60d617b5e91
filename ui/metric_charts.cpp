#include "ui/metric_charts.h"

#include <QSplitter>
#include <QVBoxLayout>

#include "core/metrics/metric_keys.h"
#include "ui/chart_view.h"

namespace distill::ui {

MetricCharts::MetricCharts(QWidget* parent) : QWidget(parent) {
  const QString epoch_label = tr("epoch (within the phase)");
  loss_ = new ChartView(tr("Loss"), epoch_label, tr("loss"));
  loss_->addSeries({metric_key::kTeacherTrainLoss, tr("teacher train"), kTeacherColor.lighter(135), Qt::SolidLine, 1.2});
  loss_->addSeries({metric_key::kStudentTrainLoss, tr("student train (total)"), kStudentColor, Qt::SolidLine, 1.6});
  loss_->addSeries({metric_key::kKdLoss, tr("student KD part"), kStudentColor.lighter(140), Qt::DashLine, 1.3});
  loss_->addSeries({metric_key::kCeLoss, tr("student CE part"), QColor(0x2A, 0x9D, 0x8F), Qt::DotLine, 1.6});
  loss_->addSeries({metric_key::kTeacherTestLoss, tr("teacher test"), kTeacherColor, Qt::SolidLine, 2.2, /*markers=*/true});
  loss_->addSeries({metric_key::kStudentTestLoss, tr("student test"), kStudentColor.darker(125), Qt::SolidLine, 2.2, /*markers=*/true});

  agreement_ = new ChartView(tr("Teacher-student agreement"), epoch_label, tr("top-1 agreement (%)"), tr("KL (nats)"));
  agreement_->addSeries({metric_key::kAgreement, tr("top-1 agreement"), QColor(0x6A, 0x3D, 0x9A), Qt::SolidLine, 2.0, true});
  agreement_->addSeries({metric_key::kKl, tr("predictive KL (right axis)"), QColor(0xC0, 0x39, 0x2B), Qt::DashLine, 1.8, true,
                         /*right_axis=*/true});

  accuracy_ = new ChartView(tr("Test accuracy"), epoch_label, tr("accuracy (%)"));
  accuracy_->addSeries({metric_key::kTeacherAcc, tr("teacher"), kTeacherColor, Qt::SolidLine, 2.0, true});
  accuracy_->addSeries({metric_key::kStudentAcc, tr("student"), kStudentColor, Qt::SolidLine, 2.0, true});

  // Loss on top at full width (it has the most to show), the two evaluation charts below.
  auto* bottom = new QSplitter(Qt::Horizontal);
  bottom->setObjectName(QStringLiteral("charts-bottom"));  // names key the saved sizes
  bottom->addWidget(agreement_);
  bottom->addWidget(accuracy_);
  bottom->setChildrenCollapsible(false);
  auto* vertical = new QSplitter(Qt::Vertical);
  vertical->setObjectName(QStringLiteral("charts-vertical"));
  vertical->addWidget(loss_);
  vertical->addWidget(bottom);
  vertical->setChildrenCollapsible(false);
  vertical->setStretchFactor(0, 3);
  vertical->setStretchFactor(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(vertical);
}

ChartView* MetricCharts::chartFor(const std::string& key) const {
  for (auto* chart : charts())
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
  for (auto* chart : charts()) chart->resetView();
}

void MetricCharts::clear() {
  for (auto* chart : charts()) chart->clearData();
}

int MetricCharts::pointCount(const std::string& key) const {
  auto* chart = chartFor(key);
  return chart ? chart->pointCount(key) : 0;
}

void MetricCharts::flushRedraws() {
  for (auto* chart : charts()) chart->flushReplot();
}

void MetricCharts::setReplotInterval(int milliseconds) {
  for (auto* chart : charts()) chart->setReplotInterval(milliseconds);
}

}  // namespace distill::ui
