#include "ui/sweeps_view.h"

#include <QComboBox>
#include <QContextMenuEvent>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QThread>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/store/run_import.h"
#include "core/store/run_store.h"
#include "core/sweep/slurm.h"
#include "core/sweep/sweep_control.h"
#include "core/sweep/sweep_manifest.h"
#include "core/tasks/task_catalog.h"
#include "ui/figure.h"
#include "ui/sweep_charts.h"
#include "ui/sweep_dialog.h"

namespace distill::ui {
namespace {

QString toQ(const std::string& text) { return QString::fromStdString(text); }

constexpr const char* kAgreement = "eval/agreement";

QString progressText(const SweepRow& row) {
  if (row.progress < 0) return row.state == "pending" || row.state == "starting" ? QString() : QStringLiteral("–");
  QString text = QStringLiteral("%1%").arg(std::lround(row.progress * 100));
  if (row.state == "running" && !row.phase.empty())
    text += QStringLiteral(" · %1 epoch %2").arg(toQ(row.phase)).arg(row.epoch, 0, 'f', 2);
  return text;
}

QColor stateColor(const std::string& state) {
  if (state == "completed") return QColor(0x1b, 0x7f, 0x3b);
  if (state == "running" || state == "starting") return QColor(0x1f, 0x5f, 0xbf);
  if (state == "pending" || state == "requeued") return QColor(0x70, 0x70, 0x70);
  if (state == "stopped" || state == "interrupted" || state == "lost") return QColor(0x9a, 0x6a, 0x00);
  return QColor(0xb0, 0x00, 0x20);  // failed, cancelled, timeout, out_of_memory, ...
}

// A plot for the page: interactions off (a sweep's chart is read, not explored), a context menu
// that exports it.
QCustomPlot* makePlot(const QString& object_name) {
  auto* plot = new QCustomPlot;
  plot->setObjectName(object_name);
  plot->setMinimumSize(240, 150);  // explicit: the layout's own minimum grows with labels
  plot->setContextMenuPolicy(Qt::CustomContextMenu);
  return plot;
}

}  // namespace

QString distillProgram() {
  const QString configured = qEnvironmentVariable("DISTILL_CLI");
  if (!configured.isEmpty()) return configured;
  const QDir here(QCoreApplication::applicationDirPath());
  for (const QString& candidate : {here.filePath(QStringLiteral("distill")), here.filePath(QStringLiteral("../cli/distill"))}) {
    const QFileInfo info(candidate);
    if (info.isFile() && info.isExecutable()) return info.canonicalFilePath();
  }
  return QStringLiteral("distill");
}

struct SweepsView::Snapshot {
  quint64 generation = 0;
  std::vector<SweepRef> sweeps;
  SweepResults results;
  bool has_results = false;
  QString import_note;
  bool imported = false;
  bool pending_found = false;  // the submitted sweep's folder has its manifest now
  QString error;
};

SweepsView::SweepsView(QWidget* parent) : QWidget(parent) {
  sweep_box_ = new QComboBox;
  sweep_box_->setObjectName(QStringLiteral("sweep-list"));
  sweep_box_->setMinimumContentsLength(16);
  sweep_box_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  auto* add_folder = new QPushButton(tr("Add folder…"));
  add_folder->setToolTip(tr("Show a sweep's folder (the --out of distill sweep run)"));
  refresh_button_ = new QPushButton(tr("Refresh"));
  import_button_ = new QPushButton(tr("Import"));
  import_button_->setToolTip(tr("Import the sweep's runs into this database (distill sweep import)"));
  compare_button_ = new QPushButton(tr("Compare selected"));
  compare_button_->setObjectName(QStringLiteral("sweep-compare"));
  cancel_button_ = new QPushButton(tr("Cancel sweep"));
  cancel_button_->setObjectName(QStringLiteral("sweep-cancel"));
  cancel_button_->setToolTip(tr("scancel its unfinished Slurm tasks, or stop the local run (distill sweep cancel)"));
  resubmit_button_ = new QPushButton(tr("Resubmit failed"));
  resubmit_button_->setObjectName(QStringLiteral("sweep-resubmit"));
  resubmit_button_->setToolTip(
      tr("Run again the runs that failed, were cancelled or ran out of time or memory (distill sweep resubmit --failed)"));
  auto* submit = new QPushButton(tr("Submit sweep…"));
  submit->setObjectName(QStringLiteral("sweep-submit"));
  submit->setToolTip(tr("A sweep over the experiment in the form"));
  status_ = new QLabel;
  status_->setObjectName(QStringLiteral("sweep-status"));
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  // Two rows, so that the page fits beside the form and the run list on a 1280-pixel screen.
  auto* bar = new QHBoxLayout;
  bar->addWidget(new QLabel(tr("Sweep")));
  bar->addWidget(sweep_box_, 1);
  bar->addWidget(refresh_button_);
  auto* actions = new QHBoxLayout;
  for (QPushButton* b : {add_folder, import_button_, compare_button_, cancel_button_, resubmit_button_, submit})
    actions->addWidget(b);
  actions->addStretch(1);

  table_ = new QTableWidget;
  table_->setObjectName(QStringLiteral("sweep-runs"));
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setAlternatingRowColors(true);
  table_->setShowGrid(false);
  table_->setWordWrap(false);
  table_->verticalHeader()->hide();
  table_->verticalHeader()->setDefaultSectionSize(22);
  table_->horizontalHeader()->setHighlightSections(false);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setSortingEnabled(false);
  detail_ = new QPlainTextEdit;
  detail_->setObjectName(QStringLiteral("sweep-detail"));
  detail_->setReadOnly(true);
  detail_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  detail_->setMaximumHeight(90);
  detail_->setPlaceholderText(tr("Select a run: a failed or cancelled run shows its error and the end of its log here"));

  metric_box_ = new QComboBox;
  metric_box_->setObjectName(QStringLiteral("sweep-metric"));
  x_box_ = new QComboBox;
  x_box_->setObjectName(QStringLiteral("sweep-x-axis"));
  series_box_ = new QComboBox;
  series_box_->setObjectName(QStringLiteral("sweep-series-axis"));
  for (QComboBox* box : {metric_box_, x_box_, series_box_}) {
    box->setMinimumContentsLength(8);
    box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  }
  auto* export_button = new QPushButton(tr("Export chart…"));
  auto* chart_bar = new QHBoxLayout;
  chart_bar->addWidget(new QLabel(tr("Metric")));
  chart_bar->addWidget(metric_box_, 1);
  chart_bar->addWidget(new QLabel(tr("X")));
  chart_bar->addWidget(x_box_, 1);
  chart_bar->addWidget(new QLabel(tr("Lines")));
  chart_bar->addWidget(series_box_, 1);
  chart_bar->addWidget(export_button);

  by_axes_ = makePlot(QStringLiteral("sweep-chart-axes"));
  parallel_ = makePlot(QStringLiteral("sweep-chart-parallel"));
  pareto_ = makePlot(QStringLiteral("sweep-chart-pareto"));
  chart_tabs_ = new QTabWidget;
  chart_tabs_->setDocumentMode(true);
  chart_tabs_->addTab(by_axes_, tr("By axes"));
  chart_tabs_->addTab(parallel_, tr("Parallel coordinates"));
  chart_tabs_->addTab(pareto_, tr("Pareto: size"));

  auto* top = new QWidget;
  auto* top_layout = new QVBoxLayout(top);
  top_layout->setContentsMargins(0, 0, 0, 0);
  top_layout->addWidget(table_, 1);
  top_layout->addWidget(detail_);
  auto* bottom = new QWidget;
  auto* bottom_layout = new QVBoxLayout(bottom);
  bottom_layout->setContentsMargins(0, 0, 0, 0);
  bottom_layout->addLayout(chart_bar);
  bottom_layout->addWidget(chart_tabs_, 1);
  auto* splitter = new QSplitter(Qt::Vertical);
  splitter->addWidget(top);
  splitter->addWidget(bottom);
  splitter->setStretchFactor(0, 2);
  splitter->setStretchFactor(1, 3);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(bar);
  layout->addLayout(actions);
  layout->addWidget(status_);
  layout->addWidget(splitter, 1);

  timer_.setInterval(3000);
  connect(&timer_, &QTimer::timeout, this, [this] { refresh(); });
  connect(sweep_box_, &QComboBox::currentIndexChanged, this, [this] {
    if (filling_) return;
    wanted_id_ = selectedSweepId();
    results_ = SweepResults{};
    refresh();
  });
  connect(refresh_button_, &QPushButton::clicked, this, [this] { refresh(); });
  connect(import_button_, &QPushButton::clicked, this, &SweepsView::importSweep);
  connect(compare_button_, &QPushButton::clicked, this, &SweepsView::compareSelected);
  connect(submit, &QPushButton::clicked, this, &SweepsView::openSubmitDialog);
  connect(cancel_button_, &QPushButton::clicked, this, [this] {
    const auto answer = QMessageBox::question(
        this, tr("Cancel sweep"),
        tr("Cancel sweep %1? Its queued Slurm tasks are cancelled (scancel) and its running runs stop; "
           "a local run stops between steps and can be resumed with distill sweep run.")
            .arg(toQ(results_.ref.id)));
    if (answer == QMessageBox::Yes) cancelSweep();
  });
  connect(resubmit_button_, &QPushButton::clicked, this, [this] {
    int failed = 0;
    for (const auto& row : results_.rows) failed += row.index >= 0 && isFailedState(row.state) ? 1 : 0;
    const auto answer = QMessageBox::question(
        this, tr("Resubmit failed"),
        tr("Run the %n failed run(s) of sweep %1 again (%2 backend)? Each resumes from its last checkpoint when it has one.",
           nullptr, failed)
            .arg(toQ(results_.ref.id), toQ(results_.backend)));
    if (answer == QMessageBox::Yes) resubmitFailed();
  });
  connect(add_folder, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("A sweep's folder"), QFileInfo(database_path_).absolutePath());
    if (!dir.isEmpty()) addFolder(dir);
  });
  for (QComboBox* box : {metric_box_, x_box_, series_box_})
    connect(box, &QComboBox::currentIndexChanged, this, [this] {
      if (filling_) return;
      fillTable();
      redrawCharts();
    });
  connect(table_, &QTableWidget::itemSelectionChanged, this, &SweepsView::showDetail);
  const auto exportAs = [this](Chart which) {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export chart"), QDir::home().filePath(QStringLiteral("sweep-chart.pdf")),
                                                      tr("PDF (*.pdf);;PNG (*.png);;SVG (*.svg)"));
    if (path.isEmpty()) return;
    try {
      exportChart(which, path);
    } catch (const std::exception& e) {
      QMessageBox::warning(this, tr("Export chart"), toQ(e.what()));
    }
  };
  connect(export_button, &QPushButton::clicked, this,
          [this, exportAs] { exportAs(static_cast<Chart>(chart_tabs_->currentIndex())); });
  for (Chart which : {Chart::ByAxes, Chart::Parallel, Chart::Pareto}) {
    QCustomPlot* plot = chart(which);
    connect(plot, &QWidget::customContextMenuRequested, this, [this, plot, which, exportAs](const QPoint& pos) {
      QMenu menu(this);
      menu.addAction(tr("Export…"), this, [exportAs, which] { exportAs(which); });
      menu.exec(plot->mapToGlobal(pos));
    });
  }
  redrawCharts();
  updateActions();
}

SweepsView::~SweepsView() {
  timer_.stop();
  for (QThread* thread : {worker_, action_}) {
    if (!thread) continue;
    thread->disconnect(this);
    thread->wait();
    delete thread;
  }
}

void SweepsView::setDatabasePath(const QString& path) {
  database_path_ = path;
  ++generation_;  // a result for the previous database is dropped
  results_ = SweepResults{};
  wanted_id_.clear();
  if (isVisible()) refresh();
}

void SweepsView::addFolder(const QString& folder) {
  const QString absolute = QFileInfo(folder).absoluteFilePath();
  if (!folders_.contains(absolute)) folders_ << absolute;
  try {
    if (const auto manifest = readManifest(absolute.toStdString())) wanted_id_ = manifest->id;
  } catch (const std::exception&) {
  }
  refresh();
}

void SweepsView::setRefreshInterval(int milliseconds) { timer_.setInterval(std::max(100, milliseconds)); }

QCustomPlot* SweepsView::chart(Chart which) const {
  switch (which) {
    case Chart::ByAxes: return by_axes_;
    case Chart::Parallel: return parallel_;
    case Chart::Pareto: return pareto_;
  }
  return by_axes_;
}

std::string SweepsView::selectedSweepId() const { return sweep_box_->currentData().toString().toStdString(); }

void SweepsView::refresh(bool import_first) {
  if (worker_) {
    pending_refresh_ = true;
    pending_import_ = pending_import_ || import_first;
    return;
  }
  const quint64 generation = ++generation_;
  const std::string db = database_path_.toStdString();
  std::vector<std::string> folders;
  for (const QString& f : folders_) folders.push_back(f.toStdString());
  const std::string selected = wanted_id_.empty() ? selectedSweepId() : wanted_id_;
  const std::string pending = pending_folder_.toStdString();
  worker_ = QThread::create([this, generation, db, folders, selected, pending, import_first] {
    auto snapshot = std::make_shared<Snapshot>();
    snapshot->generation = generation;
    try {
      std::string wanted = selected;
      if (!pending.empty())
        if (const auto manifest = readManifest(pending)) {
          wanted = manifest->id;
          snapshot->pending_found = true;
        }
      std::unique_ptr<RunStore> store;
      if (!db.empty() && std::filesystem::exists(db)) store = std::make_unique<RunStore>(db, RunStore::Mode::ReadOnly);
      snapshot->sweeps = findSweeps(store.get(), folders);
      const auto chosen = std::find_if(snapshot->sweeps.begin(), snapshot->sweeps.end(),
                                       [&](const SweepRef& r) { return r.id == wanted; });
      if (!snapshot->sweeps.empty()) {
        const SweepRef ref = chosen != snapshot->sweeps.end() ? *chosen : snapshot->sweeps.front();
        if (import_first && !ref.folder.empty() && !db.empty()) {
          std::vector<std::string> files;
          if (const auto manifest = readManifest(ref.folder))
            for (const auto& task : manifest->tasks)
              if (std::filesystem::is_regular_file(taskDatabase(ref.folder, task.hash)))
                files.push_back(taskDatabase(ref.folder, task.hash));
          const ImportReport report = importRuns(db, files);
          snapshot->imported = true;
          snapshot->import_note = QStringLiteral("imported: %1 added, %2 updated, %3 unchanged")
                                      .arg(report.count(ImportedRun::Action::Added))
                                      .arg(report.count(ImportedRun::Action::Updated))
                                      .arg(report.count(ImportedRun::Action::Unchanged));
          if (!store) store = std::make_unique<RunStore>(db, RunStore::Mode::ReadOnly);
          snapshot->sweeps = findSweeps(store.get(), folders);
        }
        SlurmClient slurm;
        snapshot->results = readSweep(ref, store.get(), &slurm);
        snapshot->has_results = true;
      }
    } catch (const std::exception& e) {
      snapshot->error = toQ(e.what());
    }
    QMetaObject::invokeMethod(this, [this, snapshot] { apply(snapshot); }, Qt::QueuedConnection);
  });
  connect(worker_, &QThread::finished, this, [this] {
    worker_->deleteLater();
    worker_ = nullptr;
    if (pending_refresh_) {
      const bool import = pending_import_;
      pending_refresh_ = pending_import_ = false;
      refresh(import);
    }
  });
  refresh_button_->setEnabled(false);
  worker_->start();
}

void SweepsView::apply(std::shared_ptr<Snapshot> snapshot) {
  refresh_button_->setEnabled(true);
  if (snapshot->generation != generation_) return;  // a newer request (or another database) supersedes it
  filling_ = true;
  sweeps_ = snapshot->sweeps;
  const std::string shown = snapshot->has_results ? snapshot->results.ref.id : std::string();
  sweep_box_->clear();
  for (const auto& ref : sweeps_) {
    QString text = toQ(ref.id);
    if (ref.imported > 0) text += tr("  (%n imported)", nullptr, ref.imported);
    if (ref.folder.empty()) text += tr("  (no folder)");
    sweep_box_->addItem(text, toQ(ref.id));
    sweep_box_->setItemData(sweep_box_->count() - 1, toQ(ref.folder.empty() ? std::string("only its imported runs") : ref.folder),
                            Qt::ToolTipRole);
  }
  sweep_box_->setCurrentIndex(std::max(0, sweep_box_->findData(toQ(shown))));
  if (!shown.empty() && wanted_id_ == shown) wanted_id_.clear();
  if (snapshot->pending_found) pending_folder_.clear();
  filling_ = false;
  if (snapshot->has_results) results_ = std::move(snapshot->results);
  else results_ = SweepResults{};

  QStringList status;
  if (!snapshot->error.isEmpty()) status << tr("Cannot read the sweeps: %1").arg(snapshot->error);
  if (sweeps_.empty() && snapshot->error.isEmpty())
    status << tr("No sweep yet: run one (distill sweep run, or Submit sweep…) or add its folder");
  if (snapshot->has_results) {
    status << toQ(results_.summary());
    if (!results_.backend.empty()) status << toQ(results_.backend);
    if (!results_.slurm_source.empty()) status << tr("Slurm: %1").arg(toQ(results_.slurm_source));
    if (!results_.problem.empty()) status << toQ(results_.problem);
  }
  if (!snapshot->import_note.isEmpty()) status << snapshot->import_note;
  status << tr("refreshed %1").arg(QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss")));
  status_->setText(status.join(QStringLiteral("  ·  ")));

  fillMetricChoices();
  fillTable();
  redrawCharts();
  if (snapshot->imported) emit runsImported();
  updateActions();
  const bool going_on = (snapshot->has_results && !results_.allFinal()) || !pending_folder_.isEmpty() ||
                        QDateTime::currentMSecsSinceEpoch() < follow_until_ms_;
  if (going_on && isVisible()) timer_.start();
  else timer_.stop();
  emit refreshed();
  if (compare_after_refresh_) {
    compare_after_refresh_ = false;
    compareSelected();
  }
}

std::string SweepsView::currentMetric() const { return metric_box_->currentData().toString().toStdString(); }

void SweepsView::fillMetricChoices() {
  filling_ = true;
  std::set<std::string> keys;
  std::string task;
  for (const auto& row : results_.rows) {
    for (const auto& [key, value] : row.final_metrics)
      if (key.rfind("eval/", 0) == 0) keys.insert(key);
    if (task.empty()) task = row.task;
  }
  const TaskDisplay display = taskDisplay(task.empty() ? "image" : task);
  const QString previous = metric_box_->currentData().toString();
  metric_box_->clear();
  for (const auto& key : keys) metric_box_->addItem(toQ(metricInfo(key).label), toQ(key));
  int index = metric_box_->findData(previous);
  if (index < 0) index = metric_box_->findData(toQ(display.student_quality));
  metric_box_->setCurrentIndex(std::max(0, index));

  const QString previous_x = x_box_->currentData().toString();
  const QString previous_series = series_box_->currentData().toString();
  x_box_->clear();
  series_box_->clear();
  series_box_->addItem(tr("(one line)"), QString());
  for (const auto& axis : results_.axes) {
    x_box_->addItem(toQ(axis), toQ(axis));
    series_box_->addItem(toQ(axis), toQ(axis));
  }
  index = x_box_->findData(previous_x);
  if (index < 0)  // the first axis that is not the seed: seeds make the error bars
    for (int i = 0; i < x_box_->count() && index < 0; ++i)
      if (x_box_->itemData(i).toString() != QLatin1String("seed")) index = i;
  x_box_->setCurrentIndex(std::max(0, index));
  series_box_->setCurrentIndex(std::max(0, series_box_->findData(previous_series)));
  filling_ = false;
}

void SweepsView::fillTable() {
  std::set<std::string> selected;
  for (const QModelIndex& index : table_->selectionModel()->selectedRows())
    selected.insert(table_->item(index.row(), 0)->data(Qt::UserRole).toString().toStdString());
  const std::string metric = currentMetric();
  QStringList headers{tr("#"), tr("State"), tr("Progress")};
  for (const auto& axis : results_.axes) headers << toQ(axis);
  const MetricInfo metric_info = metricInfo(metric.empty() ? std::string(kAgreement) : metric);
  const MetricInfo agreement_info = metricInfo(kAgreement);
  headers << toQ(metricAxisLabel(metric_info));
  if (metric != kAgreement) headers << toQ(metricAxisLabel(agreement_info));
  headers << tr("Student parameters") << tr("Slurm job") << tr("Run");
  table_->blockSignals(true);
  table_->clearContents();
  table_->setColumnCount(headers.size());
  table_->setHorizontalHeaderLabels(headers);
  table_->setRowCount(static_cast<int>(results_.rows.size()));
  for (int r = 0; r < static_cast<int>(results_.rows.size()); ++r) {
    const SweepRow& row = results_.rows[r];
    int column = 0;
    const auto set = [&](const QString& text, const QString& tip = QString()) {
      auto* item = new QTableWidgetItem(text);
      if (!tip.isEmpty()) item->setToolTip(tip);
      table_->setItem(r, column++, item);
      return item;
    };
    set(row.index < 0 ? QStringLiteral("-") : QString::number(row.index))->setData(Qt::UserRole, toQ(row.hash));
    QString state_tip = row.slurm.empty() ? QString() : tr("Slurm: %1").arg(toQ(row.slurm));
    if (row.source == "heartbeat") state_tip += (state_tip.isEmpty() ? "" : "\n") + tr("from its heartbeat (Slurm does not tell)");
    if (!row.note.empty()) state_tip += (state_tip.isEmpty() ? "" : "\n") + toQ(row.note);
    if (!row.error.empty()) state_tip += (state_tip.isEmpty() ? "" : "\n") + toQ(row.error);
    auto* state = set(toQ(row.state), state_tip);
    state->setForeground(stateColor(row.state));
    set(progressText(row));
    for (const auto& axis : results_.axes) {
      QString value;
      for (const auto& [k, v] : row.axes)
        if (k == axis) value = toQ(v);
      set(value);
    }
    const auto metricCell = [&](const MetricInfo& info) {
      const auto it = row.final_metrics.find(info.key);
      auto* item = set(it == row.final_metrics.end() ? QString() : toQ(formatMetricValue(info, it->second)));
      item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    };
    metricCell(metric_info);
    if (metric != kAgreement) metricCell(agreement_info);
    set(row.student_parameters > 0 ? QLocale().toString(static_cast<qlonglong>(row.student_parameters)) : QString())
        ->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    set(toQ(row.slurm_job));
    set(row.main_run_id > 0 ? QString::number(row.main_run_id) : QString(),
        row.main_run_id > 0 ? tr("run %1 of this database").arg(row.main_run_id) : tr("not imported yet"));
  }
  table_->resizeColumnsToContents();
  for (int r = 0; r < table_->rowCount(); ++r)
    if (selected.count(table_->item(r, 0)->data(Qt::UserRole).toString().toStdString()))
      table_->selectionModel()->select(table_->model()->index(r, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
  table_->blockSignals(false);
  showDetail();
}

void SweepsView::redrawCharts() {
  const std::string metric = currentMetric();
  const MetricInfo info = metricInfo(metric.empty() ? std::string("eval/student_acc") : metric);
  const std::string x = x_box_->currentData().toString().toStdString();
  const std::string series = series_box_->currentData().toString().toStdString();
  drawMetricByAxes(*by_axes_, groupByAxes(results_.rows, metric, x, series == x ? std::string() : series), info);
  drawParallelCoordinates(*parallel_, parallelCoordinates(results_.rows, results_.axes, metric), info);
  std::string task;
  for (const auto& row : results_.rows)
    if (task.empty()) task = row.task;
  const TaskDisplay display = taskDisplay(task.empty() ? "image" : task);
  const MetricInfo quality = metricInfo(display.student_quality);
  const MetricInfo agreement = metricInfo(display.agreement.empty() ? std::string(kAgreement) : display.agreement);
  drawPareto(*pareto_, paretoFront(results_.rows, quality.key, quality.higher_is_better), quality,
             paretoFront(results_.rows, agreement.key, agreement.higher_is_better), agreement);
}

void SweepsView::showDetail() {
  const auto rows = table_->selectionModel()->selectedRows();
  if (rows.size() != 1) {
    detail_->clear();
    return;
  }
  const std::string hash = table_->item(rows.front().row(), 0)->data(Qt::UserRole).toString().toStdString();
  for (const auto& row : results_.rows) {
    if (row.hash != hash || (hash.empty() && row.name != table_->item(rows.front().row(), 0)->text().toStdString())) continue;
    QString text = QStringLiteral("%1: %2").arg(toQ(row.name), toQ(row.state));
    if (!row.slurm.empty()) text += tr(" (Slurm: %1, job %2)").arg(toQ(row.slurm), toQ(row.slurm_job));
    if (row.source == "heartbeat") text += tr(" (from its heartbeat: Slurm does not tell)");
    if (!row.note.empty()) text += "\n" + toQ(row.note);
    if (!row.error.empty()) text += "\n" + toQ(row.error);
    if (!row.log_tail.empty()) text += "\n" + toQ(row.log_tail);
    detail_->setPlainText(text);
    return;
  }
}

void SweepsView::compareSelected() {
  QList<qint64> ids;
  bool missing = false;
  for (const QModelIndex& index : table_->selectionModel()->selectedRows()) {
    const auto& row = results_.rows.at(static_cast<size_t>(index.row()));
    if (row.main_run_id > 0) ids << row.main_run_id;
    else if (!row.uuid.empty()) missing = true;
  }
  if (missing && !compare_after_refresh_ && !database_path_.isEmpty()) {
    compare_after_refresh_ = true;  // import, then compare what the rows then have
    refresh(/*import_first=*/true);
    return;
  }
  if (ids.isEmpty()) {
    status_->setText(tr("Select runs that have started (their database has a run) to compare them"));
    return;
  }
  emit compareRequested(ids);
}

QString SweepsView::submitSweep(const SweepSubmission& submission) {
  if (!QDir().mkpath(submission.folder)) return tr("Cannot create the folder %1").arg(submission.folder);
  const QString file = QDir(submission.folder).filePath(QStringLiteral("sweep.yaml"));
  QFile out(file);
  if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate) || out.write(submission.sweep_text.toUtf8()) < 0)
    return tr("Cannot write %1").arg(file);
  out.close();
  // Its own process, which goes on when the window closes; `distill sweep status` follows it.
  QProcess process;
  process.setProgram(distillProgram());
  QStringList arguments{QStringLiteral("sweep"), QStringLiteral("run"), file};
  arguments << submission.run_arguments;
  if (!database_path_.isEmpty()) arguments << QStringLiteral("--db") << database_path_;
  process.setArguments(arguments);
  process.setWorkingDirectory(submission.folder);
  const QString log = QDir(submission.folder).filePath(QStringLiteral("sweep-run.log"));
  process.setStandardOutputFile(log, QIODevice::Append);
  process.setStandardErrorFile(log, QIODevice::Append);
  if (!process.startDetached()) return tr("Cannot start %1: %2").arg(distillProgram(), process.errorString());
  status_->setText(tr("Submitted %n run(s): %1 (its output: %2)", nullptr, submission.runs).arg(submission.folder, log));
  const QString absolute = QFileInfo(submission.folder).absoluteFilePath();
  if (!folders_.contains(absolute)) folders_ << absolute;
  pending_folder_ = absolute;  // its id is known once its process has planned it: shown then
  refresh();
  if (isVisible()) timer_.start();
  return QString();
}

void SweepsView::openSubmitDialog() {
  if (!base_config_) return;
  const QString base_folder = database_path_.isEmpty() ? QDir::currentPath() : QFileInfo(database_path_).absolutePath();
  SweepDialog dialog(base_config_(), QDir(base_folder).filePath(QStringLiteral("sweeps/sweep")), this);
  if (dialog.exec() != QDialog::Accepted) return;
  const QString error = submitSweep(dialog.submission());
  if (!error.isEmpty()) QMessageBox::warning(this, tr("Submit sweep"), error);
}

bool SweepsView::canCancel() const {
  if (results_.ref.folder.empty() || results_.backend.empty()) return false;
  if (results_.local_runner > 0) return true;
  return std::any_of(results_.rows.begin(), results_.rows.end(),
                     [](const SweepRow& row) { return !row.slurm_job.empty() && !isFinalState(row.state); });
}

bool SweepsView::canResubmit() const {
  if (results_.ref.folder.empty() || results_.backend.empty()) return false;
  return std::any_of(results_.rows.begin(), results_.rows.end(),
                     [](const SweepRow& row) { return row.index >= 0 && isFailedState(row.state); });
}

void SweepsView::updateActions() {
  cancel_button_->setEnabled(!action_ && canCancel());
  resubmit_button_->setEnabled(!action_ && canResubmit());
}

void SweepsView::runAction(const QString& busy, std::function<QString()> work) {
  action_ = QThread::create([this, work = std::move(work)] {
    QString message;
    try {
      message = work();
    } catch (const std::exception& e) {
      message = toQ(e.what());
    }
    QMetaObject::invokeMethod(
        this,
        [this, message] {
          status_->setText(message);
          follow_until_ms_ = QDateTime::currentMSecsSinceEpoch() + 30'000;
          emit actionFinished(message);
          refresh();
        },
        Qt::QueuedConnection);
  });
  connect(action_, &QThread::finished, this, [this] {
    action_->deleteLater();
    action_ = nullptr;
    updateActions();
  });
  status_->setText(busy);
  updateActions();
  action_->start();
  updateActions();
}

void SweepsView::cancelSweep() {
  if (action_ || results_.ref.folder.empty()) return;
  const std::string folder = results_.ref.folder;
  runAction(tr("Cancelling sweep %1…").arg(toQ(results_.ref.id)), [folder]() -> QString {
    const auto manifest = readManifest(folder);
    if (!manifest) return QObject::tr("Cannot cancel: %1 holds no sweep.json").arg(toQ(folder));
    SlurmClient slurm;
    const CancelResult result = distill::cancelSweep(folder, *manifest, sweepStatus(folder, *manifest, &slurm), slurm);
    return QObject::tr("Cancel sweep: %1").arg(toQ(result.message));
  });
}

void SweepsView::resubmitFailed() {
  if (action_ || results_.ref.folder.empty()) return;
  const std::string folder = results_.ref.folder;
  const QString database = database_path_;
  const QString program = distillProgram();
  runAction(tr("Resubmitting the failed runs of %1…").arg(toQ(results_.ref.id)), [folder, database, program]() -> QString {
    const auto manifest = readManifest(folder);
    if (!manifest) return QObject::tr("Cannot resubmit: %1 holds no sweep.json").arg(toQ(folder));
    SlurmClient slurm;
    const std::vector<std::string> todo = failedTasks(sweepStatus(folder, *manifest, &slurm));
    if (todo.empty()) return QObject::tr("Nothing to resubmit: no run of the sweep failed, was cancelled or ran out of time or memory");
    if (const LocalRunner runner = localRunner(folder); runner.pid > 0 && manifest->backend == "local")
      return QObject::tr("Not resubmitted: process %1 on %2 is running this sweep; wait for it or cancel it")
          .arg(runner.pid)
          .arg(toQ(runner.host));
    // `distill sweep resubmit --failed` in a process of its own, which goes on when the window
    // closes (local workers, or sbatch), as a sweep submitted from here does.
    QProcess process;
    process.setProgram(program);
    QStringList arguments{QStringLiteral("sweep"), QStringLiteral("resubmit"), toQ(folder), QStringLiteral("--failed")};
    if (!database.isEmpty()) arguments << QStringLiteral("--db") << database;
    process.setArguments(arguments);
    process.setWorkingDirectory(toQ(folder));
    const QString log = QDir(toQ(folder)).filePath(QStringLiteral("sweep-run.log"));
    process.setStandardOutputFile(log, QIODevice::Append);
    process.setStandardErrorFile(log, QIODevice::Append);
    if (!process.startDetached())
      return QObject::tr("Cannot start %1: %2").arg(program, process.errorString());
    return QObject::tr("Resubmitted %n failed run(s) (distill sweep resubmit --failed; its output: %1)", nullptr,
                       static_cast<int>(todo.size()))
        .arg(log);
  });
}

void SweepsView::exportChart(Chart which, const QString& path) {
  writeChart(*chart(which), path);
  emit exported(path);
}

void SweepsView::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  refresh();
}

void SweepsView::hideEvent(QHideEvent* event) {
  QWidget::hideEvent(event);
  timer_.stop();
}

}  // namespace distill::ui
