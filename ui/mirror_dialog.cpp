#include "ui/mirror_dialog.h"

#include <QCloseEvent>
#include <QComboBox>
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

#include <cmath>

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
  note.replace(QStringLiteral("--reference-samples"), QStringLiteral("the \"training images / blocks\" field"));
  note.replace(QStringLiteral("--probe-samples"), QStringLiteral("the \"images per probe\" field"));
  note.replace(QStringLiteral("--references"), QStringLiteral("the \"references\" field"));
  note.replace(QStringLiteral("give --second-corpus PATH"),
               QStringLiteral("run `distill mirror --second-corpus PATH` from a terminal"));
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

// "yes" / "no" for B closer than every reference: a finding, not an error, so bold for "yes" in
// the text colour (red read as a failure).
QTableWidgetItem* closerCell(bool closer) {
  auto* item = cell(closer ? QObject::tr("yes") : QObject::tr("no"), Qt::AlignCenter);
  QFont font = item->font();
  font.setBold(closer);
  item->setFont(font);
  return item;
}

// The verdict (bold, in the palette's text colour: an answer, not an alarm) and the first lines
// of the evidence: the core's line, written with "±" as the table is (the core writes "+/-"
// for terminals), and the two models.
QStringList showVerdict(QLabel* verdict, const std::string& text, const std::string& evidence, const std::string& a,
                        const std::string& b) {
  verdict->setText(QStringLiteral("<b>%1</b>").arg(toQ(text).toHtmlEscaped()));
  return {toQ(evidence).replace(QStringLiteral("+/-"), QStringLiteral("±")), QObject::tr("A: %1").arg(toQ(a)),
          QObject::tr("B: %1").arg(toQ(b))};
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

  const LmMirrorOptions lm_defaults;
  access_ = new QComboBox;
  access_->setObjectName(QStringLiteral("mirrorAccess"));
  access_->addItem(tr("logits (white-box)"), QStringLiteral("logits"));
  access_->addItem(tr("top-k log-probabilities"), QStringLiteral("topk"));
  access_->addItem(tr("generated text only"), QStringLiteral("text"));
  access_->setToolTip(tr("What the test reads of A: its full distributions, an API's top-k log-probabilities, or "
                         "only its greedy completions"));
  top_k_ = new QSpinBox;
  top_k_->setRange(1, 100);
  top_k_->setValue(static_cast<int>(lm_defaults.top_k));
  top_k_->setToolTip(tr("k of the top-k access and of the top-k overlap"));
  windows_ = new QSpinBox;
  windows_->setRange(8, 10'000);  // fewer cannot reach a verdict (core/fidelity/lm_mirror.cpp)
  windows_->setValue(static_cast<int>(lm_defaults.sequences));
  windows_->setToolTip(tr("Windows of text per probe set: the test's samples"));

  auto* form = new QFormLayout;
  form->addRow(tr("Model A (the original):"), model_a_);
  form->addRow(tr("Model B (does it mirror A?):"), model_b_);
  auto* settings = new QHBoxLayout;
  settings->addWidget(new QLabel(tr("references")));
  settings->addWidget(references_);
  settings->addWidget(new QLabel(tr("epochs")));
  settings->addWidget(epochs_);
  settings->addWidget(new QLabel(tr("training images / blocks")));
  settings->addWidget(samples_);
  settings->addWidget(new QLabel(tr("images per probe")));
  settings->addWidget(probe_samples_);
  settings->addStretch(1);
  form->addRow(tr("Reference models:"), settings);
  auto* lm_settings = new QHBoxLayout;
  lm_settings->addWidget(new QLabel(tr("A's access")));
  lm_settings->addWidget(access_);
  lm_settings->addWidget(new QLabel(tr("k")));
  lm_settings->addWidget(top_k_);
  lm_settings->addWidget(new QLabel(tr("windows per probe")));
  lm_settings->addWidget(windows_);
  lm_settings->addStretch(1);
  form->addRow(tr("Language models:"), lm_settings);

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
  LmMirrorOptions lm_options;
  lm_options.database_path = options.database_path;
  lm_options.access = access_->currentData().toString().toStdString();
  lm_options.top_k = top_k_->value();
  lm_options.references = options.references;
  lm_options.reference_epochs = options.reference_epochs;
  lm_options.reference_train_blocks = options.reference_train_samples;
  lm_options.sequences = windows_->value();
  lm_options.progress = options.progress;
  lm_options.stop = options.stop;
  lm_report_.reset();
  auto flag = stop_flag_;
  worker_ = QThread::create([this, a, b, options, lm_options, flag] {
    auto report = std::make_shared<MirrorReport>();
    std::shared_ptr<LmMirrorReport> lm_report;
    QString error;
    try {
      // Runs of task lm take the language-model test; the stored configs say which.
      if (namesLanguageModelRun(a, options.database_path, "A") ||
          namesLanguageModelRun(b, options.database_path, "B"))
        lm_report = std::make_shared<LmMirrorReport>(runLmMirrorTest(a, b, lm_options));
      else
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
    QMetaObject::invokeMethod(
        this, [this, report, lm_report, error] { onDone(report, lm_report, error); }, Qt::QueuedConnection);
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

void MirrorDialog::onDone(std::shared_ptr<MirrorReport> report, std::shared_ptr<LmMirrorReport> lm_report,
                          QString error) {
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
  if (lm_report)
    showReport(*lm_report);
  else
    showReport(*report);
  emit finished(true);
}

void MirrorDialog::showReport(const MirrorReport& report) {
  report_ = std::make_unique<MirrorReport>(report);
  lm_report_.reset();
  table_->setColumnCount(8);
  table_->setHorizontalHeaderLabels({tr("probe set"), tr("images"), tr("B vs A\nagreement"), tr("B vs A\nKL"),
                                     tr("references vs A\nagreement"), tr("references vs A\nKL (closest)"),
                                     tr("reference pairs\nagreement"), tr("B closer than\nevery reference")});
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
    table_->setItem(row, 7, closerCell(p.closer_than_references));
    ++row;
  }
  QStringList lines = showVerdict(verdict_, report.verdict, report.evidence, report.model_a, report.model_b);
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

void MirrorDialog::showReport(const LmMirrorReport& report) {
  lm_report_ = std::make_unique<LmMirrorReport>(report);
  report_.reset();
  const bool spread = report.references >= kMinReferencesForSpread;
  const bool text = !report.probes.empty() && std::isnan(report.probes.front().kl);
  auto mean_pm = [&](const QString& mean, const QString& std) {
    return spread ? QStringLiteral("%1 ± %2").arg(mean, std) : QStringLiteral("%1 (%2)").arg(mean, tr("spread n/a"));
  };
  auto number = [](double v, int digits) { return std::isfinite(v) ? QString::number(v, 'f', digits) : QStringLiteral("n/a"); };
  table_->setColumnCount(9);
  table_->setHorizontalHeaderLabels(
      {tr("probe set"), tr("tokens"), tr("B vs A\ngreedy match"), tr("references vs A\ngreedy match (closest)"),
       text ? tr("B: cross-entropy\nof A's text") : tr("B vs A\ntop-k overlap"),
       text ? tr("references:\ncross-entropy (lowest)") : tr("references vs A\ntop-k overlap"),
       tr("KL(A || B)\nB / references"), tr("p (Holm)"), tr("B closer than\nevery reference")});
  table_->setRowCount(static_cast<int>(report.probes.size()));
  int row = 0;
  for (const auto& p : report.probes) {
    auto* name = cell(toQ(p.name), Qt::AlignLeft | Qt::AlignVCenter);
    name->setToolTip(toQ(p.description));
    table_->setItem(row, 0, name);
    table_->setItem(row, 1, cell(QString::number(p.positions)));
    table_->setItem(row, 2, cell(pct(p.match)));
    table_->setItem(row, 3, cell(tr("%1 (%2)").arg(mean_pm(pct(p.reference_match_mean), pct(p.reference_match_std)),
                                                   pct(p.reference_match_max))));
    if (text) {
      table_->setItem(row, 4, cell(number(p.cross_entropy, 3)));
      table_->setItem(row, 5, cell(tr("%1 (%2)").arg(number(p.reference_cross_entropy_mean, 3),
                                                      number(p.reference_cross_entropy_min, 3))));
    } else {
      table_->setItem(row, 4, cell(pct(p.overlap)));
      table_->setItem(row, 5, cell(pct(p.reference_overlap_mean)));
    }
    table_->setItem(row, 6, cell(std::isfinite(p.kl) ? tr("%1 / %2").arg(number(p.kl, 3), number(p.reference_kl_mean, 3))
                                                     : tr("n/a")));
    auto* p_cell = cell(QString::number(p.p_adjusted, 'g', 2));
    p_cell->setToolTip(tr("raw: greedy match %1, %2 %3; the smaller doubled, then Holm-adjusted over the probe sets")
                           .arg(QString::number(p.p_match, 'g', 2), text ? tr("cross-entropy") : tr("overlap"),
                                QString::number(p.p_distance, 'g', 2)));
    table_->setItem(row, 7, p_cell);
    table_->setItem(row, 8, closerCell(p.closer_than_references));
    ++row;
  }
  QStringList lines = showVerdict(verdict_, report.verdict, report.evidence, report.model_a, report.model_b);
  lines << tr("Access: %1 · references: %2").arg(toQ(report.access), toQ(report.reference_description));
  lines << tr("Validation cross-entropy (nats per token): A %1, B %2, references %3 · %4 s")
               .arg(number(report.a_validation_ce, 3), number(report.b_validation_ce, 3),
                    mean_pm(number(report.reference_validation_ce_mean, 3), number(report.reference_validation_ce_std, 3)))
               .arg(report.seconds, 0, 'f', 0);
  for (const auto& note : report.notes) lines << tr("Note: %1").arg(windowWording(toQ(note)));
  evidence_->setText(lines.join(QStringLiteral("\n")));
}

}  // namespace distill::ui
