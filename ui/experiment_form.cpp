#include "ui/experiment_form.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSaveFile>
#include <QScrollArea>
#include <QSpinBox>
#include <QTextStream>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <limits>

#include "core/runtime/installation.h"
#include "core/runtime/runtime.h"
#include "core/tasks/task_catalog.h"

namespace distill::ui {
namespace {

QString fromStd(const std::string& text) { return QString::fromStdString(text); }

QString numberText(double value) { return QString::number(value, 'g', 10); }

QString listText(const std::vector<int64_t>& values) {
  QStringList parts;
  for (auto v : values) parts << QString::number(v);
  return parts.join(QStringLiteral(", "));
}

// "800, 800", "[800 800]" or "800x800" -> {800, 800}; the message is the CLI's.
std::vector<int64_t> parseList(const QString& text, const std::string& key, std::vector<ConfigIssue>& issues) {
  QString body = text.trimmed();
  if (body.startsWith('[')) body.remove(0, 1);
  if (body.endsWith(']')) body.chop(1);
  std::vector<int64_t> values;
  const auto parts = body.split(QRegularExpression(QStringLiteral("[,\\sx]+")), Qt::SkipEmptyParts);
  for (const auto& part : parts) {
    bool ok = false;
    const qlonglong v = part.toLongLong(&ok);
    if (!ok) {
      issues.push_back({key, "expected a list of whole numbers such as [800, 800], found '" + part.toStdString() + "'"});
      return {};
    }
    values.push_back(v);
  }
  return values;
}

double parseNumber(const QLineEdit* edit, double fallback, const std::string& key, std::vector<ConfigIssue>& issues) {
  bool ok = false;
  const double v = edit->text().trimmed().toDouble(&ok);
  if (!ok) {
    issues.push_back({key, "expected a number, got '" + edit->text().toStdString() + "'"});
    return fallback;
  }
  return v;
}

QStringList choiceList(const std::vector<std::string>& values) {
  QStringList items;
  for (const auto& value : values) items << fromStd(value);
  return items;
}

// A key's help as plain text for a tooltip (the table's help is Markdown).
QString helpText(const ConfigKey& row) {
  QString text = fromStd(row.help);
  text.remove(QLatin1Char('`'));
  text.replace(QRegularExpression(QStringLiteral("\\[([^\\]]*)\\]\\([^)]*\\)")), QStringLiteral("\\1"));
  return text;
}

void setComboText(QComboBox* box, const std::string& text) {
  const QString value = fromStd(text);
  if (box->isEditable()) {
    box->setEditText(value);
    return;
  }
  int index = box->findText(value);
  if (index < 0) {
    // An unknown value (say, a method from a newer core) is shown as it is; validate() reports it.
    box->addItem(value);
    index = box->count() - 1;
  }
  box->setCurrentIndex(index);
}

int clampInt(double v) {
  return static_cast<int>(std::clamp<double>(v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

// The property that keeps a field's help while its tooltip shows a validation message.
constexpr const char* kHelpProperty = "help";

}  // namespace

QWidget* ExperimentForm::buildField(const ConfigKey& row) {
  switch (row.kind) {
    case ConfigKind::Choice: {
      auto* box = new QComboBox;
      box->addItems(choiceList(row.choices));
      return box;
    }
    case ConfigKind::Text: {
      if (row.choices.empty()) return new QLineEdit;
      // A Text key's choices are suggestions: a drop-down that also takes typed text.
      auto* box = new QComboBox;
      box->setEditable(true);
      // `task`: every task this build registered (core/tasks/task_registry.cpp), not only
      // the table's built-in suggestion.
      box->addItems(choiceList(row.key == "task" ? taskNames() : row.choices));
      return box;
    }
    case ConfigKind::Integer: {
      auto* box = new QSpinBox;
      box->setRange(clampInt(row.minimum), clampInt(row.maximum));
      box->setSingleStep(std::max(1, clampInt(row.step)));
      if (!row.zero_label.empty() && row.minimum == 0.0) box->setSpecialValueText(fromStd(row.zero_label));
      box->setAccelerated(true);
      return box;
    }
    case ConfigKind::Number: {
      if (row.decimals == 0) return new QLineEdit;  // any magnitude (lr 1e-4, weight decay 5e-4)
      auto* box = new QDoubleSpinBox;
      box->setDecimals(row.decimals);
      box->setRange(row.minimum, row.maximum);
      box->setSingleStep(row.step);
      return box;
    }
    case ConfigKind::Flag:
      return new QCheckBox(fromStd(row.label));
    case ConfigKind::IntegerList: {
      auto* edit = new QLineEdit;
      const auto example = row.get(defaultConfig()).list;
      if (!example.empty()) edit->setPlaceholderText(tr("e.g. %1").arg(listText(example)));
      return edit;
    }
  }
  return new QLineEdit;
}

ExperimentForm::ExperimentForm(QWidget* parent) : QWidget(parent) {
  // ---- presets and files
  presets_ = new QComboBox;
  presets_->setObjectName(QStringLiteral("presets"));
  // Long preset names must not widen the dock: the combo shrinks, its list shows them whole.
  presets_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  presets_->setMinimumContentsLength(14);
  // The config keys' defaults, what `distill run` runs without a CONFIG (short: the dock is narrow).
  presets_->addItem(tr("Hinton (defaults)"), QString());
  presets_->setItemData(0, tr("The config keys' defaults: Hinton KD, MLP 1200-1200 teacher and 800-800 student on Fashion-MNIST"), Qt::ToolTipRole);
  for (const auto& [name, path] : findPresets()) presets_->addItem(name, path);
  presets_->setToolTip(tr("Experiment presets (share/distill-workbench/presets when installed, resources/presets in a build)"));
  load_ = new QPushButton(tr("Load…"));
  load_->setToolTip(tr("Load an experiment from a YAML or JSON file"));
  save_ = new QPushButton(tr("Save…"));
  save_->setToolTip(tr("Save this experiment as YAML (every key, defaults included)"));
  auto* file_row = new QHBoxLayout;
  file_row->addWidget(presets_, 1);
  file_row->addWidget(load_);
  file_row->addWidget(save_);

  // ---- one group box per section, one row per key, all from the key table
  auto* fields = new QWidget;
  auto* fields_layout = new QVBoxLayout(fields);
  fields_layout->setContentsMargins(0, 0, 4, 0);
  std::map<FormSection, QFormLayout*> section_forms;
  for (FormSection section : {FormSection::Run, FormSection::Dataset, FormSection::Teacher, FormSection::Student,
                              FormSection::Distillation, FormSection::Training}) {
    auto* group = new QGroupBox(fromStd(formSectionTitle(section)));
    // A group box is at least as wide as its title: a long one ("Training (student; the teacher
    // uses the same optimizer)") made the form 70 px wider than its dock, so it is a tooltip.
    if (section == FormSection::Training) group->setToolTip(tr("The student's training; the teacher uses the same optimizer"));
    section_forms[section] = new QFormLayout(group);
    fields_layout->addWidget(group);
  }
  fields_layout->addStretch(1);

  for (const auto& row : configKeyTable()) {
    const QString key = fromStd(row.key);
    QWidget* widget = nullptr;
    QWidget* row_widget = nullptr;  // what sits in the form: the field, or the field with a button
    // The few hand-written parts, each for something a table row cannot say:
    if (row.key == "device") {
      // The devices of this machine (the runtime's list), not the table's generic suggestions:
      // a machine without CUDA offers no cuda entry.
      auto* box = new QComboBox;
      box->addItem(QStringLiteral("auto"));
      for (const auto& device : availableDevices()) {
        box->addItem(fromStd(device));
        if (device.rfind("cuda", 0) == 0 && box->findText(QStringLiteral("cuda")) < 0)
          box->insertItem(1, QStringLiteral("cuda"));
      }
      widget = box;
    } else {
      widget = buildField(row);
    }
    if (row.key == "name") {
      static_cast<QLineEdit*>(widget)->setPlaceholderText(tr("generated from the config"));
    } else if (row.key == "dataset.path") {
      // A file browser beside the path; its placeholder (the default folder) follows dataset.name.
      dataset_path_ = static_cast<QLineEdit*>(widget);
      auto* browse = new QToolButton;
      browse->setText(QStringLiteral("…"));
      browse->setToolTip(tr("Choose the dataset's folder"));
      connect(browse, &QToolButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Dataset folder"), dataset_path_->text());
        if (!folder.isEmpty()) dataset_path_->setText(folder);
      });
      row_widget = new QWidget;
      auto* path_row = new QHBoxLayout(row_widget);
      path_row->setContentsMargins(0, 0, 0, 0);
      path_row->addWidget(widget, 1);
      path_row->addWidget(browse);
    } else if (row.key == "dataset.name") {
      dataset_name_ = static_cast<QComboBox*>(widget);
    } else if (row.key == "teacher.source" || row.key == "student.source") {
      // Its list grows with the store's reusable teachers (setTeacherRuns).
      if (row.key == "teacher.source") teacher_source_ = static_cast<QComboBox*>(widget);
      // A Hugging Face model folder (language models) as hf:<folder>.
      auto* box = static_cast<QComboBox*>(widget);
      auto* browse = new QToolButton;
      browse->setText(QStringLiteral("…"));
      browse->setObjectName(key + QStringLiteral(".browse"));
      browse->setToolTip(tr("Choose a Hugging Face model folder (config.json, model.safetensors): hf:<folder>"));
      connect(browse, &QToolButton::clicked, this, [this, box] {
        const QString current = box->currentText().startsWith(QStringLiteral("hf:")) ? box->currentText().mid(3) : QString();
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Hugging Face model folder"), current);
        if (!folder.isEmpty()) box->setEditText(QStringLiteral("hf:") + folder);
      });
      row_widget = new QWidget;
      auto* source_row = new QHBoxLayout(row_widget);
      source_row->setContentsMargins(0, 0, 0, 0);
      source_row->addWidget(widget, 1);
      source_row->addWidget(browse);
    }
    widget->setObjectName(key);
    QString tooltip = helpText(row);
    if (row.key == "threads") tooltip += tr(" (this machine: %1 cores)").arg(cpuCores());
    widget->setProperty(kHelpProperty, tooltip);
    widget->setToolTip(tooltip);
    fields_[key] = widget;
    key_fields_.emplace_back(&row, widget);
    QFormLayout* form = section_forms.at(row.section);
    if (row.kind == ConfigKind::Flag) form->addRow(QString(), widget);  // the check box says its label
    else form->addRow(fromStd(row.label), row_widget ? row_widget : widget);
    form_rows_[&row] = row_widget ? row_widget : widget;
  }
  // Keys of one task (dataset.* for images, lm.* for language models) show only for it.
  auto* task_box = qobject_cast<QComboBox*>(fields_.at(QStringLiteral("task")));
  auto update_task_rows = [this, section_forms, task_box] {
    const std::string task = task_box->currentText().trimmed().toStdString();
    for (const auto& [row, field] : form_rows_) {
      if (row->tasks.empty()) continue;
      const bool shown = std::find(row->tasks.begin(), row->tasks.end(), task) != row->tasks.end();
      section_forms.at(row->section)->setRowVisible(field, shown);
    }
  };
  connect(task_box, &QComboBox::currentTextChanged, this, update_task_rows);
  update_task_rows();
  auto update_path_hint = [this] {
    dataset_path_->setPlaceholderText(fromStd(defaultDatasetPath(dataset_name_->currentText().toStdString())));
  };
  connect(dataset_name_, &QComboBox::currentTextChanged, this, update_path_hint);
  update_path_hint();

  // ---- issues
  issues_label_ = new QLabel;
  issues_label_->setObjectName(QStringLiteral("issues"));
  issues_label_->setWordWrap(true);
  issues_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  issues_label_->setVisible(false);

  auto* scroll = new QScrollArea;
  scroll->setWidget(fields);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(file_row);
  layout->addWidget(scroll, 1);
  layout->addWidget(issues_label_);

  // Every edit re-validates; validation is microseconds, so no debounce is needed.
  for (const auto& [row, widget] : key_fields_) {
    if (auto* edit = qobject_cast<QLineEdit*>(widget)) connect(edit, &QLineEdit::textChanged, this, &ExperimentForm::revalidate);
    else if (auto* box = qobject_cast<QComboBox*>(widget)) connect(box, &QComboBox::currentTextChanged, this, &ExperimentForm::revalidate);
    else if (auto* s = qobject_cast<QSpinBox*>(widget)) connect(s, &QSpinBox::valueChanged, this, &ExperimentForm::revalidate);
    else if (auto* d = qobject_cast<QDoubleSpinBox*>(widget)) connect(d, &QDoubleSpinBox::valueChanged, this, &ExperimentForm::revalidate);
    else if (auto* c = qobject_cast<QCheckBox*>(widget)) connect(c, &QCheckBox::toggled, this, &ExperimentForm::revalidate);
  }
  connect(presets_, qOverload<int>(&QComboBox::activated), this, &ExperimentForm::onPresetActivated);
  connect(load_, &QPushButton::clicked, this, &ExperimentForm::onLoadClicked);
  connect(save_, &QPushButton::clicked, this, &ExperimentForm::onSaveClicked);

  setConfig(defaultConfig());
}

ConfigValue ExperimentForm::readField(const ConfigKey& row, const QWidget* widget,
                                      std::vector<ConfigIssue>& issues) const {
  ConfigValue value;
  switch (row.kind) {
    case ConfigKind::Text:
    case ConfigKind::Choice:
      if (auto* box = qobject_cast<const QComboBox*>(widget)) value.text = box->currentText().trimmed().toStdString();
      else value.text = static_cast<const QLineEdit*>(widget)->text().trimmed().toStdString();
      break;
    case ConfigKind::Integer:
      value.integer = static_cast<const QSpinBox*>(widget)->value();
      break;
    case ConfigKind::Number:
      if (auto* box = qobject_cast<const QDoubleSpinBox*>(widget)) value.number = box->value();
      else value.number = parseNumber(static_cast<const QLineEdit*>(widget), row.get(defaultConfig()).number, row.key, issues);
      break;
    case ConfigKind::Flag:
      value.flag = static_cast<const QCheckBox*>(widget)->isChecked();
      break;
    case ConfigKind::IntegerList:
      value.list = parseList(static_cast<const QLineEdit*>(widget)->text(), row.key, issues);
      break;
  }
  return value;
}

void ExperimentForm::writeField(const ConfigKey& row, QWidget* widget, const ConfigValue& value) {
  switch (row.kind) {
    case ConfigKind::Text:
    case ConfigKind::Choice:
      if (auto* box = qobject_cast<QComboBox*>(widget)) setComboText(box, value.text);
      else static_cast<QLineEdit*>(widget)->setText(fromStd(value.text));
      break;
    case ConfigKind::Integer:
      static_cast<QSpinBox*>(widget)->setValue(clampInt(static_cast<double>(value.integer)));
      break;
    case ConfigKind::Number:
      if (auto* box = qobject_cast<QDoubleSpinBox*>(widget)) box->setValue(value.number);
      else static_cast<QLineEdit*>(widget)->setText(numberText(value.number));
      break;
    case ConfigKind::Flag:
      static_cast<QCheckBox*>(widget)->setChecked(value.flag);
      break;
    case ConfigKind::IntegerList:
      static_cast<QLineEdit*>(widget)->setText(listText(value.list));
      break;
  }
}

void ExperimentForm::setConfig(const ExperimentConfig& c) {
  loading_ = true;
  for (const auto& [row, widget] : key_fields_) writeField(*row, widget, row->get(c));
  loading_ = false;
  revalidate();
}

ExperimentConfig ExperimentForm::readConfig(std::vector<ConfigIssue>& issues) const {
  ExperimentConfig c = defaultConfig();
  for (const auto& [row, widget] : key_fields_) row->set(c, readField(*row, widget, issues));
  return c;
}

ExperimentConfig ExperimentForm::config() const {
  std::vector<ConfigIssue> ignored;
  return readConfig(ignored);
}

void ExperimentForm::updateEnabledFields(const ExperimentConfig& c) {
  for (const auto& [row, widget] : key_fields_) {
    bool enabled = configKeyApplies(*row, c);  // the model's arch uses it
    if (const ConfigKey* by = row->enabled_by.empty() ? nullptr : findConfigKey(row->enabled_by)) {
      const std::string value = configValueText(*by, by->get(c));
      enabled = enabled && std::find(row->enabled_values.begin(), row->enabled_values.end(), value) !=
                               row->enabled_values.end();
    }
    widget->setEnabled(enabled);
  }
}

void ExperimentForm::revalidate() {
  if (loading_) return;
  // Parse problems of the text fields first, then the core's rules on what did parse.
  std::vector<ConfigIssue> issues;
  const ExperimentConfig typed = readConfig(issues);
  updateEnabledFields(typed);
  const std::vector<ConfigIssue> core_issues = validate(typed);
  // A dataset folder the user typed that is not there: said as it is typed, with what the
  // folder should hold (the run would fail at its start otherwise, with a hint to install).
  const QString path = dataset_path_->text().trimmed();
  if (!path.isEmpty() && !QFileInfo::exists(path)) {
    const QString name = dataset_name_->currentText();
    const QString expected = name == QLatin1String("idx")
                                 ? tr("a folder with the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                                      "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz)")
                                 : tr("a folder with the %1 IDX files (train-images-idx3-ubyte.gz and the three beside it)")
                                       .arg(name);
    issues.push_back({"dataset.path", tr("%1 does not exist; expected %2. Leave it empty for the default folder.")
                                          .arg(path, expected)
                                          .toStdString()});
  }
  for (const auto& issue : core_issues) {
    const bool duplicate = std::any_of(issues.begin(), issues.end(), [&](const ConfigIssue& i) { return i.key == issue.key; });
    if (!duplicate) issues.push_back(issue);
  }
  issues_ = std::move(issues);
  showIssues();
  updatePresetMark();
  emit changed();
  if (isValid() != was_valid_) {
    was_valid_ = isValid();
    emit validityChanged(was_valid_);
  }
}

void ExperimentForm::showIssues() {
  std::map<QString, QString> by_key;
  QStringList lines;
  for (const auto& issue : issues_) {
    by_key[fromStd(issue.key)] += (by_key[fromStd(issue.key)].isEmpty() ? "" : "\n") + fromStd(issue.message);
    lines << QStringLiteral("<b>%1</b>: %2").arg(fromStd(issue.key).toHtmlEscaped(), fromStd(issue.message).toHtmlEscaped());
  }
  for (const auto& [key, widget] : fields_) {
    auto it = by_key.find(key);
    const bool invalid = it != by_key.end();
    if (widget->property("invalid").toBool() == invalid && !invalid) continue;
    widget->setProperty("invalid", invalid);
    // The message first, the key's help after it (the help comes back once the value is fixed).
    const QString help = widget->property(kHelpProperty).toString();
    widget->setToolTip(invalid ? it->second + QStringLiteral("\n\n") + help : help);
    widget->setStyleSheet(invalid ? QStringLiteral("background: rgba(231, 76, 60, 0.28);") : QString());
  }
  issues_label_->setText(lines.join(QStringLiteral("<br>")));
  issues_label_->setVisible(!lines.isEmpty());
}

QWidget* ExperimentForm::field(const QString& key) const {
  auto it = fields_.find(key);
  return it == fields_.end() ? nullptr : it->second;
}

void ExperimentForm::setEditable(bool editable) {
  // Disabling the scroll area's content keeps the values readable and the layout stable.
  for (auto* child : findChildren<QGroupBox*>()) child->setEnabled(editable);
  presets_->setEnabled(editable);
  load_->setEnabled(editable);
}

void ExperimentForm::setTeacherRuns(const QStringList& sources) {
  const QString current = teacher_source_->currentText();
  const QSignalBlocker blocker(teacher_source_);
  teacher_source_->clear();
  teacher_source_->addItems(choiceList(findConfigKey("teacher.source")->choices));  // "train"
  teacher_source_->addItems(sources);
  teacher_source_->setEditText(current);
}

std::vector<std::pair<QString, QString>> ExperimentForm::findPresets() {
  // Beside an installed binary (…/share/distill-workbench/presets), else the source tree's.
  std::vector<std::pair<QString, QString>> found;
  for (const auto& [name, path] : listPresets()) found.emplace_back(QString::fromStdString(name), QString::fromStdString(path));
  return found;
}

bool ExperimentForm::loadFile(const QString& path, QString* error) {
  try {
    setConfig(loadConfigFile(path.toStdString()));
    return true;
  } catch (const ConfigError& e) {
    if (error) *error = QString::fromStdString(e.what());
  } catch (const std::exception& e) {
    if (error) *error = QStringLiteral("%1: %2").arg(path, QString::fromStdString(e.what()));
  }
  return false;
}

bool ExperimentForm::saveFile(const QString& path, QString* error) const {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) {
    if (error) *error = QStringLiteral("%1: %2").arg(path, file.errorString());
    return false;
  }
  file.write(QByteArray::fromStdString(toYaml(config())));
  if (!file.commit()) {
    if (error) *error = QStringLiteral("%1: %2").arg(path, file.errorString());
    return false;
  }
  return true;
}

void ExperimentForm::onPresetActivated(int index) {
  const QString path = presets_->itemData(index).toString();
  const int previous = preset_index_;
  preset_index_ = index;
  preset_yaml_.clear();  // updatePresetMark() takes the new preset's config as the reference
  if (path.isEmpty()) {
    setConfig(defaultConfig());
    return;
  }
  QString error;
  if (loadFile(path, &error)) {
    emit fileUsed(path);
  } else {
    preset_index_ = previous;
    emit message(error);
  }
}

bool ExperimentForm::presetModified() const { return !preset_yaml_.empty() && toYaml(config()) != preset_yaml_; }

void ExperimentForm::updatePresetMark() {
  if (preset_yaml_.empty()) preset_yaml_ = toYaml(config());  // the form was just set from the preset
  const QString base = presets_->itemData(preset_index_, Qt::UserRole + 1).toString().isEmpty()
                           ? presets_->itemText(preset_index_)
                           : presets_->itemData(preset_index_, Qt::UserRole + 1).toString();
  presets_->setItemData(preset_index_, base, Qt::UserRole + 1);
  const bool modified = presetModified();
  presets_->setItemText(preset_index_, modified ? tr("%1 (modified)").arg(base) : base);
  presets_->setToolTip(modified ? tr("The form no longer matches the preset \"%1\"; choose it again to reset the form").arg(base)
                                : tr("Experiment presets (share/distill-workbench/presets when installed, resources/presets in a build)"));
}

void ExperimentForm::onLoadClicked() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Load experiment"), QString(),
                                                    tr("Experiments (*.yaml *.yml *.json);;All files (*)"));
  if (path.isEmpty()) return;
  QString error;
  if (loadFile(path, &error)) emit fileUsed(path);
  else emit message(error);
}

void ExperimentForm::onSaveClicked() {
  if (!isValid()) {
    emit message(tr("The experiment has problems (listed under the form); it was not saved."));
    return;
  }
  QString path = QFileDialog::getSaveFileName(this, tr("Save experiment"), QStringLiteral("experiment.yaml"),
                                              tr("YAML (*.yaml *.yml)"));
  if (path.isEmpty()) return;
  QString error;
  if (saveFile(path, &error)) emit fileUsed(path);
  else emit message(error);
}

}  // namespace distill::ui
