// The experiment panel: every key of ExperimentConfig as a widget, the presets drop-down,
// Load/Save YAML, and validation as you type with the core's own rules and messages (the
// same ones `distill run` prints), so a config the form accepts is one the CLI accepts.
//
// Each field's objectName is its dotted config key ("train.lr"), which is how the issue list
// points at fields and how tests fill the form.
//
// Thread contract: a widget; GUI thread only.
#pragma once

#include <QString>
#include <QStringList>
#include <QWidget>

#include <map>
#include <string>
#include <vector>

#include "core/config/config.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace distill::ui {

class ExperimentForm : public QWidget {
  Q_OBJECT
 public:
  explicit ExperimentForm(QWidget* parent = nullptr);

  void setConfig(const ExperimentConfig& config);
  // The config the widgets describe; fields that do not parse keep their default value and
  // are reported by issues().
  ExperimentConfig config() const;
  // Parse problems of the text fields, then the core's validate(); empty when valid.
  std::vector<ConfigIssue> issues() const { return issues_; }
  bool isValid() const { return issues_.empty(); }

  // Reads a YAML/JSON experiment file into the form; on failure leaves the form as it was
  // and returns the core's message.
  bool loadFile(const QString& path, QString* error);
  bool saveFile(const QString& path, QString* error) const;
  // Preset files found next to the sources or installed (name -> path), in name order.
  static std::vector<std::pair<QString, QString>> findPresets();
  // Adds `run:<id>` teacher sources for runs whose teacher can be reused.
  void setTeacherRuns(const QStringList& sources);
  // Locks the fields while a run is going (the config of a live run does not change).
  void setEditable(bool editable);
  QWidget* field(const QString& key) const;
  // Whether the form differs from the preset chosen last (the drop-down says so).
  bool presetModified() const;

 public slots:
  // File dialogs behind the Load and Save buttons (and the File menu).
  void onLoadClicked();
  void onSaveClicked();

 signals:
  void changed();
  void validityChanged(bool valid);
  // A problem to tell the user (a file that failed to load), already worded.
  void message(QString text);
  // An experiment file loaded or saved through the Load/Save dialogs (for File > Open Recent).
  void fileUsed(QString path);

 private slots:
  void revalidate();
  void onPresetActivated(int index);

 private:
  struct ModelFields {
    QString prefix;  // "teacher" or "student"
    QComboBox* arch = nullptr;
    QLineEdit* hidden = nullptr;
    QComboBox* activation = nullptr;
    QDoubleSpinBox* dropout = nullptr;
    QLineEdit* channels = nullptr;
    QSpinBox* kernel = nullptr;
    QComboBox* pool = nullptr;
  };
  QWidget* buildModelGroup(const QString& title, const QString& prefix, ModelFields& fields, QWidget* extra_top,
                           QWidget* extra_bottom);
  void setModel(const ModelConfig& model, ModelFields& fields);
  ModelConfig readModel(const QString& prefix, const ModelFields& fields, std::vector<ConfigIssue>& issues) const;
  void updateArchFields(ModelFields& fields);
  template <typename W>
  W* track(W* widget, const QString& key);
  // The config from the dedicated widgets only; parse problems go to `issues`.
  ExperimentConfig typedConfig(std::vector<ConfigIssue>& issues) const;
  // `key=value` for the generic fields, in the CLI's --set syntax.
  std::vector<std::string> extraOverrides() const;
  void showIssues();

  std::map<QString, QWidget*> fields_;
  // Keys without a dedicated widget (say, ones a newer core added) get a plain text field
  // taking YAML values, applied like the CLI's --set, so the form always covers every key.
  std::map<QString, QLineEdit*> extra_fields_;
  // Boolean keys among them: a check box each, not a text field for "true".
  std::map<QString, QCheckBox*> extra_checks_;
  // Choice keys among them: a drop-down of the key table's values.
  std::map<QString, QComboBox*> extra_combos_;
  // The preset the form was last set from (its index and the config as YAML): the drop-down
  // marks it "(modified)" while the form differs from it.
  int preset_index_ = 0;
  std::string preset_yaml_;
  void updatePresetMark();
  std::vector<ConfigIssue> issues_;
  bool was_valid_ = true;
  bool loading_ = false;  // setConfig() in progress: validate once at its end

  QComboBox* presets_ = nullptr;
  QPushButton* load_ = nullptr;
  QPushButton* save_ = nullptr;
  QLabel* issues_label_ = nullptr;

  QLineEdit* name_ = nullptr;
  QSpinBox* seed_ = nullptr;
  QComboBox* device_ = nullptr;
  QSpinBox* threads_ = nullptr;
  QComboBox* gemm_ = nullptr;
  QComboBox* dataset_name_ = nullptr;
  QLineEdit* dataset_path_ = nullptr;
  QSpinBox* limit_train_ = nullptr;
  QSpinBox* limit_test_ = nullptr;
  QLineEdit* mean_ = nullptr;
  QLineEdit* std_ = nullptr;
  QComboBox* teacher_source_ = nullptr;
  QSpinBox* teacher_epochs_ = nullptr;
  ModelFields teacher_;
  ModelFields student_;
  QComboBox* method_ = nullptr;
  QDoubleSpinBox* temperature_ = nullptr;
  QDoubleSpinBox* alpha_ = nullptr;
  QCheckBox* cache_logits_ = nullptr;
  QSpinBox* epochs_ = nullptr;
  QSpinBox* batch_size_ = nullptr;
  QComboBox* optimizer_ = nullptr;
  QLineEdit* lr_ = nullptr;
  QDoubleSpinBox* momentum_ = nullptr;
  QCheckBox* nesterov_ = nullptr;
  QLineEdit* weight_decay_ = nullptr;
  QComboBox* schedule_ = nullptr;
  QSpinBox* step_size_ = nullptr;
  QDoubleSpinBox* gamma_ = nullptr;
  QSpinBox* log_every_ = nullptr;
  QSpinBox* eval_every_ = nullptr;
  QComboBox* autocast_ = nullptr;
};

}  // namespace distill::ui
