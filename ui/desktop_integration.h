// What makes the workbench behave like a desktop application: its QSettings (window
// geometry, dock and splitter sizes, the last database, recent experiment files), the About
// text, and charts that follow the system's light or dark palette.
//
// Settings live in ~/.config/distill-workbench/distill-workbench.conf (QSettings, INI), under
// the application's organisation name when one is set (tests set their own, and a temporary
// path through QSettings::setPath).
//
// Thread contract: GUI thread only.
#pragma once

#include <QObject>
#include <QPalette>
#include <QString>
#include <QStringList>

#include <memory>

class QCustomPlot;
class QMainWindow;
class QMenu;
class QSettings;
class QWidget;

namespace distill::ui {

std::unique_ptr<QSettings> openSettings();

// Geometry and state (docks, toolbars) of the window, and the sizes of every QSplitter in it
// (by object name; unnamed ones by their order).
void saveWindowLayout(const QMainWindow& window, QSettings& settings);
// False when nothing was saved yet (the window keeps its default layout).
bool restoreWindowLayout(QMainWindow& window, const QSettings& settings);

constexpr auto kLastDatabaseKey = "database/last";
// The database open when the window was last closed, when that file still exists; empty
// otherwise.
QString lastDatabase(const QSettings& settings);

// The most recently used experiment files, newest first, kept in the settings and shown in a
// menu (File > Open Recent); entries whose file is gone are dropped when the menu opens.
class RecentFiles : public QObject {
  Q_OBJECT
 public:
  static constexpr int kMaxEntries = 8;
  explicit RecentFiles(QMenu* menu, QObject* parent = nullptr);

  void load(const QSettings& settings);
  void save(QSettings& settings) const;
  void add(const QString& path);
  QStringList files() const { return files_; }
  QMenu* menu() const { return menu_; }

 signals:
  void fileChosen(QString path);

 private:
  void rebuildMenu();

  QMenu* menu_;
  QStringList files_;
};

// Help > About as rich text: the workbench's, Qt's and LibTorch's versions and the compute
// device (from core, so no torch header reaches ui/).
QString aboutText();

// Colours a chart from `palette`: background, axes, tick labels, grid, legend and title
// text, so charts read on a dark desktop as on a light one. Curve colours are left alone.
void applyChartPalette(QCustomPlot& plot, const QPalette& palette);
// Makes `window`, which has a style sheet, pass a new application palette (the desktop
// switching between light and dark) on to all its widgets.
void followApplicationPalette(QWidget* window);
// Applies the widget's palette now and again whenever it changes (the desktop switching
// between light and dark).
void followPalette(QCustomPlot* plot);

}  // namespace distill::ui
