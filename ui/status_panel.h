// The strip under the charts: phase, epoch and step, a progress bar with the ETA,
// samples per second and the device of the live run.
//
// Thread contract: a widget; GUI thread only.
#pragma once

#include <QWidget>

#include "core/train/observer.h"

class QLabel;
class QProgressBar;

namespace distill::ui {

class StatusPanel : public QWidget {
  Q_OBJECT
 public:
  explicit StatusPanel(QWidget* parent = nullptr);

  void showProgress(const ProgressInfo& progress);
  // A one-word state ("idle", "running", "paused", "stopping", "completed", ...).
  void setState(const QString& state);
  void setDevice(const QString& device);
  void reset();

  QString phaseText() const;
  QString progressText() const;  // as drawn: "42.1% · ETA 28 s"
  QProgressBar* progressBar() const;
  int progressValue() const;

  static QString durationText(double seconds);

 private:
  QLabel* state_ = nullptr;
  QLabel* phase_ = nullptr;
  QLabel* position_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel* speed_ = nullptr;
  QLabel* device_ = nullptr;
  int styled_phase_ = -1;  // the phase whose colour phase_ has (a style sheet re-polishes the widget)
};

}  // namespace distill::ui
