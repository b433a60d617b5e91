#include "ui/desktop_integration.h"

#include <QAction>
#include <QCoreApplication>
#include <QDir>
#include <QEvent>
#include <QFileInfo>
#include <QMainWindow>
#include <QMenu>
#include <QSettings>
#include <QSplitter>
#include <QTimer>
#include <qcustomplot.h>

#include "core/runtime/installation.h"
#include "core/runtime/runtime.h"

namespace distill::ui {
namespace {

QString toQ(const std::string& text) { return QString::fromStdString(text); }

QString splitterKey(const QSplitter* splitter, int index) {
  const QString name = splitter->objectName();
  return QStringLiteral("splitters/") + (name.isEmpty() ? QStringLiteral("unnamed-%1").arg(index) : name);
}

// Re-applies the palette when it changes; lives as a child of the plot.
class PaletteFollower : public QObject {
 public:
  explicit PaletteFollower(QCustomPlot* plot) : QObject(plot), plot_(plot) { plot->installEventFilter(this); }

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override {
    // StyleChange: a style sheet re-polish hands the plot its palette without a PaletteChange.
    if (watched == plot_ && (event->type() == QEvent::PaletteChange || event->type() == QEvent::StyleChange)) {
      const QRgb text = plot_->palette().color(QPalette::Text).rgba();
      const QRgb base = plot_->palette().color(QPalette::Base).rgba();
      if (text == applied_text_ && base == applied_base_) return false;  // a burst of events, one redraw
      applied_text_ = text;
      applied_base_ = base;
      applyChartPalette(*plot_, plot_->palette());
      // At once: a queued replot was seen to be lost when the change arrives during a re-polish.
      plot_->replot();
    }
    return false;
  }

 private:
  QCustomPlot* plot_;
  QRgb applied_text_ = 0;
  QRgb applied_base_ = 0;
};

// Re-applies a window's style sheet after the application palette changed. Widgets polished
// by a style sheet keep the palette they had when polished (Qt 6.4), so without this only
// the top-level window would follow the desktop from light to dark.
class StyleSheetRefresher : public QObject {
 public:
  explicit StyleSheetRefresher(QWidget* window) : QObject(window), window_(window) { window->installEventFilter(this); }

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override {
    if (watched == window_ && event->type() == QEvent::ApplicationPaletteChange && !pending_) {
      pending_ = true;
      QTimer::singleShot(0, this, [this] {
        pending_ = false;
        const QString sheet = window_->styleSheet();
        window_->setStyleSheet(QString());
        window_->setStyleSheet(sheet);
        for (QWidget* child : window_->findChildren<QWidget*>()) child->ensurePolished();  // now, not at the next paint
      });
    }
    return false;
  }

 private:
  QWidget* window_;
  bool pending_ = false;
};

}  // namespace

void followApplicationPalette(QWidget* window) { new StyleSheetRefresher(window); }

std::unique_ptr<QSettings> openSettings() {
  QString organisation = QCoreApplication::organizationName();
  if (organisation.isEmpty()) organisation = QStringLiteral("distill-workbench");
  return std::make_unique<QSettings>(QSettings::IniFormat, QSettings::UserScope, organisation,
                                     QStringLiteral("distill-workbench"));
}

void saveWindowLayout(const QMainWindow& window, QSettings& settings) {
  settings.setValue(QStringLiteral("window/geometry"), window.saveGeometry());
  settings.setValue(QStringLiteral("window/state"), window.saveState());
  const auto splitters = window.findChildren<QSplitter*>();
  for (int i = 0; i < splitters.size(); ++i) settings.setValue(splitterKey(splitters[i], i), splitters[i]->saveState());
}

bool restoreWindowLayout(QMainWindow& window, const QSettings& settings) {
  const QByteArray geometry = settings.value(QStringLiteral("window/geometry")).toByteArray();
  if (geometry.isEmpty()) return false;
  window.restoreGeometry(geometry);
  window.restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
  const auto splitters = window.findChildren<QSplitter*>();
  for (int i = 0; i < splitters.size(); ++i) {
    const QByteArray state = settings.value(splitterKey(splitters[i], i)).toByteArray();
    if (!state.isEmpty()) splitters[i]->restoreState(state);
  }
  return true;
}

QString lastDatabase(const QSettings& settings) {
  const QString path = settings.value(QLatin1String(kLastDatabaseKey)).toString();
  return !path.isEmpty() && QFileInfo(path).isFile() ? path : QString();
}

// ---- recent files ------------------------------------------------------------------------

RecentFiles::RecentFiles(QMenu* menu, QObject* parent) : QObject(parent), menu_(menu) {
  connect(menu_, &QMenu::aboutToShow, this, [this] {
    QStringList existing;
    for (const auto& file : files_)
      if (QFileInfo::exists(file)) existing << file;
    if (existing != files_) {
      files_ = existing;
      rebuildMenu();
    }
  });
  rebuildMenu();
}

void RecentFiles::load(const QSettings& settings) {
  files_ = settings.value(QStringLiteral("experiments/recent")).toStringList().mid(0, kMaxEntries);
  rebuildMenu();
}

void RecentFiles::save(QSettings& settings) const { settings.setValue(QStringLiteral("experiments/recent"), files_); }

void RecentFiles::add(const QString& path) {
  const QString absolute = QFileInfo(path).absoluteFilePath();
  files_.removeAll(absolute);
  files_.prepend(absolute);
  while (files_.size() > kMaxEntries) files_.removeLast();
  rebuildMenu();
}

void RecentFiles::rebuildMenu() {
  menu_->clear();
  for (int i = 0; i < files_.size(); ++i) {
    const QString file = files_[i];
    // &1 … &8: a key for each entry; the tooltip and status tip give the full path.
    QAction* action = menu_->addAction(QStringLiteral("&%1  %2").arg(i + 1).arg(QFileInfo(file).fileName()));
    action->setToolTip(QDir::toNativeSeparators(file));
    action->setStatusTip(QDir::toNativeSeparators(file));
    action->setData(file);
    connect(action, &QAction::triggered, this, [this, file] { emit fileChosen(file); });
  }
  if (files_.isEmpty()) {
    menu_->addAction(tr("No recent experiments"))->setEnabled(false);
    return;
  }
  menu_->addSeparator();
  menu_->addAction(tr("Clear the list"), this, [this] {
    files_.clear();
    rebuildMenu();
  });
}

// ---- about -------------------------------------------------------------------------------

QString aboutText() {
  return QCoreApplication::translate("distill::ui::About",
                                     "<h3>Distill Workbench %1</h3>"
                                     "<p>Knowledge distillation, teacher versus student, live.</p>"
                                     "<table>"
                                     "<tr><td>Workbench</td><td>%1</td></tr>"
                                     "<tr><td>Qt</td><td>%2 (built with %3)</td></tr>"
                                     "<tr><td>LibTorch</td><td>%4</td></tr>"
                                     "<tr><td>Compute device</td><td>%5</td></tr>"
                                     "</table>"
                                     "<p>The command-line tool <tt>distill</tt> runs the same engine headless.</p>"
                                     "<p>Free software under the GNU General Public License, version 3 or any "
                                     "later version (GPL-3.0-or-later), without any warranty.</p>")
      .arg(toQ(workbenchVersion()), QString::fromLatin1(qVersion()), QStringLiteral(QT_VERSION_STR), toQ(torchVersion()),
           toQ(computeDeviceSummary()).toHtmlEscaped());
}

// ---- palette -----------------------------------------------------------------------------

void applyChartPalette(QCustomPlot& plot, const QPalette& palette) {
  const QColor base = palette.color(QPalette::Base);
  const QColor text = palette.color(QPalette::Text);
  const QColor muted = palette.color(QPalette::Disabled, QPalette::Text);
  QColor axis = text;
  axis.setAlphaF(0.65f);
  QColor grid = text;
  grid.setAlphaF(0.12f);
  plot.setBackground(base);
  for (QCPAxisRect* rect : plot.axisRects()) {
    rect->setBackground(Qt::NoBrush);
    for (QCPAxis* ax : rect->axes()) {
      ax->setBasePen(QPen(axis));
      ax->setTickPen(QPen(axis));
      ax->setSubTickPen(QPen(axis));
      ax->setLabelColor(text);
      ax->setTickLabelColor(text);
      ax->grid()->setPen(QPen(grid, 1, Qt::DotLine));
      ax->grid()->setZeroLinePen(Qt::NoPen);
    }
  }
  for (auto* title : plot.findChildren<QCPTextElement*>()) title->setTextColor(text);
  QCPLegend* legend = plot.legend;
  legend->setTextColor(text);
  if (legend->brush().style() != Qt::NoBrush) {
    QColor fill = base;
    fill.setAlpha(215);
    legend->setBrush(fill);
    legend->setBorderPen(QPen(muted, 0.5));
  }
  for (int i = 0; i < legend->itemCount(); ++i) {
    auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->item(i));
    if (!item) continue;
    item->setTextColor(item->plottable()->visible() ? text : muted);  // a hidden curve greys out
  }
  for (int i = 0; i < plot.graphCount(); ++i) {
    QCPScatterStyle scatter = plot.graph(i)->scatterStyle();
    if (scatter.isNone() || scatter.brush().style() == Qt::NoBrush) continue;
    scatter.setBrush(base);  // hollow markers: filled with the background
    plot.graph(i)->setScatterStyle(scatter);
  }
}

void followPalette(QCustomPlot* plot) {
  applyChartPalette(*plot, plot->palette());
  new PaletteFollower(plot);
}

}  // namespace distill::ui
