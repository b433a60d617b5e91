// Desktop integration of the window: settings survive a restart (geometry, dock and splitter
// sizes, last database, recent experiments) without touching the user's own settings, Help >
// About names the versions and the device, the keyboard shortcuts trigger their actions and
// are shown in the menus, and the charts follow a dark palette.
#include <QAction>
#include <QApplication>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSignalSpy>
#include <QSplitter>
#include <QStyleFactory>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include "core/runtime/installation.h"
#include "core/runtime/runtime.h"
#include "tests/ui/ui_test_support.h"
#include "ui/chart_view.h"
#include "ui/desktop_integration.h"
#include "ui/main_window.h"
#include "ui/metric_charts.h"
#include "ui/run_browser.h"

using namespace distill;
using namespace distill::ui;

namespace {

QPalette darkPalette() {
  QPalette p;
  const QColor window(0x2b, 0x2b, 0x2b), base(0x1e, 0x1e, 0x1e), text(0xe8, 0xe8, 0xe8);
  p.setColor(QPalette::Window, window);
  p.setColor(QPalette::WindowText, text);
  p.setColor(QPalette::Base, base);
  p.setColor(QPalette::AlternateBase, window);
  p.setColor(QPalette::Text, text);
  p.setColor(QPalette::Button, window);
  p.setColor(QPalette::ButtonText, text);
  p.setColor(QPalette::Highlight, QColor(0x2a, 0x82, 0xda));
  p.setColor(QPalette::HighlightedText, Qt::white);
  p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x80, 0x80, 0x80));
  p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(0x80, 0x80, 0x80));
  return p;
}

QAction* menuAction(QMainWindow& window, const QString& menu_title, QAction* wanted) {
  for (QAction* top : window.menuBar()->actions())
    if (top->menu() && top->text().remove('&') == menu_title)
      for (QAction* action : top->menu()->actions())
        if (action == wanted) return action;
  return nullptr;
}

double luminance(QColor c) { return 0.2126 * c.redF() + 0.7152 * c.greenF() + 0.0722 * c.blueF(); }

}  // namespace

class TestDesktopIntegration : public QObject {
  Q_OBJECT
 private:
  QTemporaryDir dir_;

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    // Settings under a temporary folder and a test organisation: the user's are not touched.
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir_.filePath("config"));
    QCoreApplication::setOrganizationName(QStringLiteral("distill-workbench-test"));
  }

  void settingsRoundTrip() {
    const QString db = dir_.filePath("first.db");
    const QString experiment = dir_.filePath("tiny.yaml");
    {
      QFile file(experiment);
      QVERIFY(file.open(QIODevice::WriteOnly));
      file.write("train:\n  epochs: 2\n");
    }
    QList<int> saved_splitter;
    QSize saved_size;
    {
      MainWindow window(db);
      window.restoreSettings();  // nothing saved yet: the default layout
      window.resize(1100, 760);
      window.show();
      QVERIFY(QTest::qWaitForWindowExposed(&window));
      QVERIFY(window.loadExperiment(experiment));
      auto* splitter = window.charts()->findChild<QSplitter*>(QStringLiteral("charts-vertical"));
      QVERIFY(splitter);
      splitter->setSizes({120, 480});
      QCoreApplication::processEvents();
      saved_splitter = splitter->sizes();
      saved_size = window.size();
      QVERIFY(window.close());  // closing saves
    }
    auto settings = openSettings();
    QVERIFY2(settings->fileName().startsWith(dir_.path()), qPrintable(settings->fileName()));
    QVERIFY(QFile::exists(settings->fileName()));
    QCOMPARE(lastDatabase(*settings), QFileInfo(db).absoluteFilePath());

    MainWindow again(dir_.filePath("second.db"));
    again.restoreSettings();
    again.show();
    QVERIFY(QTest::qWaitForWindowExposed(&again));
    QCOMPARE(again.size(), saved_size);
    auto* splitter = again.charts()->findChild<QSplitter*>(QStringLiteral("charts-vertical"));
    QCOMPARE(splitter->sizes(), saved_splitter);
    QCOMPARE(again.recentFiles()->files(), QStringList{QFileInfo(experiment).absoluteFilePath()});
    // File > Open Recent lists it, and choosing it loads it into the form.
    QMenu* recent = again.recentFiles()->menu();
    QVERIFY(recent->actions().first()->text().contains("tiny.yaml"));
    again.form()->setConfig(defaultConfig());
    recent->actions().first()->trigger();
    QCOMPARE(again.form()->config().train.epochs, 2);

    // A file that is gone leaves the list when the menu opens; the list is capped.
    QFile::remove(experiment);
    emit recent->aboutToShow();
    QVERIFY(again.recentFiles()->files().isEmpty());
    for (int i = 0; i < RecentFiles::kMaxEntries + 3; ++i) again.recentFiles()->add(dir_.filePath(QString("e%1.yaml").arg(i)));
    QCOMPARE(again.recentFiles()->files().size(), RecentFiles::kMaxEntries);
    QVERIFY(again.recentFiles()->files().first().endsWith(QString("e%1.yaml").arg(RecentFiles::kMaxEntries + 2)));

    // The last database is only offered while its file exists.
    settings->setValue(QLatin1String(kLastDatabaseKey), dir_.filePath("gone.db"));
    QVERIFY(lastDatabase(*settings).isEmpty());
  }

  void aboutShowsVersions() {
    const QString text = aboutText();
    for (const QString& part : {QString::fromStdString(workbenchVersion()), QString::fromLatin1(qVersion()),
                                QString::fromStdString(torchVersion()),
                                QString::fromStdString(computeDeviceSummary()).toHtmlEscaped(),
                                QStringLiteral("GPL-3.0-or-later")})  // the licence, as in LICENSE
      QVERIFY2(text.contains(part), qPrintable(part + " missing from: " + text));

    // And Help > About shows it.
    MainWindow window(dir_.filePath("about.db"));
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(menuAction(window, "Help", window.aboutAction()));
    QString shown;
    QTimer::singleShot(300, [&shown] {
      if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
        shown = box->text();
        box->grab().save(QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/about.png"));  // to look at
        box->accept();
      }
    });
    window.aboutAction()->trigger();
    QCOMPARE(shown, text);
  }

  void shortcutsTriggerActions() {
    MainWindow window(dir_.filePath("shortcuts.db"));
    window.show();
    QApplication::setActiveWindow(&window);
    QVERIFY(QTest::qWaitForWindowActive(&window));
    test::fillTinyExperiment(*window.form());
    window.form()->setFocus();

    // Each shortcut is the one the menus show.
    QCOMPARE(window.startAction()->shortcut(), QKeySequence(QStringLiteral("Ctrl+R")));
    QCOMPARE(window.stopAction()->shortcut(), QKeySequence(QStringLiteral("Ctrl+.")));
    QCOMPARE(window.compareAction()->shortcut(), QKeySequence(QStringLiteral("Ctrl+Shift+C")));
    QCOMPARE(window.exportAction()->shortcut(), QKeySequence(QStringLiteral("Ctrl+E")));
    QVERIFY(menuAction(window, "Run", window.startAction()));
    QVERIFY(menuAction(window, "Run", window.stopAction()));
    QVERIFY(menuAction(window, "Run", window.compareAction()));
    QVERIFY(menuAction(window, "File", window.exportAction()));

    // Ctrl+R starts a run, Ctrl+. stops it.
    QSignalSpy started(window.controller(), &RunController::runStarted);
    QSignalSpy finished(window.controller(), &RunController::runFinished);
    QSignalSpy start_triggered(window.startAction(), &QAction::triggered);
    QTest::keyClick(&window, Qt::Key_R, Qt::ControlModifier);
    QCOMPARE(start_triggered.count(), 1);
    QVERIFY(window.controller()->busy());
    QVERIFY(started.count() == 1 || started.wait(30'000));
    QSignalSpy stop_triggered(window.stopAction(), &QAction::triggered);
    QTest::keyClick(&window, Qt::Key_Period, Qt::ControlModifier);
    QCOMPARE(stop_triggered.count(), 1);
    QVERIFY(finished.count() == 1 || finished.wait(60'000));
    const auto end = finished.first().at(1).value<RunEnd>();
    QVERIFY(end == RunEnd::Stopped || end == RunEnd::Completed);  // a tiny run may finish first

    // Ctrl+Shift+C goes to the Runs page and compares the selection (one run: it says so).
    QSignalSpy compare_triggered(window.compareAction(), &QAction::triggered);
    QTest::keyClick(&window, Qt::Key_C, Qt::ControlModifier | Qt::ShiftModifier);
    QCOMPARE(compare_triggered.count(), 1);
    QCOMPARE(window.pages()->currentWidget(), static_cast<QWidget*>(window.browser()));

    // Ctrl+E with nothing compared explains what to do instead of opening a dialog.
    QSignalSpy export_triggered(window.exportAction(), &QAction::triggered);
    QTest::keyClick(&window, Qt::Key_E, Qt::ControlModifier);
    QCOMPARE(export_triggered.count(), 1);
    QVERIFY2(window.bannerText().contains("Nothing to export"), qPrintable(window.bannerText()));
  }

  void chartsFollowTheDarkPalette() {
    MainWindow window(dir_.filePath("dark.db"));
    window.resize(1400, 900);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    const QPalette light = QApplication::palette();
    QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    QApplication::setPalette(darkPalette());  // the desktop switches to dark
    QTest::qWait(50);
    ChartView* chart = window.charts()->lossChart();
    // Legends list only series with data: give the chart a curve to show in its legend.
    chart->append({"train/teacher_loss", 1, 0.1, 0.0, 2.0});
    chart->append({"train/teacher_loss", 2, 0.2, 0.0, 1.5});
    chart->replot();
    QVERIFY(chart->legend->itemCount() > 0);
    QCOMPARE(chart->xAxis->tickLabelColor(), darkPalette().color(QPalette::Text));
    QCOMPARE(chart->legend->textColor(), darkPalette().color(QPalette::Text));
    const QImage image = chart->grab().toImage();
    QVERIFY2(luminance(image.pixelColor(5, image.height() / 2)) < 0.25, "the chart background stayed light");
    // What is drawn, not only the properties: the first legend entry's text is light.
    const QRect entry = chart->legend->item(0)->outerRect();
    const double scale = image.width() / static_cast<double>(chart->width());
    bool light_text = false;
    for (int y = entry.top(); y <= entry.bottom() && !light_text; ++y)
      for (int x = entry.left(); x <= entry.right() && !light_text; ++x)
        light_text = luminance(image.pixelColor(int(x * scale), int(y * scale))) > 0.7;
    QVERIFY2(light_text, "the legend text drawn on the dark chart is not light");
    window.grab().save(QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/workbench-dark.png"));

    QApplication::setPalette(light);  // and back
    QTest::qWait(50);
    QCOMPARE(chart->xAxis->tickLabelColor(), light.color(QPalette::Text));
    const QImage light_image = chart->grab().toImage();
    QVERIFY(luminance(light_image.pixelColor(5, light_image.height() / 2)) > 0.75);
  }
};

QTEST_MAIN(TestDesktopIntegration)
#include "test_desktop_integration.moc"
