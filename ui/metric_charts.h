// The live charts of a run, built from what its task declares (core/tasks/task_catalog.h):
// one ChartView per ChartInfo, the first across the top, the others side by side below, and
// on each the metrics whose declaration names that chart, in the declared legend text, colour
// role, line style and axis. The image task gives Loss, Teacher-student agreement and Test
// accuracy; another task its own charts, without a line changed here.
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

class QSplitter;

namespace distill::ui {

class ChartView;

// From core/metrics/metric_info.h, the one colour table of window, CLI export and report.
inline const QColor kTeacherColor{QLatin1String(kTeacherColorHex)};  // orange
inline const QColor kStudentColor{QLatin1String(kStudentColorHex)};  // blue

// The pen colour a declaration asks for: its role's colour (or its own), lighter or darker.
QColor seriesColor(const MetricInfo& info);

class MetricCharts : public QWidget {
  Q_OBJECT
 public:
  // Shows the image task's charts until setTask() names another.
  explicit MetricCharts(QWidget* parent = nullptr);

  // The charts of task `task` (as a run's environment or config names it), rebuilt when it
  // differs from the task shown; the data shown is cleared then.
  void setTask(const std::string& task);
  const std::string& task() const { return task_; }

  void append(const std::vector<MetricPoint>& points);
  // Replaces everything shown (a past run loaded from the store, or a new run).
  void showPoints(const std::vector<MetricPoint>& points);
  void clear();

  int pointCount(const std::string& key) const;
  // The chart with this ChartInfo id, or null.
  ChartView* chart(const std::string& id) const;
  // The image task's three, by id (null while another task's charts are shown).
  ChartView* lossChart() const { return chart("loss"); }
  ChartView* agreementChart() const { return chart("agreement"); }
  ChartView* accuracyChart() const { return chart("accuracy"); }
  const std::vector<ChartView*>& charts() const { return charts_; }
  void setReplotInterval(int milliseconds);
  // Draws at once what new data waits for on every chart (at a run's end, so that the last
  // points show without waiting for the charts' paced redraws).
  void flushRedraws();

 signals:
  // A chart was exported to `path` from its context menu.
  void exported(QString path);

 private:
  ChartView* chartFor(const std::string& key) const;

  std::string task_;
  std::vector<ChartView*> charts_;
  std::vector<std::string> ids_;
  QSplitter* vertical_ = nullptr;  // the first chart over `bottom_`
  QSplitter* bottom_ = nullptr;    // the other charts, side by side
  int replot_interval_ms_ = -1;    // -1: the charts' own default
};

}  // namespace distill::ui
