// The window's part of "no run lost" (issue 8): the Resume button continues a stopped or
// interrupted run through the same code as `distill resume`; the workbench process killed with
// SIGKILL leaves its run `interrupted` for the next start, and SIGTERM stops it as `stopped`;
// the window browses a database while a `distill run` writes into it; a read-only database
// is browsed but refuses Start with a message.
#include <QAction>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/store/run_store.h"
#include "tests/support/read_only_file.h"
#include "tests/ui/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/run_browser.h"
#include "ui/run_list_model.h"

using namespace distill;
using namespace distill::ui;

namespace {

constexpr int kRunTimeoutMs = 120'000;

QString listedStatus(MainWindow& window, qint64 run_id) {
  const int row = window.runList()->rowOf(run_id);
  return row < 0 ? QString() : window.runList()->index(row, RunListModel::Status).data().toString();
}

void selectRun(MainWindow& window, qint64 run_id) {
  const int row = window.runList()->rowOf(run_id);
  QVERIFY(row >= 0);
  window.runTable()->setCurrentIndex(window.runList()->index(row, 0));
}

std::string integrityCheck(const QString& db) {
  sqlite3* raw = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(db.toUtf8().constData(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    result.clear();
    sqlite3_exec(
        raw, "PRAGMA integrity_check",
        [](void* out, int, char** values, char**) {
          *static_cast<std::string*>(out) += values[0] ? values[0] : "";
          return 0;
        },
        &result, nullptr);
  }
  sqlite3_close(raw);
  return result;
}

// Status and point count of a run as another process sees it; nullopt while unreadable.
struct Seen {
  RunStatus status = RunStatus::Running;
  size_t points = 0;
  size_t checkpoints = 0;
};
std::optional<Seen> look(const QString& db, qint64 run_id) {
  try {
    if (!QFile::exists(db)) return std::nullopt;
    RunStore store(db.toStdString(), RunStore::Mode::ReadOnly);
    const auto run = store.getRun(run_id);
    if (!run) return std::nullopt;
    return Seen{run->status, store.metrics(run_id).size(), store.checkpoints(run_id).size()};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Thousands of cheap steps: long enough to be killed in the middle, one checkpoint per epoch.
ExperimentConfig slowConfig() {
  ExperimentConfig c = test::tinyConfig();
  c.name = "reliability";
  c.dataset.limit_train = 6000;
  c.train.batch_size = 16;
  c.teacher.epochs = 1;
  c.train.epochs = 8;
  c.train.log_every = 5;
  return c;
}

QString writeConfig(const QTemporaryDir& dir, const ExperimentConfig& config) {
  const QString path = dir.filePath(QStringLiteral("experiment.yaml"));
  std::ofstream(path.toStdString()) << toYaml(config);
  return path;
}

// The workbench binary on the offscreen platform, started on `db` with --start.
void startWorkbench(QProcess& process, const QString& config, const QString& db) {
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
  process.setProcessEnvironment(env);
  process.setProcessChannelMode(QProcess::MergedChannels);
  process.start(QStringLiteral(DISTILL_WORKBENCH_PATH), {config, QStringLiteral("--db"), db, QStringLiteral("--start")});
}

}  // namespace

class TestReliability : public QObject {
  Q_OBJECT

 private slots:
  // Stop a run after its first student epoch, then Resume it from the run list: it continues
  // from the checkpoint to `completed`, one evaluation per epoch, no duplicated points.
  void resumeButtonContinuesAStoppedRun() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("runs.db"));
    MainWindow window(db);
    window.show();
    ExperimentConfig config = slowConfig();
    config.train.epochs = 3;
    window.form()->setConfig(config);
    QSignalSpy finished(window.controller(), &RunController::runFinished);
    window.startRun();
    QTRY_VERIFY_WITH_TIMEOUT(window.controller()->runId() != 0, 30'000);
    const qint64 run_id = window.controller()->runId();
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
          RunStore store(db.toStdString(), RunStore::Mode::ReadOnly);
          for (const auto& c : store.checkpoints(run_id))
            if (c.role == "student") return true;
          return false;
        }(),
        kRunTimeoutMs);
    window.stopRun();
    QVERIFY(finished.wait(kRunTimeoutMs));
    QCOMPARE(finished.first().at(1).value<RunEnd>(), RunEnd::Stopped);

    // A completed run cannot be resumed; the stopped one can.
    selectRun(window, run_id);
    QVERIFY2(window.resumeAction()->isEnabled(), qPrintable(window.resumeAction()->toolTip()));
    auto* button = window.findChild<QToolButton*>(QStringLiteral("resume-button"));
    QVERIFY(button && button->isVisible());
    window.grab().save(QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/reliability-resume-button.png"));
    finished.clear();
    QTest::mouseClick(button, Qt::LeftButton);
    QVERIFY(window.controller()->busy());
    QVERIFY(!window.resumeAction()->isEnabled());
    QVERIFY(finished.wait(kRunTimeoutMs));
    QCOMPARE(finished.first().at(1).value<RunEnd>(), RunEnd::Completed);
    QVERIFY2(window.logText().contains(QStringLiteral("resumed the student phase")), qPrintable(window.logText()));
    QCOMPARE(listedStatus(window, run_id), QStringLiteral("completed"));

    RunStore store(db.toStdString());
    const auto agreement = store.metrics(run_id, "eval/agreement");
    QCOMPARE(agreement.size(), size_t(4));  // before training and after each of 3 epochs
    for (size_t i = 1; i < agreement.size(); ++i) QVERIFY(agreement[i].step > agreement[i - 1].step);
    selectRun(window, run_id);
    QVERIFY(!window.resumeAction()->isEnabled());
    // The window's curves are the stored ones: no point twice.
    window.showRun(run_id);
    QCOMPARE(window.bannerText(), QString());
  }

  // SIGKILL of the workbench mid-run: the database is sound, every point up to the last flush
  // is there, and the next start of the window shows the run as `interrupted` (resumable).
  void killedWorkbenchRunIsInterruptedOnTheNextStart() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("runs.db"));
    QProcess gui;
    startWorkbench(gui, writeConfig(dir, slowConfig()), db);
    QVERIFY(gui.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
          const auto seen = look(db, 1);
          return seen && seen->checkpoints >= 2 && seen->points > 20;
        }(),
        kRunTimeoutMs);
    QCOMPARE(look(db, 1)->status, RunStatus::Running);
    ::kill(static_cast<pid_t>(gui.processId()), SIGKILL);
    QVERIFY(gui.waitForFinished(10'000));
    QCOMPARE(gui.exitStatus(), QProcess::CrashExit);
    QCOMPARE(integrityCheck(db), std::string("ok"));
    const size_t stored = look(db, 1)->points;
    QVERIFY(stored > 20);

    MainWindow window(db);  // the next start
    QCOMPARE(listedStatus(window, 1), QStringLiteral("interrupted"));
    QVERIFY(window.logText().contains(QStringLiteral("marked 'interrupted'")));
    QCOMPARE(look(db, 1)->points, stored);
    selectRun(window, 1);
    QVERIFY2(window.resumeAction()->isEnabled(), qPrintable(window.resumeAction()->toolTip()));
  }

  // SIGTERM (kill PID, a logout): the run is stopped between steps and stored as `stopped`,
  // and the process exits 128 + 15.
  void terminatedWorkbenchStoresTheRunAsStopped() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("runs.db"));
    QProcess gui;
    startWorkbench(gui, writeConfig(dir, slowConfig()), db);
    QVERIFY(gui.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
          const auto seen = look(db, 1);
          return seen && seen->points > 10;
        }(),
        kRunTimeoutMs);
    ::kill(static_cast<pid_t>(gui.processId()), SIGTERM);
    QVERIFY2(gui.waitForFinished(30'000), "the workbench did not quit on SIGTERM");
    const QString output = QString::fromUtf8(gui.readAll());
    QCOMPARE(gui.exitStatus(), QProcess::NormalExit);
    QCOMPARE(gui.exitCode(), 128 + SIGTERM);
    QVERIFY2(output.contains(QStringLiteral("stopping the run and quitting")), qPrintable(output));
    const auto seen = look(db, 1);
    QVERIFY(seen);
    QCOMPARE(seen->status, RunStatus::Stopped);
    QCOMPARE(integrityCheck(db), std::string("ok"));
  }

  // A `distill run` writes into the database while the window refreshes its run list, the Runs
  // page and the run's curves every 50 ms: no error, the run is seen live and then completed.
  void browsesWhileTheCliWrites() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("runs.db"));
    { RunStore create(db.toStdString()); }
    MainWindow window(db);
    window.show();
    window.pages()->setCurrentWidget(window.browser());
    QProcess cli;
    cli.setProcessChannelMode(QProcess::MergedChannels);
    ExperimentConfig config = slowConfig();
    config.train.epochs = 16;  // a few seconds: live for 10+ refreshes on a quiet machine
    config.train.log_every = 1;
    cli.start(QStringLiteral(DISTILL_CLI_PATH),
              {QStringLiteral("run"), writeConfig(dir, config), QStringLiteral("--quiet"), QStringLiteral("--db"), db});
    QVERIFY(cli.waitForStarted());
    bool seen_running = false;
    size_t max_points = 0;
    int refreshes_while_running = 0;
    while (cli.state() != QProcess::NotRunning) {
      window.refreshRuns();
      window.browser()->refresh();
      if (listedStatus(window, 1) == QStringLiteral("running")) {
        seen_running = true;
        ++refreshes_while_running;
        window.showRun(1);
        max_points = std::max(max_points, look(db, 1) ? look(db, 1)->points : 0);
      }
      QTest::qWait(50);
    }
    const QString output = QString::fromUtf8(cli.readAll());
    QCOMPARE(cli.exitCode(), 0);
    QVERIFY2(!output.contains(QStringLiteral("locked")), qPrintable(output));
    QVERIFY(seen_running);
    QVERIFY(max_points > 0);
    qInfo("the run was live during %d refreshes", refreshes_while_running);
    // At least two refreshes while it ran (a refresh under a loaded machine can take a second).
    QVERIFY2(refreshes_while_running >= 2, "the run was seen live in at least two refreshes");
    window.refreshRuns();
    QCOMPARE(listedStatus(window, 1), QStringLiteral("completed"));
    QVERIFY2(!window.logText().contains(QStringLiteral("Cannot read")), qPrintable(window.logText()));
    QVERIFY2(!window.logText().contains(QStringLiteral("locked")), qPrintable(window.logText()));
    QCOMPARE(integrityCheck(db), std::string("ok"));
  }

  // A read-only database opens for browsing (runs listed, curves shown) and Start says why it
  // cannot run, without loading the dataset.
  void readOnlyDatabaseBrowsesButRefusesStart() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("runs.db"));
    {
      MainWindow window(db);
      window.form()->setConfig(test::tinyConfig());
      QSignalSpy finished(window.controller(), &RunController::runFinished);
      window.startRun();
      QVERIFY(finished.wait(kRunTimeoutMs));
    }
    distill::testing::ReadOnlyFile read_only(db.toStdString());
    if (!read_only.ok()) QSKIP("cannot make a file read-only here");
    MainWindow window(db);
    window.show();
    QCOMPARE(window.bannerText(), QString());
    QCOMPARE(listedStatus(window, 1), QStringLiteral("completed"));
    window.showRun(1);
    QVERIFY(!window.logText().contains(QStringLiteral("Cannot read")));
    window.form()->setConfig(test::tinyConfig());
    QSignalSpy failed(window.controller(), &RunController::startFailed);
    window.startRun();
    QVERIFY(failed.wait(30'000));
    QVERIFY2(window.bannerText().contains(QStringLiteral("the database is read-only")), qPrintable(window.bannerText()));
    QVERIFY(!window.controller()->busy());
    QVERIFY(!window.logText().contains(QStringLiteral("phase 1")));
  }
};

QTEST_MAIN(TestReliability)
#include "test_reliability.moc"
