// The experiment panel: every key of ExperimentConfig as a widget, the presets drop-down,
// Load/Save YAML, and validation as you type with the core's own rules and messages (the
// same ones `distill run` prints), so a config the form accepts is one the CLI accepts.
//
// The key table (core/config/config_keys.h) is the form's one source: each row gives its
// key's widget (by kind: text field, drop-down of its choices, spin box with its range, check
// box, list field), section, label, tooltip (its help) and when it is enabled, so a new row
// appears here without editing the form. Each field's objectName is its dotted config key
// ("train.lr"), which is how the issue list points at fields and how tests fill the form.
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
#include "core/config/config_keys.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;

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
  // Builds the widget of one key from its row of the key table (core/config/config_keys.h).
  QWidget* buildField(const ConfigKey& row);
  // A key's value as its widget shows it; text that does not parse adds an issue.
  ConfigValue readField(const ConfigKey& row, const QWidget* widget, std::vector<ConfigIssue>& issues) const;
  void writeField(const ConfigKey& row, QWidget* widget, const ConfigValue& value);
  // The config the widgets describe; parse problems go to `issues`.
  ExperimentConfig readConfig(std::vector<ConfigIssue>& issues) const;
  // Enables each field the way its row says (archs, enabled_by) for the config shown.
  void updateEnabledFields(const ExperimentConfig& config);
  void showIssues();

  // Every key of the table, in table order, with its widget (objectName: the dotted key).
  std::vector<std::pair<const ConfigKey*, QWidget*>> key_fields_;
  std::map<QString, QWidget*> fields_;
  std::map<const ConfigKey*, QWidget*> form_rows_;  // what sits in the form for each key (a row)
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
  // The fields with a hand-written part (see the constructor).
  QComboBox* dataset_name_ = nullptr;
  QLineEdit* dataset_path_ = nullptr;
  QComboBox* teacher_source_ = nullptr;
};

}  // namespace distill::ui
