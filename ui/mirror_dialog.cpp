#include "ui/mirror_dialog.h"

#include <QCloseEvent>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QThread>
#include <QVBoxLayout>

#include "core/config/config.h"

namespace distill::ui {

namespace {

QString toQ(const std::string& text) { return QString::fromStdString(text); }

QString pct(double fraction) { return QStringLiteral("%1%").arg(100.0 * fraction, 0, 'f', 1); }

// With fewer than three references a standard deviation is no estimate of the spread (with two
// it is half their difference, and often exactly 0.0%): say so instead of "± 0.0%".
constexpr int kMinReferencesForSpread = 3;

// The core's notes name the CLI's flags; in the window the same settings are fields of this
// dialog, so the notes name those instead.
QString windowWording(QString note) {
  note.replace(QStringLiteral("--reference-epochs"), QStringLiteral("the \"epochs\" field"));
  note.replace(QStringLiteral("--reference-samples"), QStringLiteral("the \"training images\" field"));
  note.replace(QStringLiteral("--probe-samples"), QStringLiteral("the \"images per probe\" field"));
  note.replace(QStringLiteral("--references"), QStringLiteral("the \"references\" field"));
  note.replace(QStringLiteral("give --other-dataset FOLDER"),
               QStringLiteral("run `distill mirror --other-dataset FOLDER` from a terminal"));
  note.replace(QStringLiteral("give one with --other-dataset FOLDER"),
               QStringLiteral("the terminal's `distill mirror --other-dataset FOLDER` takes one"));
  return note;
}

QTableWidgetItem* cell(const QString& text, Qt::Alignment alignment = Qt::AlignRight | Qt::AlignVCenter) {
  auto* item = new QTableWidgetItem(text);
  item->setTextAlignment(alignment);
  item->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
  return item;
}

}  // namespace

MirrorDialog::MirrorDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Mirror test"));
  setObjectName(QStringLiteral("mirrorDialog"));
  model_a_ = new QLineEdit;
  model_a_->setObjectName(QStringLiteral("modelA"));
  model_a_->setPlaceholderText(tr("RUN, RUN:teacher, RUN:student or a TorchScript file"));
  model_b_ = new QLineEdit;
  model_b_->setObjectName(QStringLiteral("modelB"));
  model_b_->setPlaceholderText(tr("the suspect, in the same forms"));
  MirrorOptions defaults;
  references_ = new QSpinBox;
  references_->setRange(2, 20);
  references_->setValue(defaults.references);
  references_->setToolTip(tr("Models trained independently, from different seeds, on the same data"));
  epochs_ = new QSpinBox;
  epochs_->setRange(0, 1000);
  epochs_->setSpecialValueText(tr("as the run"));
  epochs_->setToolTip(tr("Epochs of each reference; \"as the run\": as many as B's run trained its student"));
  epochs_->setValue(static_cast<int>(defaults.reference_epochs));
  samples_ = new QSpinBox;
  samples_->setRange(0, 10'000'000);
  samples_->setSingleStep(1000);
  samples_->setSpecialValueText(tr("all"));
  samples_->setValue(static_cast<int>(defaults.reference_train_samples));
  probe_samples_ = new QSpinBox;
  probe_samples_->setRange(10, 100'000);
  probe_samples_->setSingleStep(500);
  probe_samples_->setValue(static_cast<int>(defaults.probe_samples));

  auto* form = new QFormLayout;
  form->addRow(tr("Model A (the original):"), model_a_);
  form->addRow(tr("Model B (does it mirror A?):"), model_b_);
  auto* settings = new QHBoxLayout;
  settings->addWidget(new QLabel(tr("references")));
  settings->addWidget(references_);
  settings->addWidget(new QLabel(tr("epochs")));
  settings->addWidget(epochs_);
  settings->addWidget(new QLabel(tr("training images")));
  settings->addWidget(samples_);
  settings->addWidget(new QLabel(tr("images per probe")));
  settings->addWidget(probe_samples_);
  settings->addStretch(1);
  form->addRow(tr("Reference models:"), settings);

  run_button_ = new QPushButton(tr("Run"));
  run_button_->setObjectName(QStringLiteral("runMirror"));
  run_button_->setDefault(true);
  stop_button_ = new QPushButton(tr("Stop"));
  stop_button_->setEnabled(false);
  auto* buttons = new QHBoxLayout;
  buttons->addStretch(1);
  buttons->addWidget(run_button_);
  buttons->addWidget(stop_button_);

  log_ = new QPlainTextEdit;
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(200);
  log_->setFixedHeight(70);
  table_ = new QTableWidget(0, 8);
  table_->setObjectName(QStringLiteral("mirrorTable"));
  table_->setHorizontalHeaderLabels({tr("probe set"), tr("images"), tr("B vs A\nagreement"), tr("B vs A\nKL"),
                                     tr("references vs A\nagreement"), tr("references vs A\nKL (closest)"),
                                     tr("reference pairs\nagreement"), tr("B closer than\nevery reference")});
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setAlternatingRowColors(true);
  verdict_ = new QLabel;
  verdict_->setObjectName(QStringLiteral("mirrorVerdict"));
  verdict_->setWordWrap(true);
  verdict_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  evidence_ = new QLabel;
  evidence_->setObjectName(QStringLiteral("mirrorEvidence"));
  evidence_->setWordWrap(true);
  evidence_->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addLayout(buttons);
  layout->addWidget(log_);
  layout->addWidget(table_, 1);
  layout->addWidget(verdict_);
  layout->addWidget(evidence_);
  resize(1000, 660);

  connect(run_button_, &QPushButton::clicked, this, &MirrorDialog::start);
  connect(stop_button_, &QPushButton::clicked, this, &MirrorDialog::stop);
}

MirrorDialog::~MirrorDialog() {
  if (worker_) {
    stop_flag_->store(true);
    worker_->wait();
  }
}

void MirrorDialog::setModels(const QString& a, const QString& b) {
  if (running()) return;
  model_a_->setText(a);
  model_b_->setText(b);
}

void MirrorDialog::start() {
  if (worker_) return;
  MirrorOptions options;
  options.database_path = database_path_.toStdString();
  options.references = references_->value();
  options.reference_epochs = epochs_->value();
  options.reference_train_samples = samples_->value();
  options.probe_samples = probe_samples_->value();
  stop_flag_ = std::make_shared<std::atomic<bool>>(false);
  options.stop = stop_flag_.get();
  // Progress lines come back to the dialog through queued calls; the flag keeps the atomic
  // alive for the worker's whole life.
  options.progress = [this](const std::string& line) {
    const QString text = toQ(line);
    QMetaObject::invokeMethod(this, [this, text] { log_->appendPlainText(text); }, Qt::QueuedConnection);
  };
  const std::string a = model_a_->text().trimmed().toStdString();
  const std::string b = model_b_->text().trimmed().toStdString();
  log_->clear();
  table_->setRowCount(0);
  verdict_->clear();
  evidence_->clear();
  report_.reset();
  run_button_->setEnabled(false);
  stop_button_->setEnabled(true);
  auto flag = stop_flag_;
  worker_ = QThread::create([this, a, b, options, flag] {
    auto report = std::make_shared<MirrorReport>();
    QString error;
    try {
      *report = runMirrorTest(a, b, options);
    } catch (const MirrorStopped&) {
      error = tr("stopped");
    } catch (const ConfigError& e) {
      QStringList issues;
      for (const auto& issue : e.issues()) issues << toQ(issue.toString());
      error = issues.join(QStringLiteral("; "));
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    QMetaObject::invokeMethod(this, [this, report, error] { onDone(report, error); }, Qt::QueuedConnection);
  });
  worker_->start();
}

void MirrorDialog::stop() {
  if (stop_flag_) stop_flag_->store(true);
  stop_button_->setEnabled(false);
}

void MirrorDialog::closeEvent(QCloseEvent* event) {
  stop();  // a closed dialog need not finish its references
  QDialog::closeEvent(event);
}

void MirrorDialog::onDone(std::shared_ptr<MirrorReport> report, QString error) {
  worker_->wait();
  worker_->deleteLater();
  worker_ = nullptr;
  run_button_->setEnabled(true);
  stop_button_->setEnabled(false);
  if (!error.isEmpty()) {
    verdict_->setText(tr("<b>Mirror test not finished:</b> %1").arg(error.toHtmlEscaped()));
    emit finished(false);
    return;
  }
  showReport(*report);
  emit finished(true);
}

void MirrorDialog::showReport(const MirrorReport& report) {
  report_ = std::make_unique<MirrorReport>(report);
  const bool spread = report.references >= kMinReferencesForSpread;
  const QString no_spread = tr("spread n/a");
  auto mean_pm = [&](const QString& mean, const QString& std) {
    return spread ? QStringLiteral("%1 ± %2").arg(mean, std) : QStringLiteral("%1 (%2)").arg(mean, no_spread);
  };
  table_->setRowCount(static_cast<int>(report.probes.size()));
  int row = 0;
  for (const auto& p : report.probes) {
    auto* name = cell(toQ(p.name), Qt::AlignLeft | Qt::AlignVCenter);
    name->setToolTip(toQ(p.description));
    table_->setItem(row, 0, name);
    table_->setItem(row, 1, cell(QString::number(p.samples)));
    table_->setItem(row, 2, cell(pct(p.agreement)));
    table_->setItem(row, 3, cell(QString::number(p.kl, 'f', 3)));
    table_->setItem(row, 4, cell(mean_pm(pct(p.reference_vs_a_agreement_mean), pct(p.reference_vs_a_agreement_std))));
    table_->setItem(row, 5, cell(tr("%1 (closest %2)")
                                     .arg(mean_pm(QString::number(p.reference_vs_a_kl_mean, 'f', 3),
                                                  QString::number(p.reference_vs_a_kl_std, 'f', 3)))
                                     .arg(p.reference_vs_a_kl_min, 0, 'f', 3)));
    table_->setItem(row, 6, cell(mean_pm(pct(p.reference_agreement_mean), pct(p.reference_agreement_std))));
    // A finding, not an error: bold for "yes", in the text colour (red read as a failure).
    auto* closer = cell(p.closer_than_references ? tr("yes") : tr("no"), Qt::AlignCenter);
    QFont closer_font = closer->font();
    closer_font.setBold(p.closer_than_references);
    closer->setFont(closer_font);
    table_->setItem(row, 7, closer);
    ++row;
  }
  // The verdict is an answer, not an alarm: bold in the palette's text colour either way.
  verdict_->setText(QStringLiteral("<b>%1</b>").arg(toQ(report.verdict).toHtmlEscaped()));
  QStringList lines;
  // The core's evidence line is plain ASCII for terminals ("+/-"); the dialog writes "±" as its table does.
  lines << toQ(report.evidence).replace(QStringLiteral("+/-"), QStringLiteral("±"));
  lines << tr("A: %1").arg(toQ(report.model_a)) << tr("B: %1").arg(toQ(report.model_b));
  lines << tr("References: %1").arg(toQ(report.reference_description));
  lines << tr("Test accuracy: A %1, B %2, references %3 · %4 s")
               .arg(pct(report.a_test_acc), pct(report.b_test_acc),
                    mean_pm(pct(report.reference_test_acc_mean), pct(report.reference_test_acc_std)))
               .arg(report.seconds, 0, 'f', 0);
  if (!spread)
    lines << tr("Note: with %1 reference models the spread between them cannot be estimated; use 3 or more "
                "(the \"references\" field) for a ± that means something.")
                 .arg(report.references);
  for (const auto& note : report.notes) lines << tr("Note: %1").arg(windowWording(toQ(note)));
  evidence_->setText(lines.join(QStringLiteral("\n")));
}

}  // namespace distill::ui
