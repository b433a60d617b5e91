#include "ui/sweep_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "core/sweep/sweep_plan.h"
#include "core/sweep/sweep_spec.h"

namespace distill::ui {
namespace {

QString toQ(const std::string& text) { return QString::fromStdString(text); }

QString indented(const QString& text) {
  QStringList lines;
  for (const QString& line : text.split('\n'))
    if (!line.trimmed().isEmpty()) lines << QStringLiteral("  ") + line;
  return lines.join('\n') + '\n';
}

}  // namespace

QString sweepFileText(const QString& name, const ExperimentConfig& base, const QString& axes_text) {
  return QStringLiteral("# Submitted from the workbench window: the form's experiment is the base.\nname: %1\nbase:\n%2axes:\n%3")
      .arg(name, indented(toQ(toYaml(base))), indented(axes_text));
}

SweepDialog::SweepDialog(const ExperimentConfig& base, const QString& default_folder, QWidget* parent)
    : QDialog(parent), base_(base) {
  setWindowTitle(tr("Submit sweep"));
  setObjectName(QStringLiteral("sweepDialog"));
  name_ = new QLineEdit(QStringLiteral("sweep"));
  name_->setObjectName(QStringLiteral("sweep-name"));
  axes_ = new QPlainTextEdit(QStringLiteral("distill.temperature: [2, 4]\nseed: [0, 1]\n"));
  axes_->setObjectName(QStringLiteral("sweep-axes"));
  axes_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  axes_->setToolTip(tr("One axis a line, as a sweep file's axes: a grid [a, b], a range {from: A, to: B, step: S},\n"
                       "random draws {random: [lo, hi], count: N, seed: S}; docs/sweeps.md"));
  axes_->setMinimumHeight(110);
  backend_ = new QComboBox;
  backend_->setObjectName(QStringLiteral("sweep-backend"));
  backend_->addItem(tr("local: worker processes on this machine"), QStringLiteral("local"));
  backend_->addItem(tr("slurm: a job array through sbatch"), QStringLiteral("slurm"));
  jobs_ = new QSpinBox;
  jobs_->setObjectName(QStringLiteral("sweep-jobs"));
  jobs_->setRange(1, 256);
  jobs_->setValue(1);
  partition_ = new QLineEdit;
  partition_->setPlaceholderText(tr("the cluster's default"));
  time_ = new QLineEdit;
  time_->setPlaceholderText(tr("e.g. 01:00:00"));
  mem_ = new QLineEdit;
  mem_->setPlaceholderText(tr("e.g. 8G"));
  folder_ = new QLineEdit(default_folder);
  folder_->setObjectName(QStringLiteral("sweep-folder"));
  auto* browse = new QPushButton(tr("Browse…"));
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Folder for the sweep"), folder_->text());
    if (!dir.isEmpty()) folder_->setText(QDir(dir).filePath(name_->text()));
  });
  auto* folder_row = new QHBoxLayout;
  folder_row->addWidget(folder_, 1);
  folder_row->addWidget(browse);
  plan_label_ = new QLabel;
  plan_label_->setObjectName(QStringLiteral("sweep-plan"));
  plan_label_->setWordWrap(true);
  plan_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* form = new QFormLayout;
  form->addRow(tr("Name"), name_);
  form->addRow(tr("Axes"), axes_);
  form->addRow(tr("Backend"), backend_);
  form->addRow(tr("Runs at a time"), jobs_);
  form->addRow(tr("Partition"), partition_);
  form->addRow(tr("Time per run"), time_);
  form->addRow(tr("Memory per run"), mem_);
  form->addRow(tr("Folder"), folder_row);
  buttons_ = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  buttons_->button(QDialogButtonBox::Ok)->setText(tr("Submit"));
  connect(buttons_, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* layout = new QVBoxLayout(this);
  auto* intro = new QLabel(tr("The experiment in the form is the base; each axis varies one of its keys."));
  intro->setWordWrap(true);
  layout->addWidget(intro);
  layout->addLayout(form);
  layout->addWidget(plan_label_);
  layout->addWidget(buttons_);

  const auto backendChanged = [this, form] {
    const bool slurm = backend_->currentData().toString() == QLatin1String("slurm");
    form->setRowVisible(jobs_, !slurm);
    for (QWidget* w : {static_cast<QWidget*>(partition_), static_cast<QWidget*>(time_), static_cast<QWidget*>(mem_)})
      form->setRowVisible(w, slurm);
  };
  connect(backend_, &QComboBox::currentIndexChanged, this, backendChanged);
  backendChanged();
  connect(name_, &QLineEdit::textChanged, this, [this](const QString& name) {
    // The folder follows the name while it is the default one beside it.
    const QFileInfo info(folder_->text());
    folder_->setText(info.dir().filePath(name.isEmpty() ? QStringLiteral("sweep") : name));
    check();
  });
  connect(axes_, &QPlainTextEdit::textChanged, this, &SweepDialog::check);
  check();
}

void SweepDialog::check() {
  valid_ = false;
  runs_ = 0;
  try {
    const SweepSpec spec = parseSweep(sweepFileText(name_->text(), base_, axes_->toPlainText()).toStdString(),
                                      "the sweep", QDir::currentPath().toStdString());
    const SweepPlan plan = planSweep(spec);
    runs_ = static_cast<int>(plan.tasks.size());
    valid_ = runs_ > 0;
    plan_label_->setText(tr("%n run(s). %1", nullptr, runs_).arg(toQ(plan.teacher_note)));
    plan_label_->setStyleSheet(QString());
  } catch (const std::exception& e) {
    plan_label_->setText(toQ(e.what()));
    plan_label_->setStyleSheet(QStringLiteral("color: #b00020;"));
  }
  buttons_->button(QDialogButtonBox::Ok)->setEnabled(valid_);
}

SweepSubmission SweepDialog::submission() const {
  SweepSubmission s;
  s.folder = QFileInfo(folder_->text()).absoluteFilePath();
  s.sweep_text = sweepFileText(name_->text(), base_, axes_->toPlainText());
  s.runs = runs_;
  const QString backend = backend_->currentData().toString();
  s.run_arguments << QStringLiteral("--out") << s.folder << QStringLiteral("--backend") << backend;
  if (backend == QLatin1String("local")) {
    s.run_arguments << QStringLiteral("--jobs") << QString::number(jobs_->value());
  } else {
    if (!partition_->text().trimmed().isEmpty()) s.run_arguments << QStringLiteral("--partition") << partition_->text().trimmed();
    if (!time_->text().trimmed().isEmpty()) s.run_arguments << QStringLiteral("--time") << time_->text().trimmed();
    if (!mem_->text().trimmed().isEmpty()) s.run_arguments << QStringLiteral("--mem") << mem_->text().trimmed();
  }
  return s;
}

}  // namespace distill::ui
