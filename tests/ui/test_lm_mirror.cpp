// The mirror dialog on language-model runs (core/fidelity/lm_mirror.h): two tiny lm runs, a
// student distilled from its teacher (run 1) and one trained alone (run 2). The dialog finds
// that they are runs of task lm, runs the language-model test on its worker thread and shows its
// table; the distilled student mirrors its teacher, the one trained alone does not. With
// DISTILL_SCREENSHOT_DIR set it saves docs/screenshot-lm-mirror.png.
#include <QComboBox>
#include <QDir>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include "tests/support/lm_test_support.h"
#include "ui/mirror_dialog.h"

using namespace distill;
using namespace distill::ui;

class TestLmMirror : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    const std::filesystem::path dir = dir_.path().toStdString();
    const auto corpus = testing::writeCorpus(dir / "corpus");
    const auto distilled = testing::runLm(dir, testing::lmConfig(corpus, {"distill.alpha=1", "train.epochs=20"}));
    QVERIFY2(distilled.result.outcome == RunOutcome::Completed, distilled.result.error.c_str());
    const auto alone = testing::runLm(
        dir, testing::lmConfig(corpus, {"distill.alpha=0", "train.epochs=20", "seed=2", "teacher.source=run:1"}));
    QVERIFY2(alone.result.outcome == RunOutcome::Completed, alone.result.error.c_str());
  }

  void distilledStudentMirrorsAndTheTableIsTheLanguageModelOne() {
    MirrorDialog dialog;
    dialog.setDatabasePath(dir_.filePath(QStringLiteral("lm.db")));
    dialog.setModels(QStringLiteral("1:teacher"), QStringLiteral("1:student"));
    dialog.referencesBox()->setValue(3);
    dialog.windowsBox()->setValue(24);
    dialog.resize(1000, 660);
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    QSignalSpy finished(&dialog, &MirrorDialog::finished);
    dialog.runButton()->click();
    QVERIFY(dialog.running());
    QVERIFY(finished.wait(180'000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(dialog.verdictLabel()->text()));
    QVERIFY(dialog.lmReport());
    QVERIFY(!dialog.report());
    QVERIFY2(dialog.lmReport()->mirrors, qPrintable(dialog.verdictLabel()->text()));
    QVERIFY2(dialog.verdictLabel()->text().contains(QStringLiteral("B mirrors A")),
             qPrintable(dialog.verdictLabel()->text()));
    QTableWidget* table = dialog.table();
    QCOMPARE(table->columnCount(), 9);
    QCOMPARE(table->rowCount(), static_cast<int>(dialog.lmReport()->probes.size()));
    QVERIFY(table->rowCount() >= 3);
    QCOMPARE(table->item(0, 0)->text(), QStringLiteral("validation"));
    QVERIFY(table->horizontalHeaderItem(2)->text().contains(QStringLiteral("greedy match")));
    QVERIFY(dialog.evidenceLabel()->text().contains(QStringLiteral("Validation cross-entropy")));
    QStringList closer;
    for (int r = 0; r < table->rowCount(); ++r) closer << table->item(r, 8)->text();
    QVERIFY2(closer.contains(QStringLiteral("yes")), qPrintable(closer.join(' ')));

    if (const QString shots = qEnvironmentVariable("DISTILL_SCREENSHOT_DIR"); !shots.isEmpty()) {
      QDir().mkpath(shots);
      QTest::qWait(50);
      QVERIFY(dialog.grab().toImage().save(shots + QStringLiteral("/screenshot-lm-mirror.png")));
    }
  }

  void studentTrainedAloneDoesNotWithTextAccess() {
    MirrorDialog dialog;
    dialog.setDatabasePath(dir_.filePath(QStringLiteral("lm.db")));
    dialog.setModels(QStringLiteral("1:teacher"), QStringLiteral("2:student"));
    dialog.referencesBox()->setValue(3);
    dialog.windowsBox()->setValue(24);
    dialog.accessBox()->setCurrentIndex(dialog.accessBox()->findData(QStringLiteral("text")));
    QSignalSpy finished(&dialog, &MirrorDialog::finished);
    dialog.runButton()->click();
    QVERIFY(finished.wait(180'000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(dialog.verdictLabel()->text()));
    QVERIFY(dialog.lmReport());
    QVERIFY2(!dialog.lmReport()->mirrors, qPrintable(dialog.verdictLabel()->text()));
    QVERIFY(dialog.table()->horizontalHeaderItem(4)->text().contains(QStringLiteral("cross-entropy")));
    QCOMPARE(dialog.table()->item(0, 6)->text(), QStringLiteral("n/a"));  // no KL from text alone
  }

 private:
  QTemporaryDir dir_;
};

QTEST_MAIN(TestLmMirror)
#include "test_lm_mirror.moc"
