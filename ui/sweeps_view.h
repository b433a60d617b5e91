// The Sweeps page: the sweeps of the open database (its runs' sweep:<id> tags) and of the
// folders added by hand or submitted from here, and for the chosen one:
//   - each run's state (Slurm's own word where Slurm knows the run), its live progress read from
//     its database file (phase, epoch, percent of both phases' epochs), its axis values and
//     final metrics; a failed or cancelled run's error and log tail under the table;
//   - a final metric against one or two axes with the seeds' spread as error bars, parallel
//     coordinates of the axes against the metric, and the Pareto chart of student size against
//     quality and agreement (ui/sweep_charts.h), each exportable as PNG, PDF or SVG;
//   - "Import" (the runs into the open database, `distill sweep import`), "Compare selected"
//     (imports what is not yet, then the compare view), and "Submit sweep…" (the form's
//     experiment as the base, ui/sweep_dialog.h, run by `distill sweep run` in a process of its
//     own that outlives the window; its output in FOLDER/sweep-run.log);
//   - "Cancel sweep" (core/sweep/sweep_control.h's cancelSweep, as `distill sweep cancel`:
//     scancel of the unfinished Slurm arrays, SIGTERM to the local `sweep run`) and "Resubmit
//     failed" (the tasks failedTasks picks, run by `distill sweep resubmit --failed` in a process
//     of its own, like a submitted sweep), each after a confirmation, on a worker thread (scancel
//     and sacct may take seconds), its outcome in the status line; disabled when nothing applies.
//
// Refreshing reads every task's database and asks Slurm (sacct, scontrol, squeue: they may take
// seconds on a busy cluster), so it runs on a worker thread with its own store connection; the
// result comes back through a queued call tagged with a generation, and an older result is
// dropped. While the page is shown and the sweep has runs that have not ended, it refreshes
// every few seconds; a request during a refresh runs once that one ends.
//
// Thread contract: a widget; GUI thread only. The worker touches no widget.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <QWidget>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/sweep/sweep_results.h"

class QComboBox;
class QCustomPlot;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QTabWidget;
class QTableWidget;
class QThread;

namespace distill::ui {

struct SweepSubmission;

// The `distill` program the page runs: $DISTILL_CLI, else beside this program (or the build
// tree's app/cli/), else `distill` from PATH.
QString distillProgram();

class SweepsView : public QWidget {
  Q_OBJECT
 public:
  enum class Chart { ByAxes, Parallel, Pareto };

  explicit SweepsView(QWidget* parent = nullptr);
  ~SweepsView() override;

  void setDatabasePath(const QString& path);
  // A sweep's folder to show besides the database's sweeps; selects it.
  void addFolder(const QString& folder);
  // The experiment "Submit sweep" takes as the base (the window's form).
  void setBaseConfig(std::function<ExperimentConfig()> base) { base_config_ = std::move(base); }
  // Milliseconds between refreshes while runs are going on (default 3000).
  void setRefreshInterval(int milliseconds);

  // Reads the sweeps again on the worker; `import_first` imports the chosen sweep's runs into
  // the database first.
  void refresh(bool import_first = false);
  bool refreshing() const { return worker_ != nullptr; }
  void importSweep() { refresh(/*import_first=*/true); }
  // Emits compareRequested with the selected rows' runs in the database, importing first when
  // some are not there yet.
  void compareSelected();
  // Writes the sweep file and starts `distill sweep run` on it; shows the folder. Returns an
  // error message, empty on success.
  QString submitSweep(const SweepSubmission& submission);
  void openSubmitDialog();
  // The shown sweep's actions, without asking (the buttons ask first); each runs on a worker
  // and ends with actionFinished. Ignored while one runs or when the sweep has no folder.
  void cancelSweep();
  void resubmitFailed();
  bool actionRunning() const { return action_ != nullptr; }
  // Whether the buttons would do something for the shown sweep (their enabled state).
  bool canCancel() const;
  bool canResubmit() const;

  // Writes a chart to `path` (.png, .pdf, .svg); throws ExportError.
  void exportChart(Chart chart, const QString& path);

  const std::vector<SweepRef>& sweeps() const { return sweeps_; }
  const SweepResults& results() const { return results_; }
  QComboBox* sweepBox() const { return sweep_box_; }
  QComboBox* metricBox() const { return metric_box_; }
  QComboBox* xAxisBox() const { return x_box_; }
  QComboBox* seriesAxisBox() const { return series_box_; }
  QTableWidget* table() const { return table_; }
  QCustomPlot* chart(Chart which) const;
  QTabWidget* chartTabs() const { return chart_tabs_; }
  QLabel* statusLabel() const { return status_; }
  QPushButton* cancelButton() const { return cancel_button_; }
  QPushButton* resubmitButton() const { return resubmit_button_; }
  QPlainTextEdit* detailText() const { return detail_; }

 signals:
  void compareRequested(QList<qint64> run_ids);
  // A refresh's result is shown (tests wait for it).
  void refreshed();
  void runsImported();
  void exported(QString path);
  // A cancel or resubmit ended; `message` is what the status line shows.
  void actionFinished(QString message);

 protected:
  void showEvent(QShowEvent* event) override;
  void hideEvent(QHideEvent* event) override;

 private:
  struct Snapshot;
  void apply(std::shared_ptr<Snapshot> snapshot);
  void fillTable();
  void fillMetricChoices();
  void redrawCharts();
  void showDetail();
  std::string currentMetric() const;
  std::string selectedSweepId() const;
  void updateActions();
  // Runs `work` (it returns the message) on the action worker, then shows it and refreshes.
  void runAction(const QString& busy, std::function<QString()> work);

  QString database_path_;
  QStringList folders_;
  std::function<ExperimentConfig()> base_config_;
  std::vector<SweepRef> sweeps_;
  SweepResults results_;
  QThread* worker_ = nullptr;
  QThread* action_ = nullptr;  // a cancel or resubmit in progress
  qint64 follow_until_ms_ = 0;  // refresh until then (a resubmitted task has yet to start)
  bool pending_refresh_ = false;
  bool pending_import_ = false;
  bool compare_after_refresh_ = false;
  quint64 generation_ = 0;
  std::string wanted_id_;  // the sweep to select once the list has it
  QString pending_folder_;  // a sweep submitted from here whose manifest is not written yet
  QTimer timer_;
  bool filling_ = false;

  QComboBox* sweep_box_ = nullptr;
  QPushButton* refresh_button_ = nullptr;
  QPushButton* import_button_ = nullptr;
  QPushButton* compare_button_ = nullptr;
  QPushButton* cancel_button_ = nullptr;
  QPushButton* resubmit_button_ = nullptr;
  QLabel* status_ = nullptr;
  QTableWidget* table_ = nullptr;
  QPlainTextEdit* detail_ = nullptr;
  QComboBox* metric_box_ = nullptr;
  QComboBox* x_box_ = nullptr;
  QComboBox* series_box_ = nullptr;
  QTabWidget* chart_tabs_ = nullptr;
  QCustomPlot* by_axes_ = nullptr;
  QCustomPlot* parallel_ = nullptr;
  QCustomPlot* pareto_ = nullptr;
};

}  // namespace distill::ui
