// Screenshots of the window during and after a real (small) run, saved as PNGs in the build
// folder (tests/ui/screenshots/). Not a pixel comparison: it checks the window renders with
// data in every chart, and leaves the pictures for a person to look at.
#include <QAction>
#include <QDir>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "tests/ui/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/metric_charts.h"

using namespace distill;
using namespace distill::ui;

namespace {
// Big enough for curves with a shape (several evaluations per phase), small enough to
// finish in well under a minute on two cores.
ExperimentConfig screenshotConfig() {
  ExperimentConfig c = defaultConfig();
  c.name = "hinton-kd-fashion-mnist-20k";
  c.device = "cpu";
  c.dataset.limit_train = 20000;
  c.dataset.limit_test = 2000;
  c.teacher.model.hidden = {1200, 1200};
  c.teacher.epochs = 3;
  c.student.hidden = {64};
  c.train.epochs = 4;
  c.train.batch_size = 64;
  c.train.log_every = 5;
  c.train.eval_every = 50;
  return c;
}

QString saveShot(QWidget& window, const QString& name) {
  const QString folder = QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/screenshots");
  QDir().mkpath(folder);
  const QString path = folder + "/" + name;
  const QImage image = window.grab().toImage();
  if (!image.save(path)) return QString();
  return path;
}
}  // namespace

class TestScreenshot : public QObject {
  Q_OBJECT
 private slots:
  void duringAndAfterARun() {
    QTemporaryDir dir;
    MainWindow window(dir.filePath("runs.db"));
    window.resize(1600, 1000);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    window.form()->setConfig(screenshotConfig());
    QVERIFY(window.form()->isValid());
    QSignalSpy finished(window.controller(), &RunController::runFinished);
    window.startRun();

    // Mid-run: well into the student phase, before its end.
    QTRY_VERIFY_WITH_TIMEOUT(window.charts()->pointCount("eval/student_acc") >= 8 || finished.count() > 0, 180'000);
    QVERIFY2(finished.count() == 0, "the run ended before the mid-run screenshot");
    QTest::qWait(100);  // one redraw tick
    const QString during = saveShot(window, "workbench-running.png");
    QVERIFY(!during.isEmpty());

    QVERIFY(finished.count() > 0 || finished.wait(180'000));
    QCOMPARE(finished.first().at(1).value<RunEnd>(), RunEnd::Completed);
    QTest::qWait(100);
    const QString after = saveShot(window, "workbench-finished.png");
    QVERIFY(!after.isEmpty());
    qInfo("screenshots: %s, %s", qPrintable(during), qPrintable(after));
    for (const char* key : {"train/teacher_loss", "train/student_loss", "eval/agreement", "eval/teacher_acc", "eval/student_acc"})
      QVERIFY2(window.charts()->pointCount(key) > 0, key);
  }
};

QTEST_MAIN(TestScreenshot)
#include "test_screenshot.moc"
