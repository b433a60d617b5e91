// "Submit sweep": the form's experiment as the base, the axes typed as the sweep file's `axes:`
// lines, the backend (local: runs at a time; slurm: partition, time, memory) and the folder. The
// sweep is planned as it is typed (core/sweep/sweep_plan.h, the same checks as `distill sweep
// plan`), so a bad axis is named in the dialog before anything is written or submitted.
//
// Thread contract: a dialog; GUI thread only.
#pragma once

#include <QDialog>
#include <QString>
#include <QStringList>

#include "core/config/config.h"

class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;

namespace distill::ui {

// What to submit: the sweep file's text and where, and the arguments of `distill sweep run`
// after the sweep file.
struct SweepSubmission {
  QString folder;      // absolute
  QString sweep_text;  // the sweep file (base inline)
  QStringList run_arguments;  // --out FOLDER --backend B ...
  int runs = 0;
};

// The sweep file's text: `name`, the base config as an inline mapping, `axes_text` (lines of
// `key: values`) indented under axes:.
QString sweepFileText(const QString& name, const ExperimentConfig& base, const QString& axes_text);

class SweepDialog : public QDialog {
  Q_OBJECT
 public:
  SweepDialog(const ExperimentConfig& base, const QString& default_folder, QWidget* parent = nullptr);

  QLineEdit* nameEdit() const { return name_; }
  QPlainTextEdit* axesEdit() const { return axes_; }
  QComboBox* backendBox() const { return backend_; }
  QSpinBox* jobsSpin() const { return jobs_; }
  QLineEdit* folderEdit() const { return folder_; }
  QLabel* planLabel() const { return plan_label_; }
  // Whether the sweep as typed plans (the Submit button is enabled only then).
  bool valid() const { return valid_; }
  SweepSubmission submission() const;

 private:
  void check();

  ExperimentConfig base_;
  QLineEdit* name_ = nullptr;
  QPlainTextEdit* axes_ = nullptr;
  QComboBox* backend_ = nullptr;
  QSpinBox* jobs_ = nullptr;
  QLineEdit* partition_ = nullptr;
  QLineEdit* time_ = nullptr;
  QLineEdit* mem_ = nullptr;
  QLineEdit* folder_ = nullptr;
  QLabel* plan_label_ = nullptr;
  QDialogButtonBox* buttons_ = nullptr;
  bool valid_ = false;
  int runs_ = 0;
};

}  // namespace distill::ui
