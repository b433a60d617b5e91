// The runs of the open database as a table: name, status (with an icon), final agreement and
// final student quality (as its task declares them), task, start time, dataset, teacher -> student. refresh() takes
// fresh records from the store; when the set of runs is unchanged the rows update in place,
// so the selection and scroll position survive the live run's updates.
//
// Thread contract: a Qt model; GUI thread only. It does not touch the store itself.
#pragma once

#include <QAbstractTableModel>
#include <QIcon>

#include <map>
#include <vector>

#include "core/store/run_store.h"

namespace distill::ui {

class RunListModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  // The outcome columns come before the descriptive ones, so a narrow side panel shows them.
  enum Column { Id, Name, Status, Agreement, StudentAccuracy, Task, Started, Dataset, Models, ColumnCount };
  static constexpr int kRunIdRole = Qt::UserRole + 1;

  explicit RunListModel(QObject* parent = nullptr);

  void refresh(std::vector<RunRecord> runs);
  // Extra words for the live run's status cell ("38%", "paused"); empty to clear.
  void setLiveNote(qint64 run_id, const QString& note);

  int rowOf(qint64 run_id) const;
  qint64 runIdAt(int row) const;
  const RunRecord* run(qint64 run_id) const;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  int columnCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

  static QIcon statusIcon(RunStatus status);

 private:
  struct Summary {  // from the run's config; parsed once per run
    QString dataset;
    QString models;
    std::string task = "image";  // which metrics are its headline ones; shown in the Task column
  };
  const Summary& summary(const RunRecord& run) const;

  std::vector<RunRecord> runs_;
  mutable std::map<qint64, Summary> summaries_;
  qint64 live_run_id_ = 0;
  QString live_note_;
};

}  // namespace distill::ui
