// The three live charts of a run, and which metric key goes to which curve:
//   Loss:      teacher train loss (phase 1), student total/KD/CE loss per logged step,
//              teacher and student test loss per evaluation
//   Agreement: top-1 agreement (left axis) and predictive KL (right axis) per evaluation
//   Accuracy:  teacher versus student test accuracy per evaluation
// Teacher is always orange and student always blue, in every chart.
//
// Thread contract: a widget; GUI thread only.
#pragma once

#include <QColor>
#include <QWidget>

#include <string>
#include <vector>

#include "core/metrics/metric_info.h"
#include "core/train/observer.h"

namespace distill::ui {

class ChartView;

// From core/metrics/metric_info.h, the one colour table of window, CLI export and report.
inline const QColor kTeacherColor{QLatin1String(kTeacherColorHex)};  // orange
inline const QColor kStudentColor{QLatin1String(kStudentColorHex)};  // blue

class MetricCharts : public QWidget {
  Q_OBJECT
 public:
  explicit MetricCharts(QWidget* parent = nullptr);

  void append(const std::vector<MetricPoint>& points);
  // Replaces everything shown (a past run loaded from the store, or a new run).
  void showPoints(const std::vector<MetricPoint>& points);
  void clear();

  int pointCount(const std::string& key) const;
  ChartView* lossChart() const { return loss_; }
  ChartView* agreementChart() const { return agreement_; }
  ChartView* accuracyChart() const { return accuracy_; }
  std::vector<ChartView*> charts() const { return {loss_, agreement_, accuracy_}; }
  void setReplotInterval(int milliseconds);
  // Draws at once what new data waits for on every chart (at a run's end, so that the last
  // points show without waiting for the charts' paced redraws).
  void flushRedraws();

 private:
  ChartView* chartFor(const std::string& key) const;

  ChartView* loss_ = nullptr;
  ChartView* agreement_ = nullptr;
  ChartView* accuracy_ = nullptr;
};

}  // namespace distill::ui
