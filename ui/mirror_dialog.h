// The mirror test in the window: two models (RUN, RUN:teacher, RUN:student or a TorchScript
// file), the reference settings, Run and Stop; the test runs on a worker thread (the window
// stays responsive) and shows its progress, the table of probe sets and the verdict with its
// evidence. See core/fidelity/mirror.h for what is measured. Runs of task lm take the
// language-model test (core/fidelity/lm_mirror.h), with its own settings (what is read of A,
// k, windows per probe set) and its own table (greedy match, top-k overlap, KL, p-values); the
// worker tells which from the runs' stored configs.
//
// Thread contract: a widget; GUI thread only. The worker touches no widget: progress lines
// and the report come back through queued calls; Stop sets an atomic the test polls.
#pragma once

#include <QDialog>
#include <QString>

#include <atomic>
#include <memory>

#include "core/fidelity/lm_mirror.h"
#include "core/fidelity/mirror.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QThread;

namespace distill::ui {

class MirrorDialog : public QDialog {
  Q_OBJECT
 public:
  explicit MirrorDialog(QWidget* parent = nullptr);
  ~MirrorDialog() override;

  void setDatabasePath(const QString& path) { database_path_ = path; }
  void setModels(const QString& a, const QString& b);
  bool running() const { return worker_ != nullptr; }
  const MirrorReport* report() const { return report_.get(); }
  const LmMirrorReport* lmReport() const { return lm_report_.get(); }
  // Shows a finished report (the worker's come through here).
  void showReport(const MirrorReport& report);
  void showReport(const LmMirrorReport& report);

  QLineEdit* modelA() const { return model_a_; }
  QLineEdit* modelB() const { return model_b_; }
  QSpinBox* referencesBox() const { return references_; }
  QSpinBox* epochsBox() const { return epochs_; }
  QSpinBox* samplesBox() const { return samples_; }
  QSpinBox* probeBox() const { return probe_samples_; }
  QComboBox* accessBox() const { return access_; }  // language models: logits, topk, text
  QSpinBox* topKBox() const { return top_k_; }
  QSpinBox* windowsBox() const { return windows_; }  // language models: windows per probe set
  QPushButton* runButton() const { return run_button_; }
  QPushButton* stopButton() const { return stop_button_; }
  QTableWidget* table() const { return table_; }
  QLabel* verdictLabel() const { return verdict_; }
  QLabel* evidenceLabel() const { return evidence_; }
  QPlainTextEdit* progressLog() const { return log_; }

 public slots:
  void start();
  void stop();

 signals:
  void finished(bool ok);

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void onDone(std::shared_ptr<MirrorReport> report, std::shared_ptr<LmMirrorReport> lm_report, QString error);

  QString database_path_;
  QThread* worker_ = nullptr;
  std::shared_ptr<std::atomic<bool>> stop_flag_;
  std::unique_ptr<MirrorReport> report_;
  std::unique_ptr<LmMirrorReport> lm_report_;

  QLineEdit* model_a_ = nullptr;
  QLineEdit* model_b_ = nullptr;
  QSpinBox* references_ = nullptr;
  QSpinBox* epochs_ = nullptr;
  QSpinBox* samples_ = nullptr;
  QSpinBox* probe_samples_ = nullptr;
  QComboBox* access_ = nullptr;
  QSpinBox* top_k_ = nullptr;
  QSpinBox* windows_ = nullptr;
  QPushButton* run_button_ = nullptr;
  QPushButton* stop_button_ = nullptr;
  QPlainTextEdit* log_ = nullptr;
  QTableWidget* table_ = nullptr;
  QLabel* verdict_ = nullptr;
  QLabel* evidence_ = nullptr;
};

}  // namespace distill::ui
