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

#include <limits>

#include "core/config/config_keys.h"
#include "core/losses/methods.h"
#include "core/runtime/installation.h"
#include "core/runtime/runtime.h"

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

QComboBox* combo(const QStringList& items) {
  auto* box = new QComboBox;
  box->addItems(items);
  return box;
}

// A drop-down of exactly the values the core accepts for a Choice key (the key table's).
QComboBox* choiceCombo(const std::string& key) {
  QStringList items;
  for (const auto& value : findConfigKey(key)->choices) items << fromStd(value);
  return combo(items);
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
  int index = box->findText(value);
  if (index < 0) {
    // An unknown value (say, a method from a newer core) is shown as it is; validate() reports it.
    box->addItem(value);
    index = box->count() - 1;
  }
  box->setCurrentIndex(index);
}

QSpinBox* spin(int minimum, int maximum, const QString& special = QString()) {
  auto* box = new QSpinBox;
  box->setRange(minimum, maximum);
  if (!special.isEmpty()) box->setSpecialValueText(special);
  box->setAccelerated(true);
  return box;
}

QDoubleSpinBox* doubleSpin(double minimum, double maximum, double step, int decimals) {
  auto* box = new QDoubleSpinBox;
  box->setRange(minimum, maximum);
  box->setSingleStep(step);
  box->setDecimals(decimals);
  return box;
}

int clampInt(int64_t v) {
  return static_cast<int>(std::clamp<int64_t>(v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

}  // namespace

template <typename W>
W* ExperimentForm::track(W* widget, const QString& key) {
  widget->setObjectName(key);
  fields_[key] = widget;
  return widget;
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

  // ---- run
  name_ = track(new QLineEdit, QStringLiteral("name"));
  name_->setPlaceholderText(tr("generated from the config"));
  seed_ = track(spin(0, std::numeric_limits<int>::max()), QStringLiteral("seed"));
  device_ = track(new QComboBox, QStringLiteral("device"));
  device_->addItem(QStringLiteral("auto"));
  for (const auto& device : availableDevices()) {
    device_->addItem(fromStd(device));
    if (device.rfind("cuda", 0) == 0 && device_->findText(QStringLiteral("cuda")) < 0)
      device_->insertItem(1, QStringLiteral("cuda"));
  }
  device_->setToolTip(tr("auto picks the first CUDA device when there is one"));
  threads_ = track(spin(0, 1024, tr("auto")), QStringLiteral("threads"));
  threads_->setToolTip(tr("Torch intra-op threads; auto chooses from %1 cores and the BLAS").arg(cpuCores()));
  gemm_ = track(choiceCombo("gemm"), QStringLiteral("gemm"));
  gemm_->setToolTip(tr("Library of the linear layers' matrix products on the CPU: auto uses oneDNN where "
                       "LibTorch provides it (faster here), blas uses LibTorch's matmul (OpenBLAS)"));
  auto* run_group = new QGroupBox(tr("Run"));
  auto* run_form = new QFormLayout(run_group);
  run_form->addRow(tr("Name"), name_);
  run_form->addRow(tr("Seed"), seed_);
  run_form->addRow(tr("Device"), device_);
  run_form->addRow(tr("Threads"), threads_);
  run_form->addRow(tr("Matrix products"), gemm_);

  // ---- dataset
  dataset_name_ = track(choiceCombo("dataset.name"), QStringLiteral("dataset.name"));
  dataset_path_ = track(new QLineEdit, QStringLiteral("dataset.path"));
  auto* browse_data = new QToolButton;
  browse_data->setText(QStringLiteral("…"));
  browse_data->setToolTip(tr("Choose the folder with the train-/t10k- IDX files"));
  connect(browse_data, &QToolButton::clicked, this, [this] {
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Dataset folder"), dataset_path_->text());
    if (!folder.isEmpty()) dataset_path_->setText(folder);
  });
  auto* path_row = new QHBoxLayout;
  path_row->setContentsMargins(0, 0, 0, 0);
  path_row->addWidget(dataset_path_, 1);
  path_row->addWidget(browse_data);
  limit_train_ = track(spin(0, 100'000'000, tr("all")), QStringLiteral("dataset.limit_train"));
  limit_test_ = track(spin(0, 100'000'000, tr("all")), QStringLiteral("dataset.limit_test"));
  mean_ = track(new QLineEdit, QStringLiteral("dataset.mean"));
  std_ = track(new QLineEdit, QStringLiteral("dataset.std"));
  auto* data_group = new QGroupBox(tr("Dataset"));
  auto* data_form = new QFormLayout(data_group);
  data_form->addRow(tr("Dataset"), dataset_name_);
  data_form->addRow(tr("Path"), path_row);
  data_form->addRow(tr("Train images"), limit_train_);
  data_form->addRow(tr("Test images"), limit_test_);
  data_form->addRow(tr("Mean / std"), [&] {
    auto* row = new QWidget;
    auto* layout = new QHBoxLayout(row);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(mean_);
    layout->addWidget(std_);
    return row;
  }());
  auto update_path_hint = [this] {
    dataset_path_->setPlaceholderText(fromStd(defaultDatasetPath(dataset_name_->currentText().toStdString())));
  };
  connect(dataset_name_, &QComboBox::currentTextChanged, this, update_path_hint);
  update_path_hint();

  // ---- teacher and student
  teacher_source_ = track(new QComboBox, QStringLiteral("teacher.source"));
  teacher_source_->setEditable(true);
  teacher_source_->addItem(QStringLiteral("train"));
  teacher_source_->setToolTip(tr("train, run:<id> (reuse that run's teacher) or the path of a teacher .pt file"));
  teacher_epochs_ = track(spin(0, 100'000), QStringLiteral("teacher.epochs"));
  auto* teacher_group = buildModelGroup(tr("Teacher"), QStringLiteral("teacher"), teacher_, teacher_source_, teacher_epochs_);
  auto* student_group = buildModelGroup(tr("Student"), QStringLiteral("student"), student_, nullptr, nullptr);

  // ---- distillation
  // The core's loss registry decides which methods exist (core/losses/methods.h, no torch).
  method_ = track(choiceCombo("distill.method"), QStringLiteral("distill.method"));
  method_->setToolTip(tr("kd: Hinton et al. 2015, alpha*T^2*KL(teacher_T || student_T) + (1-alpha)*CE; "
                          "see core/losses for the others"));
  temperature_ = track(doubleSpin(0.0, 1000.0, 0.5, 2), QStringLiteral("distill.temperature"));
  alpha_ = track(doubleSpin(0.0, 1.0, 0.05, 3), QStringLiteral("distill.alpha"));
  alpha_->setToolTip(tr("Weight of the distillation term; 0 trains a plain student baseline"));
  cache_logits_ = track(new QCheckBox(tr("Cache the teacher's logits")), QStringLiteral("distill.cache_teacher_logits"));
  auto* distill_group = new QGroupBox(tr("Distillation"));
  auto* distill_form = new QFormLayout(distill_group);
  distill_form->addRow(tr("Method"), method_);
  distill_form->addRow(tr("Temperature"), temperature_);
  distill_form->addRow(tr("Alpha"), alpha_);
  distill_form->addRow(QString(), cache_logits_);

  // ---- training
  epochs_ = track(spin(0, 100'000), QStringLiteral("train.epochs"));
  batch_size_ = track(spin(1, 1'000'000), QStringLiteral("train.batch_size"));
  optimizer_ = track(choiceCombo("train.optimizer"), QStringLiteral("train.optimizer"));
  lr_ = track(new QLineEdit, QStringLiteral("train.lr"));
  momentum_ = track(doubleSpin(0.0, 0.9999, 0.05, 4), QStringLiteral("train.momentum"));
  nesterov_ = track(new QCheckBox(tr("Nesterov")), QStringLiteral("train.nesterov"));
  weight_decay_ = track(new QLineEdit, QStringLiteral("train.weight_decay"));
  schedule_ = track(choiceCombo("train.schedule"), QStringLiteral("train.schedule"));
  step_size_ = track(spin(1, 100'000), QStringLiteral("train.step_size"));
  gamma_ = track(doubleSpin(0.0, 1.0, 0.05, 4), QStringLiteral("train.gamma"));
  log_every_ = track(spin(1, 1'000'000), QStringLiteral("train.log_every"));
  eval_every_ = track(spin(0, 100'000'000, tr("each epoch")), QStringLiteral("train.eval_every"));
  autocast_ = track(choiceCombo("train.autocast"), QStringLiteral("train.autocast"));
  autocast_->setToolTip(tr("CUDA mixed precision (bf16, or fp16 with loss scaling); the CPU trains in float32"));
  // A short title: a group box is at least as wide as its title, and the long one ("Training
  // (student; the teacher uses the same optimizer)") made the form 70 px wider than its dock,
  // which cut every field's right edge (the form does not scroll sideways).
  auto* train_group = new QGroupBox(tr("Training"));
  train_group->setToolTip(tr("The student's training; the teacher uses the same optimizer"));
  auto* train_form = new QFormLayout(train_group);
  train_form->addRow(tr("Student epochs"), epochs_);
  train_form->addRow(tr("Batch size"), batch_size_);
  train_form->addRow(tr("Optimizer"), optimizer_);
  train_form->addRow(tr("Learning rate"), lr_);
  train_form->addRow(tr("Momentum"), momentum_);
  train_form->addRow(QString(), nesterov_);
  train_form->addRow(tr("Weight decay"), weight_decay_);
  train_form->addRow(tr("Schedule"), schedule_);
  train_form->addRow(tr("Step size (epochs)"), step_size_);
  train_form->addRow(tr("Gamma"), gamma_);
  train_form->addRow(tr("Log every (steps)"), log_every_);
  train_form->addRow(tr("Evaluate every"), eval_every_);
  train_form->addRow(tr("Autocast (CUDA)"), autocast_);
  auto update_schedule_fields = [this] {
    const bool step = schedule_->currentText() == QLatin1String("step");
    step_size_->setEnabled(step);
    gamma_->setEnabled(step);
    const bool sgd = optimizer_->currentText() == QLatin1String("sgd");
    momentum_->setEnabled(sgd);
    nesterov_->setEnabled(sgd);
  };
  connect(schedule_, &QComboBox::currentTextChanged, this, update_schedule_fields);
  connect(optimizer_, &QComboBox::currentTextChanged, this, update_schedule_fields);

  // ---- keys without a dedicated widget: a widget of the key's kind, in its section
  const std::map<FormSection, QFormLayout*> section_forms{
      {FormSection::Run, run_form},
      {FormSection::Dataset, data_form},
      {FormSection::Teacher, static_cast<QFormLayout*>(teacher_group->layout())},
      {FormSection::Student, static_cast<QFormLayout*>(student_group->layout())},
      {FormSection::Distillation, distill_form},
      {FormSection::Training, train_form}};
  QGroupBox* extra_group = nullptr;
  const auto defaults = flatten(defaultConfig());
  for (const auto& row : configKeyTable()) {
    const std::string& std_key = row.key;
    const QString key = fromStd(std_key);
    if (fields_.count(key)) {
      if (fields_[key]->toolTip().isEmpty()) fields_[key]->setToolTip(helpText(row));
      continue;
    }
    const auto section = section_forms.find(row.section);
    if (section != section_forms.end()) {
      const QString label = fromStd(row.label);
      if (row.kind == ConfigKind::Choice) {
        auto* box = track(choiceCombo(std_key), key);
        box->setToolTip(helpText(row));
        extra_combos_[key] = box;
        section->second->addRow(label, box);
      } else if (row.kind == ConfigKind::Flag) {
        auto* check = track(new QCheckBox(label), key);
        check->setToolTip(helpText(row));
        extra_checks_[key] = check;
        section->second->addRow(QString(), check);
      } else {
        auto* edit = track(new QLineEdit, key);
        edit->setToolTip(tr("%1 (a YAML value, as with distill run --set %2=...)").arg(helpText(row), key));
        extra_fields_[key] = edit;
        section->second->addRow(label, edit);
      }
      continue;
    }
    if (!extra_group) {
      extra_group = new QGroupBox(tr("More settings"));
      auto* extra_form = new QFormLayout(extra_group);
      // The labels are config keys: a long one beside its field widens the whole form; too
      // long a row puts the field under its key.
      extra_form->setRowWrapPolicy(QFormLayout::WrapLongRows);
    }
    const auto default_value = defaults.find(std_key);
    if (default_value != defaults.end() && (default_value->second == "true" || default_value->second == "false")) {
      auto* check = track(new QCheckBox, key);
      check->setToolTip(tr("%1 (as with distill run --set %1=true|false)").arg(key));
      extra_checks_[key] = check;
      static_cast<QFormLayout*>(extra_group->layout())->addRow(key, check);
      continue;
    }
    auto* edit = track(new QLineEdit, key);
    edit->setToolTip(tr("%1 (a YAML value, as with distill run --set %1=...)").arg(key));
    extra_fields_[key] = edit;
    static_cast<QFormLayout*>(extra_group->layout())->addRow(key, edit);
  }

  // ---- issues
  issues_label_ = new QLabel;
  issues_label_->setObjectName(QStringLiteral("issues"));
  issues_label_->setWordWrap(true);
  issues_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  issues_label_->setVisible(false);

  auto* fields = new QWidget;
  auto* fields_layout = new QVBoxLayout(fields);
  fields_layout->setContentsMargins(0, 0, 4, 0);
  for (QWidget* group : std::initializer_list<QWidget*>{run_group, data_group, teacher_group, student_group, distill_group, train_group})
    fields_layout->addWidget(group);
  if (extra_group) fields_layout->addWidget(extra_group);
  fields_layout->addStretch(1);
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
  for (const auto& [key, widget] : fields_) {
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
  update_schedule_fields();
}

QWidget* ExperimentForm::buildModelGroup(const QString& title, const QString& prefix, ModelFields& f,
                                         QWidget* extra_top, QWidget* extra_bottom) {
  f.prefix = prefix;
  f.arch = track(choiceCombo((prefix + ".arch").toStdString()), prefix + ".arch");
  f.hidden = track(new QLineEdit, prefix + ".hidden");
  f.hidden->setPlaceholderText(tr("e.g. 800, 800"));
  f.hidden->setToolTip(tr("mlp: hidden layer widths; cnn: widths of the dense head"));
  f.activation = track(choiceCombo((prefix + ".activation").toStdString()), prefix + ".activation");
  f.dropout = track(doubleSpin(0.0, 0.99, 0.05, 2), prefix + ".dropout");
  f.channels = track(new QLineEdit, prefix + ".channels");
  f.channels->setToolTip(tr("cnn: output channels per convolution block (1 to 4 blocks)"));
  f.kernel = track(spin(1, 15), prefix + ".kernel");
  f.kernel->setSingleStep(2);
  f.pool = track(choiceCombo((prefix + ".pool").toStdString()), prefix + ".pool");
  auto* group = new QGroupBox(title);
  auto* form = new QFormLayout(group);
  if (extra_top) form->addRow(tr("Source"), extra_top);
  form->addRow(tr("Architecture"), f.arch);
  form->addRow(tr("Hidden widths"), f.hidden);
  form->addRow(tr("Activation"), f.activation);
  form->addRow(tr("Dropout"), f.dropout);
  form->addRow(tr("Conv channels"), f.channels);
  form->addRow(tr("Kernel"), f.kernel);
  form->addRow(tr("Pooling"), f.pool);
  if (extra_bottom) form->addRow(tr("Epochs"), extra_bottom);
  connect(f.arch, &QComboBox::currentTextChanged, this, [this, &f] { updateArchFields(f); });
  return group;
}

void ExperimentForm::updateArchFields(ModelFields& f) {
  // The key table says which archs use a key (channels, kernel, pool: cnn and resnet; blocks: resnet).
  const std::string arch = f.arch->currentText().toStdString();
  for (const auto& row : configKeyTable()) {
    if (row.archs.empty() || row.key.rfind(f.prefix.toStdString() + ".", 0) != 0) continue;
    if (QWidget* widget = field(fromStd(row.key)))
      widget->setEnabled(std::find(row.archs.begin(), row.archs.end(), arch) != row.archs.end());
  }
}

void ExperimentForm::setModel(const ModelConfig& m, ModelFields& f) {
  setComboText(f.arch, m.arch);
  f.hidden->setText(listText(m.hidden));
  setComboText(f.activation, m.activation);
  f.dropout->setValue(m.dropout);
  f.channels->setText(listText(m.channels));
  f.kernel->setValue(clampInt(m.kernel));
  setComboText(f.pool, m.pool);
  updateArchFields(f);
}

void ExperimentForm::setConfig(const ExperimentConfig& c) {
  loading_ = true;
  name_->setText(fromStd(c.name));
  seed_->setValue(clampInt(static_cast<int64_t>(std::min<uint64_t>(c.seed, std::numeric_limits<int>::max()))));
  setComboText(device_, c.device);
  threads_->setValue(c.threads);
  setComboText(gemm_, c.gemm);
  setComboText(dataset_name_, c.dataset.name);
  dataset_path_->setText(fromStd(c.dataset.path));
  limit_train_->setValue(clampInt(c.dataset.limit_train));
  limit_test_->setValue(clampInt(c.dataset.limit_test));
  mean_->setText(numberText(c.dataset.mean));
  std_->setText(numberText(c.dataset.std));
  teacher_source_->setEditText(fromStd(c.teacher.source));
  teacher_epochs_->setValue(clampInt(c.teacher.epochs));
  setModel(c.teacher.model, teacher_);
  setModel(c.student, student_);
  setComboText(method_, c.distill.method);
  temperature_->setValue(c.distill.temperature);
  alpha_->setValue(c.distill.alpha);
  cache_logits_->setChecked(c.distill.cache_teacher_logits);
  epochs_->setValue(clampInt(c.train.epochs));
  batch_size_->setValue(clampInt(c.train.batch_size));
  setComboText(optimizer_, c.train.optimizer);
  lr_->setText(numberText(c.train.lr));
  momentum_->setValue(c.train.momentum);
  nesterov_->setChecked(c.train.nesterov);
  weight_decay_->setText(numberText(c.train.weight_decay));
  setComboText(schedule_, c.train.schedule);
  step_size_->setValue(clampInt(c.train.step_size));
  gamma_->setValue(c.train.gamma);
  log_every_->setValue(clampInt(c.train.log_every));
  eval_every_->setValue(clampInt(c.train.eval_every));
  setComboText(autocast_, c.train.autocast);
  const auto flat = flatten(c);
  for (const auto& [key, edit] : extra_fields_) {
    auto it = flat.find(key.toStdString());
    edit->setText(it == flat.end() ? QString() : fromStd(it->second));
  }
  for (const auto& [key, check] : extra_checks_) {
    auto it = flat.find(key.toStdString());
    check->setChecked(it != flat.end() && it->second == "true");
  }
  for (const auto& [key, box] : extra_combos_) {
    auto it = flat.find(key.toStdString());
    if (it != flat.end()) setComboText(box, it->second);
  }
  loading_ = false;
  revalidate();
}

ModelConfig ExperimentForm::readModel(const QString& prefix, const ModelFields& f,
                                      std::vector<ConfigIssue>& issues) const {
  ModelConfig m;
  m.arch = f.arch->currentText().toStdString();
  m.hidden = parseList(f.hidden->text(), (prefix + ".hidden").toStdString(), issues);
  m.activation = f.activation->currentText().toStdString();
  m.dropout = f.dropout->value();
  m.channels = parseList(f.channels->text(), (prefix + ".channels").toStdString(), issues);
  m.kernel = f.kernel->value();
  m.pool = f.pool->currentText().toStdString();
  return m;
}

std::vector<std::string> ExperimentForm::extraOverrides() const {
  std::vector<std::string> overrides;
  for (const auto& [key, edit] : extra_fields_) {
    const QString text = edit->text().trimmed();
    if (!text.isEmpty()) overrides.push_back((key + '=' + text).toStdString());
  }
  for (const auto& [key, check] : extra_checks_)
    overrides.push_back((key + '=' + (check->isChecked() ? "true" : "false")).toStdString());
  for (const auto& [key, box] : extra_combos_) overrides.push_back((key + '=' + box->currentText()).toStdString());
  return overrides;
}

ExperimentConfig ExperimentForm::config() const {
  std::vector<ConfigIssue> ignored;
  ExperimentConfig typed = typedConfig(ignored);
  if (extra_fields_.empty() && extra_checks_.empty() && extra_combos_.empty()) return typed;
  try {
    return parseConfigWithOverrides(toYaml(typed), extraOverrides(), "form");
  } catch (const ConfigError&) {
    return typed;  // invalid: issues() says why, and Start is disabled
  }
}

ExperimentConfig ExperimentForm::typedConfig(std::vector<ConfigIssue>& issues) const {
  ExperimentConfig c = defaultConfig();
  c.name = name_->text().trimmed().toStdString();
  c.seed = static_cast<uint64_t>(seed_->value());
  c.device = device_->currentText().trimmed().toStdString();
  c.threads = threads_->value();
  c.gemm = gemm_->currentText().toStdString();
  c.dataset.name = dataset_name_->currentText().toStdString();
  c.dataset.path = dataset_path_->text().trimmed().toStdString();
  c.dataset.limit_train = limit_train_->value();
  c.dataset.limit_test = limit_test_->value();
  c.dataset.mean = parseNumber(mean_, c.dataset.mean, "dataset.mean", issues);
  c.dataset.std = parseNumber(std_, c.dataset.std, "dataset.std", issues);
  c.teacher.source = teacher_source_->currentText().trimmed().toStdString();
  c.teacher.epochs = teacher_epochs_->value();
  c.teacher.model = readModel(QStringLiteral("teacher"), teacher_, issues);
  c.student = readModel(QStringLiteral("student"), student_, issues);
  c.distill.method = method_->currentText().toStdString();
  c.distill.temperature = temperature_->value();
  c.distill.alpha = alpha_->value();
  c.distill.cache_teacher_logits = cache_logits_->isChecked();
  c.train.epochs = epochs_->value();
  c.train.batch_size = batch_size_->value();
  c.train.optimizer = optimizer_->currentText().toStdString();
  c.train.lr = parseNumber(lr_, c.train.lr, "train.lr", issues);
  c.train.momentum = momentum_->value();
  c.train.nesterov = nesterov_->isChecked();
  c.train.weight_decay = parseNumber(weight_decay_, c.train.weight_decay, "train.weight_decay", issues);
  c.train.schedule = schedule_->currentText().toStdString();
  c.train.step_size = step_size_->value();
  c.train.gamma = gamma_->value();
  c.train.log_every = log_every_->value();
  c.train.eval_every = eval_every_->value();
  c.train.autocast = autocast_->currentText().toStdString();
  return c;
}

void ExperimentForm::revalidate() {
  if (loading_) return;
  // Parse problems of the text fields first, then the core's rules on what did parse.
  std::vector<ConfigIssue> issues;
  const ExperimentConfig typed = typedConfig(issues);
  std::vector<ConfigIssue> core_issues;
  if (extra_fields_.empty() && extra_checks_.empty() && extra_combos_.empty()) {
    core_issues = validate(typed);
  } else {
    try {
      parseConfigWithOverrides(toYaml(typed), extraOverrides(), "form");
    } catch (const ConfigError& error) {
      core_issues = error.issues();
    }
  }
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
  for (auto& issue : core_issues) {
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
    widget->setToolTip(invalid ? it->second : QString());
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
  teacher_source_->addItem(QStringLiteral("train"));
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
