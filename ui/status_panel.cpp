#include "ui/status_panel.h"

#include <QHBoxLayout>
#include <QVBoxLayout>
#include <QLabel>
#include <QProgressBar>

#include <cmath>

namespace distill::ui {
namespace {
QLabel* label(const QString& object_name, int min_width) {
  auto* l = new QLabel;
  l->setObjectName(object_name);
  l->setMinimumWidth(min_width);
  return l;
}

// A label for a text that changes several times a second (the step, the speed). Fixed in size
// (minimum = maximum), it does not ask the window to lay itself out again on each new text,
// which is what QLabel::setText does otherwise: a layout pass over the window, 5 times a
// second, for the duration of a run. It grows, once, when a text needs more room.
QLabel* steadyLabel(const QString& object_name, int width) {
  auto* l = label(object_name, width);
  l->setText(QStringLiteral("Xg"));
  l->setFixedSize(width, l->sizeHint().height());
  l->setText(QString());
  return l;
}

void setSteadyText(QLabel* l, const QString& text) {
  l->setText(text);
  const int needed = l->sizeHint().width();
  if (needed > l->maximumWidth()) l->setFixedWidth(needed + 2 * l->fontMetrics().averageCharWidth());
}
}  // namespace

StatusPanel::StatusPanel(QWidget* parent) : QWidget(parent) {
  state_ = label(QStringLiteral("state"), 80);
  state_->setStyleSheet(QStringLiteral("font-weight: bold;"));
  phase_ = label(QStringLiteral("phase"), 110);
  position_ = steadyLabel(QStringLiteral("position"), 190);
  progress_ = new QProgressBar;
  progress_->setObjectName(QStringLiteral("progress"));
  progress_->setRange(0, 1000);
  progress_->setAlignment(Qt::AlignCenter);
  // Room for the longest text it shows ("100.0% · ETA 59 min 59 s"): its text is never cut.
  progress_->setMinimumWidth(progress_->fontMetrics().horizontalAdvance(tr("100.0% · ETA 59 min 59 s")) + 48);
  speed_ = steadyLabel(QStringLiteral("speed"), 120);
  device_ = label(QStringLiteral("device"), 90);
  // Two rows: the labels, then the progress bar across the whole width. In one row the
  // labels and the bar needed 820 pixels, more than the centre has on a 1280-pixel screen,
  // and the bar's text was cut (".1% · ETA 28 s").
  auto* labels = new QHBoxLayout;
  labels->setContentsMargins(0, 0, 0, 0);
  labels->addWidget(state_);
  labels->addWidget(phase_);
  labels->addWidget(position_);
  labels->addStretch(1);
  labels->addWidget(speed_);
  labels->addWidget(device_);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 2, 6, 2);
  layout->setSpacing(2);
  layout->addLayout(labels);
  layout->addWidget(progress_);
  reset();
}

QString StatusPanel::durationText(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return QStringLiteral("?");
  const auto total = static_cast<long long>(std::llround(seconds));
  if (total < 60) return QStringLiteral("%1 s").arg(total);
  if (total < 3600) return QStringLiteral("%1 min %2 s").arg(total / 60).arg(total % 60, 2, 10, QChar('0'));
  return QStringLiteral("%1 h %2 min").arg(total / 3600).arg((total / 60) % 60, 2, 10, QChar('0'));
}

void StatusPanel::showProgress(const ProgressInfo& p) {
  const bool teacher = p.phase == Phase::Teacher;
  if (styled_phase_ != static_cast<int>(p.phase)) {  // progress arrives ~30 times a second
    styled_phase_ = static_cast<int>(p.phase);
    phase_->setText(teacher ? tr("Phase 1: teacher") : tr("Phase 2: student"));
    phase_->setStyleSheet(teacher ? QStringLiteral("color: #c05c00;") : QStringLiteral("color: #1f6fc5;"));
  }
  setSteadyText(position_, tr("epoch %1/%2 · step %3/%4").arg(p.epoch).arg(p.epochs).arg(p.step).arg(p.steps_in_phase));
  const int value = p.total_steps > 0 ? static_cast<int>(1000.0 * p.done_steps / p.total_steps) : 0;
  progress_->setValue(value);
  // The run's size in its own units (tokens for a language model, samples for images).
  const QString units = QString::fromStdString(progressUnitsText(p));
  progress_->setFormat(units.isEmpty() ? tr("%1% · ETA %2").arg(value / 10.0, 0, 'f', 1).arg(durationText(p.eta_s))
                                       : tr("%1% · %2 · ETA %3").arg(value / 10.0, 0, 'f', 1).arg(units, durationText(p.eta_s)));
  setSteadyText(speed_, tr("%1 %2/s").arg(p.units_per_s, 0, 'f', 0).arg(QString::fromStdString(p.units)));
  if (!p.device.empty()) setDevice(QString::fromStdString(p.device));
}

void StatusPanel::setState(const QString& state) { state_->setText(state); }

void StatusPanel::setDevice(const QString& device) { device_->setText(tr("device %1").arg(device)); }

void StatusPanel::reset() {
  state_->setText(tr("idle"));
  phase_->setText(QStringLiteral("–"));
  phase_->setStyleSheet(QString());
  styled_phase_ = -1;
  position_->setText(QString());
  progress_->setValue(0);
  progress_->setFormat(tr("no run"));
  speed_->setText(QString());
}

QString StatusPanel::phaseText() const { return phase_->text(); }
QString StatusPanel::progressText() const { return progress_->text(); }
QProgressBar* StatusPanel::progressBar() const { return progress_; }
int StatusPanel::progressValue() const { return progress_->value(); }

}  // namespace distill::ui
