// The workbench window: the experiment form on the left, the live charts in the middle with
// the run's status under them, the runs of the open database on the right, the log below.
//
// One run from the button to the chart: Start -> ExperimentForm::config() -> RunController
// (worker QThread: ExperimentRunner -> Trainer -> StoreRecorder + RunMailbox) -> 33 ms tick
// -> batchArrived -> MetricCharts::append -> coalesced replot. Past runs come from the
// window's own read connection to the store.
//
// Thread contract: a widget; GUI thread only.
#pragma once

#include <QMainWindow>
#include <QString>
#include <QTimer>

#include <functional>
#include <memory>
#include <string>
#include <optional>
#include <vector>

#include "core/store/run_store.h"
#include "ui/run_controller.h"

class QAction;
class QLabel;
class QPlainTextEdit;
class QTabWidget;
class QTableView;
class QToolButton;

namespace distill::ui {

class CompareView;
class ExperimentForm;
class MetricCharts;
class RecentFiles;
class RunBrowser;
class RunListModel;
class SamplesView;
class StatusPanel;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  // Opens (creating when missing) the database at `database_path`.
  explicit MainWindow(const QString& database_path, QWidget* parent = nullptr);
  ~MainWindow() override;

  bool openDatabase(const QString& path);
  bool loadExperiment(const QString& path);
  QString databasePath() const { return database_path_; }

  // Asked when the window is closed during a run; true = stop the run and close. The default
  // asks with a message box; tests replace it.
  void setCloseConfirmation(std::function<bool()> confirm) { confirm_close_ = std::move(confirm); }

  ExperimentForm* form() const { return form_; }
  MetricCharts* charts() const { return charts_; }
  StatusPanel* statusPanel() const { return status_; }
  RunListModel* runList() const { return run_list_; }
  QTableView* runTable() const { return run_table_; }
  RunController* controller() const { return controller_; }
  RunBrowser* browser() const { return browser_; }
  CompareView* compareView() const { return compare_; }
  SamplesView* samplesView() const { return samples_; }
  QTabWidget* pages() const { return pages_; }
  QAction* startAction() const { return start_action_; }
  QAction* pauseAction() const { return pause_action_; }
  QAction* stopAction() const { return stop_action_; }
  QAction* resumeAction() const { return resume_action_; }
  QAction* compareAction() const { return compare_action_; }
  QAction* exportAction() const { return export_action_; }
  QAction* aboutAction() const { return about_action_; }
  RecentFiles* recentFiles() const { return recent_; }

  // Window layout, the last database and the recent experiments (desktop_integration.h).
  // main() restores them; from then on the window saves them when it closes. Tests that do
  // not call restoreSettings() leave the user's settings alone.
  void restoreSettings();
  void saveSettings() const;
  QString logText() const;
  QString bannerText() const;
  QString lastExport() const { return last_export_; }
  QToolButton* openExportFolderButton() const { return export_folder_button_; }
  qint64 displayedRunId() const { return displayed_run_id_; }

 public slots:
  void startRun();
  void togglePause();
  void stopRun();
  // Continues a stored interrupted, stopped or failed run from its last checkpoint (the Resume
  // button under the run list; the same code as `distill resume`).
  void resumeRun(qint64 run_id);
  // For SIGTERM/SIGINT/SIGHUP: stops a live run without asking (it is stored as `stopped`),
  // then closes the window.
  void stopRunAndClose();
  void showRun(qint64 run_id);
  void refreshRuns();

 protected:
  void closeEvent(QCloseEvent* event) override;
  void showEvent(QShowEvent* event) override;

 private slots:
  void onRunStarted(qint64 run_id, QString description);
  void onStartFailed(QString message);
  void onBatch(qint64 run_id, distill::ui::MailboxBatch batch);
  void onRunFinished(qint64 run_id, distill::ui::RunEnd run_end, QString error);
  void onStateChanged(distill::ui::RunState state);
  void onNewDatabase();
  void onOpenDatabase();

 private:
  void buildActions();
  void buildLayout();
  void updateActions();
  // Whether the run can be continued from a checkpoint (interrupted, stopped or failed, with a
  // training-state checkpoint); `why` says why not.
  bool canResume(qint64 run_id, QString* why);
  void appendLog(LogLevel level, const QString& message);
  void onExported(const QString& path);
  QString runTitle(qint64 run_id) const;  // Run 3 "the user's name"
  qint64 pageRunId() const;  // the Fidelity and Samples pages' run: the one selected in Runs, else the one shown
  QString finalMetricsLine(qint64 run_id, const QString& status) const;
  void showBanner(const QString& message);  // empty hides it

  QString database_path_;
  std::unique_ptr<RunStore> store_;  // the GUI's read connection
  RunController* controller_ = nullptr;
  ExperimentForm* form_ = nullptr;
  MetricCharts* charts_ = nullptr;
  std::string live_task_ = "image";  // the task of the run this window drives
  StatusPanel* status_ = nullptr;
  RunListModel* run_list_ = nullptr;
  QTableView* run_table_ = nullptr;
  QPlainTextEdit* log_ = nullptr;
  QLabel* banner_ = nullptr;
  QTabWidget* pages_ = nullptr;
  RunBrowser* browser_ = nullptr;
  CompareView* compare_ = nullptr;
  SamplesView* samples_ = nullptr;

  QAction* start_action_ = nullptr;
  QAction* pause_action_ = nullptr;
  QAction* stop_action_ = nullptr;
  QAction* resume_action_ = nullptr;
  QAction* new_db_action_ = nullptr;
  QAction* open_db_action_ = nullptr;
  QAction* compare_action_ = nullptr;
  QAction* export_action_ = nullptr;
  QAction* about_action_ = nullptr;
  RecentFiles* recent_ = nullptr;
  QToolButton* export_folder_button_ = nullptr;
  QString last_export_;
  bool settings_restored_ = false;

  qint64 displayed_run_id_ = 0;
  std::vector<MetricPoint> live_points_;  // the live run's curves, kept for re-selection
  qint64 resuming_run_id_ = 0;  // a resumed run: its stored curves are loaded when it starts
  double resumed_until_ = 0.0;  // newest wall time among them; older live points are duplicates
  bool close_when_stopped_ = false;
  bool docks_sized_ = false;
  // Coalesces run-list refreshes during a run to at most one a second: listRuns() reads the
  // last value of every metric of every run, which grows with the database.
  QTimer list_refresh_;
  // Progress arrives with every 33 ms tick; the status line (labels that re-layout, the
  // progress bar) and the run list's live note show it at most 5 times a second, the newest
  // value always, and the last one when the run ends.
  QTimer progress_refresh_;
  std::optional<ProgressInfo> pending_progress_;
  void showProgress(const ProgressInfo& progress);
  void flushProgress();
  std::function<bool()> confirm_close_;
};

}  // namespace distill::ui
