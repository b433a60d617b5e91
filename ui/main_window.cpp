#include "ui/main_window.h"

#include <algorithm>

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QShowEvent>
#include <QDateTime>
#include <QDesktopServices>
#include <QDir>
#include <QScreen>
#include <QStatusBar>
#include <QUrl>
#include <QDockWidget>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSettings>
#include <QStyle>
#include <QTabWidget>
#include <QTableView>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

#include "core/metrics/metric_keys.h"
#include "core/tasks/task_catalog.h"
#include "core/runtime/runtime.h"
#include "ui/chart_view.h"
#include "ui/compare_view.h"
#include "ui/desktop_integration.h"
#include "core/config/config.h"
#include "core/train/experiment_runner.h"  // checkResume
#include "ui/run_browser.h"
#include "ui/experiment_form.h"
#include "ui/fidelity_view.h"
#include "ui/metric_charts.h"
#include "ui/run_list_model.h"
#include "ui/playground_view.h"
#include "ui/samples_view.h"
#include "ui/status_panel.h"
#include "ui/sweeps_view.h"

// Q_INIT_RESOURCE must be called outside any namespace; the resources live in a static
// library, whose unreferenced objects the linker would otherwise drop.
static void initWorkbenchResources() { Q_INIT_RESOURCE(workbench); }

namespace distill::ui {
namespace {
QString toQ(const std::string& text) { return QString::fromStdString(text); }
}  // namespace

MainWindow::MainWindow(const QString& database_path, QWidget* parent) : QMainWindow(parent) {
  initWorkbenchResources();
  QFile style(QStringLiteral(":/style.qss"));
  if (style.open(QIODevice::ReadOnly)) setStyleSheet(QString::fromUtf8(style.readAll()));
  followApplicationPalette(this);  // light or dark, as the desktop is, also when it switches
  setWindowIcon(QIcon(QStringLiteral(":/icons/distill-workbench.svg")));

  controller_ = new RunController(this);
  connect(controller_, &RunController::runStarted, this, &MainWindow::onRunStarted);
  connect(controller_, &RunController::startFailed, this, &MainWindow::onStartFailed);
  connect(controller_, &RunController::batchArrived, this, &MainWindow::onBatch);
  connect(controller_, &RunController::runFinished, this, &MainWindow::onRunFinished);
  connect(controller_, &RunController::stateChanged, this, &MainWindow::onStateChanged);
  confirm_close_ = [this] {
    return QMessageBox::question(this, tr("Stop the run?"),
                                 tr("A run is in progress. Stop it and close? What it has recorded so far is kept, "
                                    "with the status 'stopped'."),
                                 QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel) == QMessageBox::Yes;
  };

  list_refresh_.setSingleShot(true);
  list_refresh_.setInterval(1000);
  connect(&list_refresh_, &QTimer::timeout, this, &MainWindow::refreshRuns);
  progress_refresh_.setSingleShot(true);
  progress_refresh_.setInterval(200);
  connect(&progress_refresh_, &QTimer::timeout, this, &MainWindow::flushProgress);

  buildActions();
  buildLayout();
  // Within the screen's available area (a 1280x800 laptop has about 1280x760 of it), at most
  // 1600x1000; the layout's minimum is below 1280x720, so the window can be that small.
  const QRect available = screen() ? screen()->availableGeometry() : QRect(0, 0, 1600, 1000);
  resize(std::min(1600, available.width()), std::min(1000, available.height()));
  openDatabase(database_path);
  appendLog(LogLevel::Info, tr("Distill Workbench %1, LibTorch %2, %3 CPU cores, devices: %4")
                                .arg(toQ(workbenchVersion()), toQ(torchVersion()))
                                .arg(cpuCores())
                                .arg([] {
                                  QStringList names;
                                  for (const auto& d : availableDevices()) names << toQ(d);
                                  return names.join(QStringLiteral(", "));
                                }()));
  updateActions();
}

MainWindow::~MainWindow() {
  // The worker holds references into the controller; stop it before the widgets go.
  controller_->shutdown();
}

void MainWindow::buildActions() {
  start_action_ = new QAction(style()->standardIcon(QStyle::SP_MediaPlay), tr("&Start"), this);
  start_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
  start_action_->setToolTip(tr("Start the experiment (Ctrl+R)"));
  pause_action_ = new QAction(style()->standardIcon(QStyle::SP_MediaPause), tr("&Pause"), this);
  pause_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_P));
  stop_action_ = new QAction(style()->standardIcon(QStyle::SP_MediaStop), tr("S&top"), this);
  stop_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
  stop_action_->setToolTip(tr("Stop after the current step; the run is kept as 'stopped' (Ctrl+.)"));
  compare_action_ = new QAction(tr("&Compare selected runs"), this);
  compare_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
  compare_action_->setToolTip(tr("Compare the runs selected on the Runs page (Ctrl+Shift+C)"));
  connect(compare_action_, &QAction::triggered, this, [this] {
    if (pages_->currentWidget() != compare_) pages_->setCurrentWidget(browser_);
    browser_->compareSelected();
  });
  export_action_ = new QAction(tr("&Export compared runs' data…"), this);
  export_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
  connect(export_action_, &QAction::triggered, this, [this] {
    if (compare_->runIds().isEmpty()) {
      pages_->setCurrentIndex(0);
      showBanner(tr("Nothing to export yet: select two or more runs on the Runs page and compare them (Ctrl+Shift+C). "
                    "One run: distill export RUN."));
      return;
    }
    compare_->exportDataInteractive();
  });
  connect(start_action_, &QAction::triggered, this, &MainWindow::startRun);
  connect(pause_action_, &QAction::triggered, this, &MainWindow::togglePause);
  connect(stop_action_, &QAction::triggered, this, &MainWindow::stopRun);
  resume_action_ = new QAction(style()->standardIcon(QStyle::SP_BrowserReload), tr("Resume run"), this);
  resume_action_->setObjectName(QStringLiteral("resume-run"));
  connect(resume_action_, &QAction::triggered, this, [this] {
    const qint64 id = run_list_->runIdAt(run_table_->currentIndex().row());
    if (id != 0) resumeRun(id);
  });

  new_db_action_ = new QAction(tr("&New database…"), this);
  open_db_action_ = new QAction(style()->standardIcon(QStyle::SP_DialogOpenButton), tr("&Open database…"), this);
  open_db_action_->setShortcut(QKeySequence::Open);
  connect(new_db_action_, &QAction::triggered, this, &MainWindow::onNewDatabase);
  connect(open_db_action_, &QAction::triggered, this, &MainWindow::onOpenDatabase);

  auto* file = menuBar()->addMenu(tr("&File"));
  file->addAction(new_db_action_);
  file->addAction(open_db_action_);
  file->addSeparator();
  file->addAction(tr("&Load experiment…"), this, [this] { form_->onLoadClicked(); });
  recent_ = new RecentFiles(file->addMenu(tr("Open &Recent")), this);
  connect(recent_, &RecentFiles::fileChosen, this, &MainWindow::loadExperiment);
  file->addAction(tr("&Save experiment…"), this, [this] { form_->onSaveClicked(); });
  file->addSeparator();
  file->addAction(export_action_);
  file->addSeparator();
  auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);
  auto* run = menuBar()->addMenu(tr("&Run"));
  run->addAction(start_action_);
  run->addAction(pause_action_);
  run->addAction(stop_action_);
  run->addAction(resume_action_);
  run->addSeparator();
  run->addAction(compare_action_);
  auto* view = menuBar()->addMenu(tr("&View"));
  view->addAction(tr("&Reset chart views"), this, [this] {
    for (auto* chart : charts_->charts()) chart->resetView();
  });
  auto* help = menuBar()->addMenu(tr("&Help"));
  about_action_ = help->addAction(tr("&About Distill Workbench"), this, [this] {
    QMessageBox::about(this, tr("About Distill Workbench"), aboutText());
  });

  auto* toolbar = addToolBar(tr("Run"));
  toolbar->setObjectName(QStringLiteral("run-toolbar"));
  toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  toolbar->setMovable(false);
  toolbar->addAction(start_action_);
  toolbar->addAction(pause_action_);
  toolbar->addAction(stop_action_);
  toolbar->addSeparator();
  toolbar->addAction(open_db_action_);
}

void MainWindow::buildLayout() {
  setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks);

  // ---- left: the experiment
  form_ = new ExperimentForm;
  connect(form_, &ExperimentForm::validityChanged, this, &MainWindow::updateActions);
  connect(form_, &ExperimentForm::fileUsed, this, [this](const QString& path) { recent_->add(path); });
  connect(form_, &ExperimentForm::message, this, [this](const QString& text) {
    appendLog(LogLevel::Error, text);
    showBanner(text);
  });
  auto* start_button = new QToolButton;
  start_button->setObjectName(QStringLiteral("start-button"));
  start_button->setDefaultAction(start_action_);
  start_button->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  start_button->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  auto* pause_button = new QToolButton;
  pause_button->setDefaultAction(pause_action_);
  pause_button->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  auto* stop_button = new QToolButton;
  stop_button->setDefaultAction(stop_action_);
  stop_button->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(start_button, 1);
  buttons->addWidget(pause_button);
  buttons->addWidget(stop_button);
  auto* experiment = new QWidget;
  auto* experiment_layout = new QVBoxLayout(experiment);
  experiment_layout->setContentsMargins(6, 4, 2, 6);
  experiment_layout->addWidget(form_, 1);
  experiment_layout->addLayout(buttons);
  auto* experiment_dock = new QDockWidget(tr("Experiment"));
  experiment_dock->setObjectName(QStringLiteral("experiment-dock"));
  experiment_dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
  experiment_dock->setWidget(experiment);
  experiment_dock->setMinimumWidth(300);
  addDockWidget(Qt::LeftDockWidgetArea, experiment_dock);

  // ---- centre: banner, charts, status
  banner_ = new QLabel;
  banner_->setObjectName(QStringLiteral("banner"));
  banner_->setWordWrap(true);
  banner_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  banner_->setVisible(false);
  charts_ = new MetricCharts;
  status_ = new StatusPanel;
  auto* centre = new QWidget;
  auto* centre_layout = new QVBoxLayout(centre);
  centre_layout->setContentsMargins(4, 4, 4, 0);
  centre_layout->setSpacing(4);
  centre_layout->addWidget(banner_);
  centre_layout->addWidget(charts_, 1);
  centre_layout->addWidget(status_);

  // The centre has three pages: the run being watched, the browser of every run, and the
  // comparison of selected runs.
  browser_ = new RunBrowser;
  browser_->setObjectName(QStringLiteral("runBrowser"));
  compare_ = new CompareView;
  compare_->setObjectName(QStringLiteral("compareView"));
  pages_ = new QTabWidget;
  pages_->setObjectName(QStringLiteral("pages"));
  pages_->setDocumentMode(true);
  pages_->addTab(centre, tr("Run"));
  pages_->addTab(browser_, tr("Runs"));
  pages_->addTab(compare_, tr("Compare"));
  // Fidelity: the run selected in the Runs page (else the one shown), analysed when the page is open.
  auto* fidelity = new FidelityView;
  fidelity->setObjectName(QStringLiteral("fidelityView"));
  pages_->addTab(fidelity, tr("Fidelity"));
  connect(pages_, &QTabWidget::currentChanged, fidelity, [this, fidelity](int page) {
    if (pages_->widget(page) == fidelity) fidelity->setRun(pageRunId());
  });
  connect(browser_->table()->selectionModel(), &QItemSelectionModel::selectionChanged, fidelity, [this, fidelity] {
    if (pages_->currentWidget() == fidelity) fidelity->setRun(pageRunId());
  });
  // Samples: what a language-model run's models wrote, for the same run as Fidelity; the live
  // run's evaluation texts come with its batches (onBatch).
  samples_ = new SamplesView;
  samples_->setObjectName(QStringLiteral("samplesView"));
  pages_->addTab(samples_, tr("Samples"));
  connect(pages_, &QTabWidget::currentChanged, samples_, [this](int page) {
    if (pages_->widget(page) == samples_) samples_->setRun(pageRunId());
  });
  connect(browser_->table()->selectionModel(), &QItemSelectionModel::selectionChanged, samples_, [this] {
    if (pages_->currentWidget() == samples_) samples_->setRun(pageRunId());
  });
  // Playground: a prompt continued by both models of the same run, on a worker thread.
  auto* playground = new PlaygroundView;
  playground->setObjectName(QStringLiteral("playgroundView"));
  pages_->addTab(playground, tr("Playground"));
  connect(pages_, &QTabWidget::currentChanged, playground, [this, playground](int page) {
    if (pages_->widget(page) == playground) playground->setRun(pageRunId());
  });
  connect(browser_->table()->selectionModel(), &QItemSelectionModel::selectionChanged, playground, [this, playground] {
    if (pages_->currentWidget() == playground) playground->setRun(pageRunId());
  });
  // Sweeps: the database's sweeps and sweep folders (their runs' states from Slurm or their
  // databases, results and charts); "Submit sweep" takes the form's experiment as the base.
  auto* sweeps = new SweepsView;
  sweeps->setObjectName(QStringLiteral("sweepsView"));
  sweeps->setBaseConfig([this] { return form_->config(); });
  pages_->addTab(sweeps, tr("Sweeps"));
  connect(sweeps, &SweepsView::runsImported, this, &MainWindow::refreshRuns);
  connect(sweeps, &SweepsView::exported, this, &MainWindow::onExported);
  connect(sweeps, &SweepsView::compareRequested, this, [this](QList<qint64> ids) {
    refreshRuns();
    if (compare_->setRuns(ids)) pages_->setCurrentWidget(compare_);
  });
  setCentralWidget(pages_);
  connect(pages_, &QTabWidget::currentChanged, this, [this](int page) {
    if (pages_->widget(page) == browser_) browser_->refresh();
  });
  connect(browser_, &RunBrowser::compareRequested, this, [this](QList<qint64> ids) {
    if (compare_->setRuns(ids)) pages_->setCurrentWidget(compare_);
  });
  connect(browser_, &RunBrowser::showRequested, this, [this](qint64 id) {
    showRun(id);
    pages_->setCurrentIndex(0);
  });
  connect(browser_, &RunBrowser::runsChanged, this, &MainWindow::refreshRuns);
  connect(browser_, &RunBrowser::duplicateRequested, this, [this](QString yaml, QString name) {
    try {
      form_->setConfig(parseConfigWithOverrides(yaml.toStdString(), {}, "run config"));
      appendLog(LogLevel::Info, tr("Loaded the config of \"%1\" into the form").arg(name));
      pages_->setCurrentIndex(0);
    } catch (const std::exception& e) {
      showBanner(tr("Cannot load that run's config: %1").arg(toQ(e.what())));
    }
  });

  // ---- right: runs
  run_list_ = new RunListModel(this);
  run_table_ = new QTableView;
  run_table_->setObjectName(QStringLiteral("runs"));
  run_table_->setModel(run_list_);
  run_table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  run_table_->setSelectionMode(QAbstractItemView::SingleSelection);
  run_table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  run_table_->setAlternatingRowColors(true);
  run_table_->setShowGrid(false);
  run_table_->setWordWrap(false);
  run_table_->verticalHeader()->hide();
  run_table_->verticalHeader()->setDefaultSectionSize(24);
  run_table_->horizontalHeader()->setHighlightSections(false);
  run_table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
  run_table_->horizontalHeader()->setStretchLastSection(true);
  run_table_->setMinimumWidth(240);  // #, name and status; the columns after them scroll
  for (auto [column, width] : std::initializer_list<std::pair<int, int>>{
           {RunListModel::Id, 30}, {RunListModel::Name, 118}, {RunListModel::Status, 126}, {RunListModel::Agreement, 76},
           {RunListModel::StudentAccuracy, 80}, {RunListModel::Started, 112}, {RunListModel::Dataset, 120}})
    run_table_->setColumnWidth(column, width);
  connect(run_table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            const qint64 id = run_list_->runIdAt(current.row());
            if (id != 0 && id != displayed_run_id_) showRun(id);
            updateActions();
          });
  // Under the list: Resume for a selected interrupted, stopped or failed run.
  auto* resume_button = new QToolButton;
  resume_button->setObjectName(QStringLiteral("resume-button"));
  resume_button->setDefaultAction(resume_action_);
  resume_button->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  auto* runs_panel = new QWidget;
  auto* runs_layout = new QVBoxLayout(runs_panel);
  runs_layout->setContentsMargins(0, 0, 0, 0);
  runs_layout->setSpacing(2);
  runs_layout->addWidget(run_table_, 1);
  runs_layout->addWidget(resume_button, 0, Qt::AlignLeft);
  auto* runs_dock = new QDockWidget(tr("Runs"));
  runs_dock->setObjectName(QStringLiteral("runs-dock"));
  runs_dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
  runs_dock->setWidget(runs_panel);
  addDockWidget(Qt::RightDockWidgetArea, runs_dock);

  // ---- exports say where the file went
  export_folder_button_ = new QToolButton;
  export_folder_button_->setObjectName(QStringLiteral("open-export-folder"));
  export_folder_button_->setText(tr("Open folder"));
  export_folder_button_->setAutoRaise(true);
  export_folder_button_->hide();
  statusBar()->addPermanentWidget(export_folder_button_);
  connect(export_folder_button_, &QToolButton::clicked, this, [this] {
    QDesktopServices::openUrl(QUrl::fromLocalFile(QFileInfo(last_export_).absolutePath()));
  });
  connect(compare_, &CompareView::exported, this, &MainWindow::onExported);
  connect(charts_, &MetricCharts::exported, this, &MainWindow::onExported);

  // ---- bottom: log
  log_ = new QPlainTextEdit;
  log_->setObjectName(QStringLiteral("log"));
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(5000);
  log_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  auto* log_dock = new QDockWidget(tr("Log"));
  log_dock->setObjectName(QStringLiteral("log-dock"));
  log_dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
  log_dock->setWidget(log_);
  addDockWidget(Qt::BottomDockWidgetArea, log_dock);
  setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
  setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
}

void MainWindow::onExported(const QString& path) {
  last_export_ = QFileInfo(path).absoluteFilePath();
  statusBar()->showMessage(tr("Saved %1").arg(QDir::toNativeSeparators(last_export_)));
  export_folder_button_->show();
  appendLog(LogLevel::Info, tr("Exported %1").arg(last_export_));
}

QString MainWindow::runTitle(qint64 run_id) const {
  QString name;
  try {
    if (store_)
      if (auto run = store_->getRun(run_id)) name = toQ(run->name);
  } catch (const std::exception&) {
  }
  return name.isEmpty() ? tr("Run %1").arg(run_id) : tr("Run %1 \"%2\"").arg(run_id).arg(name);
}

void MainWindow::showEvent(QShowEvent* event) {
  QMainWindow::showEvent(event);
  if (docks_sized_) return;  // also set when restoreSettings() restored a saved layout
  // Dock sizes only take once the window has its real size.
  docks_sized_ = true;
  auto* experiment = findChild<QDockWidget*>(QStringLiteral("experiment-dock"));
  auto* runs = findChild<QDockWidget*>(QStringLiteral("runs-dock"));
  auto* log = findChild<QDockWidget*>(QStringLiteral("log-dock"));
  // Shares of the width, so that a laptop's window keeps most of it for the charts.
  const int w = width();
  resizeDocks({experiment, runs}, {std::clamp(w * 26 / 100, 330, 400), std::clamp(w * 22 / 100, 250, 480)}, Qt::Horizontal);
  resizeDocks({log}, {std::clamp(height() / 7, 90, 150)}, Qt::Vertical);
}

// ---- database ---------------------------------------------------------------------------

bool MainWindow::openDatabase(const QString& path) {
  if (controller_->busy()) {
    showBanner(tr("Stop the run before opening another database."));
    return false;
  }
  try {
    auto store = std::make_unique<RunStore>(path.toStdString());
    const int interrupted = store->markInterruptedRuns();
    store_ = std::move(store);
    database_path_ = path;
    if (interrupted > 0) appendLog(LogLevel::Warning, tr("%1 run(s) whose process had ended were marked 'interrupted'").arg(interrupted));
  } catch (const std::exception& error) {
    const QString message = tr("Cannot open the database: %1").arg(toQ(error.what()));
    appendLog(LogLevel::Error, message);
    showBanner(message);
    return false;
  }
  setWindowTitle(tr("Distill Workbench — %1").arg(QFileInfo(path).fileName()));
  appendLog(LogLevel::Info, tr("Database %1").arg(path));
  displayed_run_id_ = 0;
  charts_->clear();
  browser_->setStore(store_.get());
  compare_->setStore(store_.get());
  if (auto* fidelity = findChild<FidelityView*>()) fidelity->setDatabasePath(path);
  samples_->setStore(store_.get());
  if (auto* playground = findChild<PlaygroundView*>()) playground->setStore(store_.get());
  if (auto* sweeps = findChild<SweepsView*>()) sweeps->setDatabasePath(path);
  refreshRuns();
  return true;
}

void MainWindow::onNewDatabase() {
  const QString path = QFileDialog::getSaveFileName(this, tr("New run database"), QStringLiteral("runs.db"),
                                                    tr("SQLite databases (*.db *.sqlite);;All files (*)"));
  if (path.isEmpty()) return;
  if (QFileInfo::exists(path)) {
    showBanner(tr("%1 already exists; use Open database to open it.").arg(path));
    return;
  }
  openDatabase(path);
}

void MainWindow::onOpenDatabase() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Open run database"), QFileInfo(database_path_).absolutePath(),
                                                    tr("SQLite databases (*.db *.sqlite);;All files (*)"));
  if (!path.isEmpty()) openDatabase(path);
}

void MainWindow::refreshRuns() {
  if (!store_) return;
  if (pages_ && pages_->currentWidget() == browser_) browser_->refresh();
  try {
    auto runs = store_->listRuns();
    QStringList teachers;
    for (const auto& run : runs)
      if (run.status == RunStatus::Completed) teachers << QStringLiteral("run:%1").arg(run.id);
    run_list_->refresh(std::move(runs));
    form_->setTeacherRuns(teachers);
  } catch (const std::exception& error) {
    appendLog(LogLevel::Error, tr("Cannot read the run list: %1").arg(toQ(error.what())));
  }
  const int row = run_list_->rowOf(displayed_run_id_);
  if (row >= 0 && run_table_->currentIndex().row() != row) {
    const QSignalBlocker blocker(run_table_->selectionModel());
    run_table_->selectRow(row);
  }
  updateActions();
}

qint64 MainWindow::pageRunId() const {
  const auto ids = browser_->selectedRunIds();
  return ids.size() == 1 ? ids.front() : displayed_run_id_;
}

void MainWindow::showRun(qint64 run_id) {
  displayed_run_id_ = run_id;
  if (run_id == controller_->runId() && controller_->busy()) {
    charts_->setTask(live_task_);
    charts_->showPoints(live_points_);
    return;
  }
  try {
    if (const auto run = store_->getRun(run_id)) charts_->setTask(taskOfRun(run->params));
    charts_->showPoints(store_->metrics(run_id));
  } catch (const std::exception& error) {
    appendLog(LogLevel::Error, tr("Cannot read run %1: %2").arg(run_id).arg(toQ(error.what())));
  }
}

bool MainWindow::loadExperiment(const QString& path) {
  QString error;
  if (form_->loadFile(path, &error)) {
    appendLog(LogLevel::Info, tr("Loaded experiment %1").arg(path));
    recent_->add(path);
    return true;
  }
  appendLog(LogLevel::Error, error);
  showBanner(error);
  return false;
}

// ---- run control ------------------------------------------------------------------------

void MainWindow::startRun() {
  if (controller_->busy()) return;
  if (!form_->isValid()) {
    showBanner(tr("The experiment has problems; see the list under the form."));
    return;
  }
  showBanner(QString());
  const ExperimentConfig config = form_->config();
  live_points_.clear();
  live_task_ = config.task;
  charts_->setTask(live_task_);
  charts_->clear();
  status_->reset();
  appendLog(LogLevel::Info, tr("Starting %1").arg(toQ(describe(config))));
  controller_->start(config, database_path_);
}

bool MainWindow::canResume(qint64 run_id, QString* why) {
  if (!store_ || run_id == 0) {
    *why = tr("Select an interrupted, stopped or failed run to resume it");
    return false;
  }
  try {
    // The runner's rule (core/train/experiment_runner.h), worded for the button's tooltip.
    const ResumeCheck check = checkResume(*store_, run_id);
    using Verdict = ResumeCheck::Verdict;
    switch (check.verdict) {
      case Verdict::Possible:
        *why = tr("Continue run %1 from its last checkpoint (epoch %2)").arg(run_id).arg(check.epoch);
        return true;
      case Verdict::NotFound: *why = tr("Run %1 is gone").arg(run_id); break;
      case Verdict::Completed: *why = tr("Run %1 is completed; only interrupted, stopped or failed runs resume").arg(run_id); break;
      case Verdict::StillRunning: *why = tr("Run %1 is still running").arg(run_id); break;
      case Verdict::Undecidable:
        *why = tr("Run %1 is marked running by a process this machine cannot see; if it is gone: distill resume %1 "
                  "--take-over").arg(run_id);
        break;
      case Verdict::NoCheckpoint:
        *why = tr("Run %1 ended before its first epoch checkpoint; start it again instead").arg(run_id);
        break;
    }
  } catch (const std::exception& error) {
    *why = toQ(error.what());
  }
  return false;
}

void MainWindow::resumeRun(qint64 run_id) {
  if (controller_->busy()) return;
  QString why;
  if (!canResume(run_id, &why)) {
    showBanner(why);
    return;
  }
  showBanner(QString());
  live_points_.clear();
  charts_->clear();
  status_->reset();
  resuming_run_id_ = run_id;
  appendLog(LogLevel::Info, tr("Resuming run %1 from its last checkpoint").arg(run_id));
  controller_->resume(run_id, database_path_);
}

void MainWindow::stopRunAndClose() {
  if (!controller_->busy()) {
    close();
    return;
  }
  close_when_stopped_ = true;
  appendLog(LogLevel::Info, tr("Stopping the run before quitting…"));
  controller_->stop();
}

void MainWindow::togglePause() { controller_->setPaused(controller_->state() == RunState::Running); }

void MainWindow::stopRun() {
  if (!controller_->busy()) return;
  appendLog(LogLevel::Info, tr("Stopping after the current step…"));
  controller_->stop();
}

void MainWindow::onRunStarted(qint64 run_id, QString description) {
  displayed_run_id_ = run_id;
  resumed_until_ = 0.0;
  if (run_id == resuming_run_id_) {
    // The curves continue where they were: the stored points up to the checkpoint first (the
    // runner has dropped the stale ones by now), then the live ones.
    try {
      if (const auto run = store_->getRun(run_id)) live_task_ = taskOfRun(run->params);
      charts_->setTask(live_task_);
      live_points_ = store_->metrics(run_id);
      for (const auto& point : live_points_) resumed_until_ = std::max(resumed_until_, point.wall_time);
      charts_->showPoints(live_points_);
    } catch (const std::exception& error) {
      appendLog(LogLevel::Error, tr("Cannot read run %1: %2").arg(run_id).arg(toQ(error.what())));
    }
  }
  resuming_run_id_ = 0;
  if (auto* fidelity = findChild<FidelityView*>()) fidelity->setRunActive(true);
  samples_->setLiveRun(run_id);
  if (pages_->currentWidget() == samples_) samples_->setRun(pageRunId());
  appendLog(LogLevel::Info, tr("%1 started: %2").arg(runTitle(run_id), description));
  refreshRuns();
  run_list_->setLiveNote(run_id, tr("0%"));
}

void MainWindow::onStartFailed(QString message) {
  resuming_run_id_ = 0;
  appendLog(LogLevel::Error, tr("The run could not start: %1").arg(message));
  showBanner(tr("The run could not start: %1").arg(message));
  status_->setState(tr("not started"));
  if (close_when_stopped_) close();
}

void MainWindow::onBatch(qint64 run_id, MailboxBatch batch) {
  if (run_id != controller_->runId()) return;  // from a run that is no longer the live one
  if (batch.environment) {
    auto it = batch.environment->find("device");
    if (it != batch.environment->end()) status_->setDevice(toQ(it->second));
  }
  for (const auto& line : batch.logs) appendLog(line.level, toQ(line.message));
  if (!batch.texts.empty()) samples_->addTexts(run_id, batch.texts);
  if (batch.progress) {
    if (progress_refresh_.isActive()) {
      pending_progress_ = *batch.progress;
    } else {
      showProgress(*batch.progress);
      progress_refresh_.start();
    }
  }
  if (resumed_until_ > 0.0)  // already loaded from the store when the resumed run started
    batch.metrics.erase(std::remove_if(batch.metrics.begin(), batch.metrics.end(),
                                       [this](const MetricPoint& p) { return p.wall_time <= resumed_until_; }),
                        batch.metrics.end());
  if (!batch.metrics.empty()) {
    bool evaluation = false;
    for (const auto& point : batch.metrics) evaluation = evaluation || point.key.rfind("eval/", 0) == 0;
    live_points_.insert(live_points_.end(), batch.metrics.begin(), batch.metrics.end());
    if (displayed_run_id_ == run_id) charts_->append(batch.metrics);
    // The store has the evaluation by now or within a second; the list shows it then.
    if (evaluation && !list_refresh_.isActive()) list_refresh_.start();
    if (evaluation)  // findChild walks the whole widget tree; batches arrive ~30 times a second
      if (auto* fidelity = findChild<FidelityView*>()) fidelity->runEvaluated(run_id);
  }
}

void MainWindow::showProgress(const ProgressInfo& progress) {
  status_->showProgress(progress);
  if (controller_->state() == RunState::Running)
    run_list_->setLiveNote(controller_->runId(), QStringLiteral("%1%").arg(status_->progressValue() / 10));
}

void MainWindow::flushProgress() {
  if (!pending_progress_) return;
  const ProgressInfo progress = *pending_progress_;
  pending_progress_.reset();
  showProgress(progress);
  progress_refresh_.start();
}

void MainWindow::onRunFinished(qint64 run_id, RunEnd run_end, QString error) {
  if (auto* fidelity = findChild<FidelityView*>()) fidelity->setRunActive(false);
  samples_->setLiveRun(0);
  flushProgress();  // the run's last progress, if the 5 Hz limit held it back
  progress_refresh_.stop();
  charts_->flushRedraws();  // and its last points, which the charts' paced redraws may hold back
  run_list_->setLiveNote(run_id, QString());
  switch (run_end) {
    case RunEnd::Completed:
      appendLog(LogLevel::Info, tr("%1 completed").arg(runTitle(run_id)));
      appendLog(LogLevel::Info, finalMetricsLine(run_id, QStringLiteral("completed")));
      status_->setState(tr("completed"));
      break;
    case RunEnd::Stopped:
      appendLog(LogLevel::Warning, tr("%1 stopped; what it recorded is kept").arg(runTitle(run_id)));
      appendLog(LogLevel::Info, finalMetricsLine(run_id, QStringLiteral("stopped")));
      status_->setState(tr("stopped"));
      break;
    case RunEnd::Failed:
      appendLog(LogLevel::Error, tr("%1 failed: %2").arg(runTitle(run_id), error));
      status_->setState(tr("failed"));
      showBanner(tr("Run %1 failed: %2").arg(run_id).arg(error));
      break;
  }
  refreshRuns();
  if (close_when_stopped_) close();
}

void MainWindow::onStateChanged(RunState state) {
  if (state != RunState::Idle) status_->setState(tr(runStateName(state)));
  const qint64 live = controller_->runId();
  if (live != 0 && state == RunState::Paused) run_list_->setLiveNote(live, tr("paused"));
  updateActions();
}

void MainWindow::updateActions() {
  const RunState state = controller_->state();
  const bool idle = state == RunState::Idle;
  start_action_->setEnabled(idle && form_->isValid());
  start_action_->setToolTip(form_->isValid() ? tr("Start the experiment (Ctrl+R)")
                                             : tr("Fix the experiment's problems first (listed under the form)"));
  pause_action_->setEnabled(state == RunState::Running || state == RunState::Paused);
  const bool paused = state == RunState::Paused;
  pause_action_->setText(paused ? tr("&Resume") : tr("&Pause"));
  pause_action_->setIcon(style()->standardIcon(paused ? QStyle::SP_MediaPlay : QStyle::SP_MediaPause));
  stop_action_->setEnabled(state == RunState::Starting || state == RunState::Running || state == RunState::Paused);
  QString why;
  const bool resumable = idle && run_list_ && run_table_ &&
                         canResume(run_list_->runIdAt(run_table_->currentIndex().row()), &why);
  resume_action_->setEnabled(resumable);
  resume_action_->setToolTip(idle ? why : tr("A run is in progress"));
  new_db_action_->setEnabled(idle);
  open_db_action_->setEnabled(idle);
  form_->setEditable(idle);
}

// ---- log, banner, close -----------------------------------------------------------------

void MainWindow::appendLog(LogLevel level, const QString& message) {
  const QString time = QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss"));
  QString style;  // plain lines take the palette's text colour, so they follow light and dark
  QString prefix;
  if (level == LogLevel::Warning) {
    style = QStringLiteral(" style='color:#d08000'");
    prefix = tr("warning: ");
  } else if (level == LogLevel::Error) {
    style = QStringLiteral(" style='color:#e04836'");  // mid-tone reds and ambers read on both
    prefix = tr("error: ");
  }
  log_->appendHtml(QStringLiteral("<span style='color:#888888'>%1</span> <span%2>%3%4</span>")
                       .arg(time, style, prefix, message.toHtmlEscaped()));
}

// The line `distill run` prints at its end (app/cli/main.cpp), so the window's log and a
// terminal read the same: "run 3 completed: teacher acc 0.8993, student acc 0.8953, ...".
QString MainWindow::finalMetricsLine(qint64 run_id, const QString& status) const {
  std::map<std::string, double> final;
  std::string task = "image";
  try {
    if (store_)
      if (auto run = store_->getRun(run_id)) {
        final = run->final_metrics;
        task = taskOfRun(run->params);
      }
  } catch (const std::exception&) {
  }
  return tr("run %1 %2: %3").arg(run_id).arg(status, QString::fromStdString(headlineSummary(taskDisplay(task), final)));
}

QString MainWindow::logText() const { return log_->toPlainText(); }

void MainWindow::showBanner(const QString& message) {
  banner_->setText(message);
  banner_->setVisible(!message.isEmpty());
}

QString MainWindow::bannerText() const { return banner_->isVisible() ? banner_->text() : QString(); }

void MainWindow::closeEvent(QCloseEvent* event) {
  if (!controller_->busy()) {
    if (settings_restored_) saveSettings();
    event->accept();
    return;
  }
  event->ignore();
  if (close_when_stopped_) return;  // already stopping; closes when the run ends
  if (!confirm_close_ || !confirm_close_()) return;
  // Stop through the RunControl and close once the worker reports the run recorded as
  // stopped; the window stays responsive meanwhile.
  close_when_stopped_ = true;
  appendLog(LogLevel::Info, tr("Stopping the run before closing…"));
  controller_->stop();
}

// ---- settings ---------------------------------------------------------------------------

void MainWindow::restoreSettings() {
  auto settings = openSettings();
  if (restoreWindowLayout(*this, *settings)) docks_sized_ = true;
  recent_->load(*settings);
  settings_restored_ = true;
}

void MainWindow::saveSettings() const {
  auto settings = openSettings();
  saveWindowLayout(*this, *settings);
  recent_->save(*settings);
  settings->setValue(QLatin1String(kLastDatabaseKey), QFileInfo(database_path_).absoluteFilePath());
}

}  // namespace distill::ui
