// The run browser: every run in a sortable table (columns shown or hidden from the header's
// context menu), a filter box taking free text or field queries (see core/store/run_query.h)
// that says where a malformed query is wrong, and the actions on selected runs: compare,
// star, tags, note, rename, delete (confirmed, one transaction), and "duplicate config" into
// the experiment form.
//
// Thread contract: a widget; GUI thread only. It reads and edits through the window's
// RunStore connection, which must outlive it (setStore(nullptr) detaches).
#pragma once

#include <QList>
#include <QWidget>

#include <functional>

class QLabel;
class QLineEdit;
class QTableView;
class QToolButton;

namespace distill {
class RunStore;
}

namespace distill::ui {

class RunFilterProxy;
class RunTableModel;

class RunBrowser : public QWidget {
  Q_OBJECT
 public:
  explicit RunBrowser(QWidget* parent = nullptr);

  void setStore(RunStore* store);
  void refresh();

  // Empty when the query is good, else the error (also shown under the box).
  QString setFilter(const QString& text);
  QList<qint64> selectedRunIds() const;
  QList<qint64> visibleRunIds() const;  // in the table's current order
  void selectRuns(const QList<qint64>& ids);
  void setColumnVisible(int column, bool visible);
  bool isColumnVisible(int column) const;

  // Confirmation before deleting; the default asks with a message box, tests replace it.
  void setDeleteConfirmation(std::function<bool(int count)> confirm) { confirm_delete_ = std::move(confirm); }

  QTableView* table() const { return table_; }
  QLineEdit* filterEdit() const { return filter_; }
  QLabel* filterError() const { return filter_error_; }
  RunTableModel* model() const { return model_; }

 public slots:
  void compareSelected();
  void toggleStarSelected();
  void deleteSelected();
  void editTags();
  void editNote();
  void renameSelected();
  void duplicateSelected();

 signals:
  void compareRequested(QList<qint64> run_ids);
  void duplicateRequested(QString config_yaml, QString name);
  void showRequested(qint64 run_id);
  void runsChanged();  // after an edit, so other views refresh

 private:
  void showHeaderMenu(const QPoint& pos);
  void showRowMenu(const QPoint& pos);
  void report(const QString& message);

  RunStore* store_ = nullptr;
  RunTableModel* model_ = nullptr;
  RunFilterProxy* proxy_ = nullptr;
  QLineEdit* filter_ = nullptr;
  QLabel* filter_error_ = nullptr;
  QTableView* table_ = nullptr;
  std::function<bool(int)> confirm_delete_;
};

}  // namespace distill::ui
