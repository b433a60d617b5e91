#include "ui/run_browser.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

#include <set>

#include "core/tasks/task_catalog.h"
#include "core/metrics/smoothing.h"
#include "core/store/run_store.h"
#include "ui/run_table_model.h"

namespace distill::ui {

RunBrowser::RunBrowser(QWidget* parent) : QWidget(parent) {
  model_ = new RunTableModel(this);
  proxy_ = new RunFilterProxy(this);
  proxy_->setSourceModel(model_);

  filter_ = new QLineEdit;
  filter_->setObjectName(QStringLiteral("runFilter"));
  filter_->setClearButtonEnabled(true);
  filter_->setPlaceholderText(tr("Filter: words, or e.g.  agreement > 0.95 and distill.temperature = 4 and tag:baseline"));
  filter_->setToolTip(tr("Free text matches names, tags and notes. Fields: any config key (distill.temperature), "
                         "any metric's final value (eval/agreement or agreement), id, name, status, notes, starred, "
                         "created, duration, tag.\nOperators: = != < <= > >= ~ (contains), tag:x; and, or, not, "
                         "parentheses."));
  filter_error_ = new QLabel;
  filter_error_->setObjectName(QStringLiteral("filterError"));
  filter_error_->setStyleSheet(QStringLiteral("color: #b00020;"));
  filter_error_->hide();
  connect(filter_, &QLineEdit::textChanged, this, [this](const QString& text) { setFilter(text); });

  table_ = new QTableView;
  table_->setObjectName(QStringLiteral("runBrowserTable"));
  table_->setModel(proxy_);
  table_->setSortingEnabled(true);
  table_->sortByColumn(RunTableModel::Id, Qt::DescendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setAlternatingRowColors(true);
  table_->setShowGrid(false);
  table_->setWordWrap(false);
  table_->verticalHeader()->hide();
  table_->verticalHeader()->setDefaultSectionSize(22);
  table_->horizontalHeader()->setSectionsMovable(true);
  table_->horizontalHeader()->setContextMenuPolicy(Qt::CustomContextMenu);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setContextMenuPolicy(Qt::CustomContextMenu);
  const int widths[] = {24, 44, 260, 100, 120, 70, 50, 100, 110, 100, 60, 40, 40, 44, 80, 80, 80, 70, 120};
  for (int c = 0; c < RunTableModel::ColumnCount; ++c) table_->setColumnWidth(c, widths[c]);
  connect(table_->horizontalHeader(), &QWidget::customContextMenuRequested, this, &RunBrowser::showHeaderMenu);
  connect(table_, &QWidget::customContextMenuRequested, this, &RunBrowser::showRowMenu);
  connect(table_, &QAbstractItemView::doubleClicked, this, [this](const QModelIndex& index) {
    emit showRequested(proxy_->data(index, RunTableModel::kRunIdRole).toLongLong());
  });

  auto button = [this](const QString& text, const QString& tip, void (RunBrowser::*slot)()) {
    auto* b = new QPushButton(text);
    b->setToolTip(tip);
    connect(b, &QPushButton::clicked, this, slot);
    return b;
  };
  auto* actions = new QHBoxLayout;
  actions->addWidget(button(tr("Compare"), tr("Compare the selected runs (2 to 50)"), &RunBrowser::compareSelected));
  actions->addWidget(button(tr("Star"), tr("Star or unstar the selected runs"), &RunBrowser::toggleStarSelected));
  actions->addWidget(button(tr("Tags…"), tr("Edit the tags of the selected runs"), &RunBrowser::editTags));
  actions->addWidget(button(tr("Note…"), tr("Edit the note of the selected run"), &RunBrowser::editNote));
  actions->addWidget(button(tr("Rename…"), tr("Rename the selected run"), &RunBrowser::renameSelected));
  actions->addWidget(button(tr("Duplicate config"), tr("Load the selected run's config into the experiment form"),
                            &RunBrowser::duplicateSelected));
  actions->addStretch(1);
  actions->addWidget(button(tr("Delete…"), tr("Delete the selected runs"), &RunBrowser::deleteSelected));

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->addWidget(filter_);
  layout->addWidget(filter_error_);
  layout->addWidget(table_, 1);
  layout->addLayout(actions);

  confirm_delete_ = [this](int count) {
    return QMessageBox::question(this, tr("Delete runs?"),
                                 tr("Delete %n run(s) with their metrics, tags and checkpoint records? This cannot be "
                                    "undone.", nullptr, count),
                                 QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel) == QMessageBox::Yes;
  };
}

void RunBrowser::setStore(RunStore* store) {
  store_ = store;
  refresh();
}

void RunBrowser::refresh() {
  const QList<qint64> selected = selectedRunIds();
  if (!store_) {
    model_->setRuns({}, {});
    return;
  }
  try {
    auto runs = store_->listRuns();
    store_->loadParams(runs);
    // Each run's best value of its task's student metric (test accuracy for images).
    std::map<int64_t, double> best;
    std::set<std::string> tasks;
    for (const auto& run : runs) tasks.insert(taskOfRun(run.params));
    for (const auto& task : tasks) {
      const std::string key = taskDisplay(task).student_quality;
      if (key.empty()) continue;
      for (const auto& [id, value] : store_->bestValues(key, metricInfo(key).higher_is_better)) best[id] = value;
    }
    model_->setRuns(std::move(runs), std::move(best));
  } catch (const std::exception& e) {
    report(QString::fromStdString(e.what()));
  }
  setFilter(filter_->text());  // field names may have changed with the runs
  selectRuns(selected);
}

QString RunBrowser::setFilter(const QString& text) {
  if (filter_->text() != text) {
    const QSignalBlocker blocker(filter_);
    filter_->setText(text);
  }
  const QString error = proxy_->setQuery(text);
  filter_error_->setText(error);
  filter_error_->setVisible(!error.isEmpty());
  filter_->setStyleSheet(error.isEmpty() ? QString() : QStringLiteral("QLineEdit { border: 1px solid #b00020; }"));
  if (!error.isEmpty()) {
    // "column N: ..." -> put the cursor where the query is wrong.
    const int column = error.section(QLatin1Char(':'), 0, 0).section(QLatin1Char(' '), 1).toInt();
    if (column > 0 && filter_->hasFocus() == false) filter_->setCursorPosition(column - 1);
  }
  return error;
}

QList<qint64> RunBrowser::selectedRunIds() const {
  QList<qint64> ids;
  if (!table_->selectionModel()) return ids;
  for (const QModelIndex& index : table_->selectionModel()->selectedRows())
    ids << proxy_->data(index, RunTableModel::kRunIdRole).toLongLong();
  // In table order, so a comparison's colours follow what the user sees.
  std::sort(ids.begin(), ids.end(), [this](qint64 a, qint64 b) {
    return proxy_->mapFromSource(model_->index(model_->rowOf(a), 0)).row() <
           proxy_->mapFromSource(model_->index(model_->rowOf(b), 0)).row();
  });
  return ids;
}

QList<qint64> RunBrowser::visibleRunIds() const {
  QList<qint64> ids;
  for (int row = 0; row < proxy_->rowCount(); ++row)
    ids << proxy_->data(proxy_->index(row, 0), RunTableModel::kRunIdRole).toLongLong();
  return ids;
}

void RunBrowser::selectRuns(const QList<qint64>& ids) {
  table_->clearSelection();
  for (qint64 id : ids) {
    const int source_row = model_->rowOf(id);
    if (source_row < 0) continue;
    const QModelIndex index = proxy_->mapFromSource(model_->index(source_row, 0));
    if (index.isValid())
      table_->selectionModel()->select(index, QItemSelectionModel::Select | QItemSelectionModel::Rows);
  }
}

void RunBrowser::setColumnVisible(int column, bool visible) { table_->setColumnHidden(column, !visible); }
bool RunBrowser::isColumnVisible(int column) const { return !table_->isColumnHidden(column); }

void RunBrowser::showHeaderMenu(const QPoint& pos) {
  QMenu menu(this);
  for (int c = 0; c < RunTableModel::ColumnCount; ++c) {
    QAction* action = menu.addAction(model_->headerData(c, Qt::Horizontal, Qt::ToolTipRole).toString());
    action->setCheckable(true);
    action->setChecked(isColumnVisible(c));
    connect(action, &QAction::toggled, this, [this, c](bool on) { setColumnVisible(c, on); });
  }
  menu.exec(table_->horizontalHeader()->mapToGlobal(pos));
}

void RunBrowser::showRowMenu(const QPoint& pos) {
  QMenu menu(this);
  menu.addAction(tr("Compare"), this, &RunBrowser::compareSelected);
  menu.addAction(tr("Show charts"), this, [this] {
    const auto ids = selectedRunIds();
    if (!ids.isEmpty()) emit showRequested(ids.front());
  });
  menu.addSeparator();
  menu.addAction(tr("Star / unstar"), this, &RunBrowser::toggleStarSelected);
  menu.addAction(tr("Tags…"), this, &RunBrowser::editTags);
  menu.addAction(tr("Note…"), this, &RunBrowser::editNote);
  menu.addAction(tr("Rename…"), this, &RunBrowser::renameSelected);
  menu.addAction(tr("Duplicate config into the form"), this, &RunBrowser::duplicateSelected);
  menu.addSeparator();
  menu.addAction(tr("Delete…"), this, &RunBrowser::deleteSelected);
  menu.exec(table_->viewport()->mapToGlobal(pos));
}

void RunBrowser::report(const QString& message) {
  filter_error_->setText(message);
  filter_error_->setVisible(!message.isEmpty());
}

void RunBrowser::compareSelected() {
  const auto ids = selectedRunIds();
  if (ids.size() < 2 || ids.size() > 50) {
    report(tr("Select 2 to 50 runs to compare (%1 selected).").arg(ids.size()));
    return;
  }
  emit compareRequested(ids);
}

void RunBrowser::toggleStarSelected() {
  const auto ids = selectedRunIds();
  if (!store_ || ids.isEmpty()) return;
  // All starred -> unstar them; otherwise star them all.
  bool all_starred = true;
  for (qint64 id : ids)
    if (const auto* run = model_->runAt(model_->rowOf(id)); run && !run->starred) all_starred = false;
  try {
    for (qint64 id : ids) store_->setStarred(id, !all_starred);
  } catch (const std::exception& e) {
    report(QString::fromStdString(e.what()));
  }
  refresh();
  emit runsChanged();
}

void RunBrowser::deleteSelected() {
  const auto ids = selectedRunIds();
  if (!store_ || ids.isEmpty() || !confirm_delete_(ids.size())) return;
  try {
    std::vector<int64_t> run_ids(ids.begin(), ids.end());
    store_->deleteRuns(run_ids);
  } catch (const std::exception& e) {
    report(QString::fromStdString(e.what()));
  }
  refresh();
  emit runsChanged();
}

void RunBrowser::editTags() {
  const auto ids = selectedRunIds();
  if (!store_ || ids.isEmpty()) return;
  // Tags shared by every selected run are shown; the edit sets exactly the entered ones on each.
  std::set<std::string> common;
  bool first = true;
  for (qint64 id : ids) {
    const auto* run = model_->runAt(model_->rowOf(id));
    if (!run) continue;
    std::set<std::string> tags(run->tags.begin(), run->tags.end());
    if (first) {
      common = tags;
      first = false;
    } else {
      std::set<std::string> both;
      for (const auto& t : tags)
        if (common.count(t)) both.insert(t);
      common = both;
    }
  }
  QStringList shown;
  for (const auto& t : common) shown << QString::fromStdString(t);
  bool ok = false;
  const QString text = QInputDialog::getText(this, tr("Tags"), tr("Tags, separated by commas:"), QLineEdit::Normal,
                                             shown.join(QStringLiteral(", ")), &ok);
  if (!ok) return;
  std::set<std::string> wanted;
  for (const QString& t : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
    if (!t.trimmed().isEmpty()) wanted.insert(t.trimmed().toStdString());
  try {
    for (qint64 id : ids) {
      for (const auto& t : common)
        if (!wanted.count(t)) store_->removeTag(id, t);
      for (const auto& t : wanted) store_->addTag(id, t);
    }
  } catch (const std::exception& e) {
    report(QString::fromStdString(e.what()));
  }
  refresh();
  emit runsChanged();
}

void RunBrowser::editNote() {
  const auto ids = selectedRunIds();
  if (!store_ || ids.size() != 1) return;
  const auto* run = model_->runAt(model_->rowOf(ids.front()));
  bool ok = false;
  const QString note = QInputDialog::getMultiLineText(this, tr("Note"), tr("Note on run %1:").arg(ids.front()),
                                                      run ? QString::fromStdString(run->notes) : QString(), &ok);
  if (!ok) return;
  try {
    store_->setNotes(ids.front(), note.toStdString());
  } catch (const std::exception& e) {
    report(QString::fromStdString(e.what()));
  }
  refresh();
  emit runsChanged();
}

void RunBrowser::renameSelected() {
  const auto ids = selectedRunIds();
  if (!store_ || ids.size() != 1) return;
  const auto* run = model_->runAt(model_->rowOf(ids.front()));
  bool ok = false;
  const QString name = QInputDialog::getText(this, tr("Rename"), tr("Name of run %1:").arg(ids.front()),
                                             QLineEdit::Normal, run ? QString::fromStdString(run->name) : QString(), &ok);
  if (!ok || name.trimmed().isEmpty()) return;
  try {
    store_->rename(ids.front(), name.trimmed().toStdString());
  } catch (const std::exception& e) {
    report(QString::fromStdString(e.what()));
  }
  refresh();
  emit runsChanged();
}

void RunBrowser::duplicateSelected() {
  const auto ids = selectedRunIds();
  if (!store_ || ids.isEmpty()) return;
  try {
    const auto run = store_->getRun(ids.front());
    if (run) emit duplicateRequested(QString::fromStdString(run->config_yaml), QString::fromStdString(run->name));
  } catch (const std::exception& e) {
    report(QString::fromStdString(e.what()));
  }
}

}  // namespace distill::ui
