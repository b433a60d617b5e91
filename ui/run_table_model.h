// Every run of the database as a wide, sortable table for the run browser: name, status,
// start, duration, task (image, lm), dataset, teacher and student architecture, method, T, alpha, seed, final
// and best student accuracy, final agreement, final KL, tags. Numbers sort as numbers
// (kSortRole). RunFilterProxy filters it with a RunQuery (the filter box).
//
// Thread contract: Qt models; GUI thread only. They do not touch the store.
#pragma once

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>

#include <map>
#include <vector>

#include "core/store/run_query.h"
#include "core/store/run_store.h"

namespace distill::ui {

class RunTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column {
    Starred, Id, Name, Status, Started, Duration, Task, Dataset, Teacher, Student, Method, Temperature, Alpha, Seed,
    StudentAcc, BestStudentAcc, Agreement, Kl, Tags, ColumnCount
  };
  static constexpr int kRunIdRole = Qt::UserRole + 1;
  static constexpr int kSortRole = Qt::UserRole + 2;

  explicit RunTableModel(QObject* parent = nullptr);

  // `runs` with params filled (RunStore::loadParams); `best_student_acc` by run id.
  void setRuns(std::vector<RunRecord> runs, std::map<int64_t, double> best_student_acc);
  const std::vector<RunRecord>& runs() const { return runs_; }
  const RunRecord* runAt(int row) const;
  int rowOf(qint64 run_id) const;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  int columnCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  std::vector<RunRecord> runs_;
  std::map<int64_t, double> best_student_acc_;
};

class RunFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  explicit RunFilterProxy(QObject* parent = nullptr);
  // Empty text shows every run. Returns the error of a malformed query (and keeps the last
  // good filter), or an empty string.
  QString setQuery(const QString& text);

 protected:
  bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;

 private:
  RunQuery query_;
};

}  // namespace distill::ui
