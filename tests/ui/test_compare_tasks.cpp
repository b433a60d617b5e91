// Runs of both tasks in one database (issue 22, "Compare and export"): the run list and the
// browser's table show each run's task; a comparison of an image run with a language-model run
// charts only the metrics they share and names the others; language-model runs can be laid
// along tokens seen; perplexity is "lower is better" in the summary. Synthetic runs written
// through the store (no training), so every point is known.
#include <QComboBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include "core/config/config.h"
#include "core/store/run_store.h"
#include "ui/compare_view.h"
#include "ui/run_list_model.h"
#include "ui/run_table_model.h"

using namespace distill;
using namespace distill::ui;

namespace {

// A run of `task` (its flattened config as params) logging `values` for each key at steps 0,
// 10, ..., 100, and finishing.
int64_t addRun(RunStore& store, const std::string& name, ExperimentConfig config,
               const std::map<std::string, std::vector<double>>& curves) {
  config.name = name;
  const int64_t id = store.createRun({name, toYaml(config), flatten(config), std::nullopt});
  std::vector<MetricPoint> points;
  for (const auto& [key, values] : curves)
    for (size_t i = 0; i < values.size(); ++i)
      points.push_back({key, static_cast<int64_t>(i) * 10, i * 0.1, 1.7e9 + static_cast<double>(i), values[i]});
  store.appendMetrics(id, points);
  store.finishRun(id, RunStatus::Completed);
  return id;
}

ExperimentConfig lmConfig(int batch_size, int context) {
  ExperimentConfig c = defaultConfig();
  c.task = "lm";
  c.teacher.model.arch = c.student.arch = "gpt";
  c.lm.context = context;
  c.train.batch_size = batch_size;
  return c;
}

}  // namespace

class TestCompareTasks : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    db_ = dir_.filePath(QStringLiteral("runs.db")).toStdString();
    RunStore store(db_);
    const std::vector<double> loss{2.0, 1.5, 1.2, 1.0};
    image_ = addRun(store, "image kd", defaultConfig(),
                    {{"train/student_loss", loss}, {"eval/agreement", {0.5, 0.8, 0.9, 0.95}},
                     {"eval/student_acc", {0.4, 0.7, 0.8, 0.85}}, {"perf/samples_per_s", {900, 950, 970, 980}}});
    // Two lm runs: 16 x 16 = 256 tokens per step, 4 x 32 = 128; B ends at the lower perplexity
    // but the lower agreement.
    lm_a_ = addRun(store, "lm A", lmConfig(16, 16),
                   {{"train/student_loss", loss}, {"eval/student_ppl", {60, 20, 9, 7}},
                    {"eval/token_agreement", {0.3, 0.6, 0.7, 0.8}}, {"perf/tokens_per_s", {5e4, 5e4, 5e4, 5e4}}});
    lm_b_ = addRun(store, "lm B", lmConfig(4, 32),
                   {{"train/student_loss", loss}, {"eval/student_ppl", {50, 18, 8, 6}},
                    {"eval/token_agreement", {0.2, 0.5, 0.6, 0.7}}, {"perf/tokens_per_s", {3e4, 3e4, 3e4, 3e4}}});
  }

  void runListAndRunTableShowTheTask() {
    RunStore store(db_);
    auto runs = store.listRuns();
    RunListModel list;
    list.refresh(runs);
    QCOMPARE(list.headerData(RunListModel::Task, Qt::Horizontal).toString(), QStringLiteral("Task"));
    QCOMPARE(list.index(list.rowOf(image_), RunListModel::Task).data().toString(), QStringLiteral("image"));
    QCOMPARE(list.index(list.rowOf(lm_a_), RunListModel::Task).data().toString(), QStringLiteral("lm"));

    store.loadParams(runs);
    RunTableModel table;
    table.setRuns(runs, {});
    QCOMPARE(table.headerData(RunTableModel::Task, Qt::Horizontal).toString(), QStringLiteral("Task"));
    QCOMPARE(table.headerData(RunTableModel::Dataset, Qt::Horizontal).toString(), QStringLiteral("Dataset"));
    QCOMPARE(table.index(table.rowOf(image_), RunTableModel::Task).data().toString(), QStringLiteral("image"));
    QCOMPARE(table.index(table.rowOf(lm_b_), RunTableModel::Task).data().toString(), QStringLiteral("lm"));
  }

  void runsOfTwoTasksCompareTheirSharedMetricsAndNameTheOthers() {
    RunStore store(db_);
    CompareView view;
    view.setStore(&store);
    view.resize(1000, 700);
    QVERIFY(view.setRuns({image_, lm_a_}));
    QCOMPARE(view.metricKeys(), std::vector<std::string>{"train/student_loss"});
    QVERIFY(view.chartFor("train/student_loss"));
    QVERIFY(!view.chartFor("eval/student_ppl"));
    QCOMPARE(view.charts().size(), size_t{1});
    const QString message = view.message();
    QVERIFY2(message.contains("image, lm"), qPrintable(message));
    QVERIFY2(message.contains("left out (not in every run): eval/agreement, eval/student_acc, eval/student_ppl, "
                              "eval/token_agreement, perf/samples_per_s, perf/tokens_per_s"),
             qPrintable(message));
    // The summary has the run column and the shared metric's final and best columns only.
    QCOMPARE(view.summaryTable()->columnCount(), 3);

    // Runs of one task: every metric, nothing left out, no note.
    QVERIFY(view.setRuns({lm_a_, lm_b_}));
    QCOMPARE(view.metricKeys().size(), size_t{4});
    QVERIFY(view.leftOutMetrics().empty());
    QVERIFY2(!view.message().contains("left out"), qPrintable(view.message()));
  }

  void perplexityIsLowerIsBetterInTheSummary() {
    RunStore store(db_);
    CompareView view;
    view.setStore(&store);
    QVERIFY(view.setRuns({lm_a_, lm_b_}));
    QTableWidget* summary = view.summaryTable();
    auto final_column = [&](const std::string& key) {
      const auto& keys = view.metricKeys();
      const auto it = std::find(keys.begin(), keys.end(), key);
      return it == keys.end() ? -1 : 1 + 2 * static_cast<int>(it - keys.begin());
    };
    const int ppl = final_column("eval/student_ppl");
    const int agreement = final_column("eval/token_agreement");
    QVERIFY(ppl > 0 && agreement > 0);
    // Row 0 is A, row 1 is B: B's perplexity 6 beats A's 7; A's agreement 80% beats B's 70%.
    QVERIFY(!summary->item(0, ppl)->font().bold());
    QVERIFY(summary->item(1, ppl)->font().bold());
    QCOMPARE(summary->item(1, ppl)->toolTip(), QStringLiteral("best final value (lower is better)"));
    QVERIFY(summary->item(0, agreement)->font().bold());
    QCOMPARE(summary->item(0, agreement)->toolTip(), QStringLiteral("best final value (higher is better)"));
  }

  void languageModelRunsCanBeLaidAlongTokensSeen() {
    RunStore store(db_);
    CompareView view;
    view.setStore(&store);
    view.resize(1000, 700);
    auto* axis = view.findChild<QComboBox*>(QStringLiteral("compareXAxis"));
    QVERIFY(axis);
    const auto offered = [&] { return axis->findData(static_cast<int>(CompareView::XAxis::Tokens)) >= 0; };

    QVERIFY(view.setRuns({lm_a_, lm_b_}));
    QVERIFY(view.tokensAxisOffered());
    QVERIFY(offered());
    axis->setCurrentIndex(axis->findData(static_cast<int>(CompareView::XAxis::Tokens)));
    QCOMPARE(view.xAxis(), CompareView::XAxis::Tokens);
    const FigureData& figure = view.chartFor("eval/student_ppl")->figure();
    QCOMPARE(figure.x_label, QStringLiteral("Tokens seen"));
    QCOMPARE(figure.curves.size(), size_t{2});
    // Step 30 is 30 x 16 x 16 tokens for A and 30 x 4 x 32 for B.
    QCOMPARE(figure.curves[0].x, (std::vector<double>{0, 2560, 5120, 7680}));
    QCOMPARE(figure.curves[1].x, (std::vector<double>{0, 1280, 2560, 3840}));

    // With an image run in the comparison there are no tokens to count: the axis goes back to
    // steps and the choice is no longer offered.
    QVERIFY(view.setRuns({image_, lm_a_}));
    QVERIFY(!view.tokensAxisOffered());
    QVERIFY(!offered());
    QCOMPARE(view.xAxis(), CompareView::XAxis::Step);
    QCOMPARE(axis->currentData().toInt(), static_cast<int>(CompareView::XAxis::Step));
    QCOMPARE(view.chartFor("train/student_loss")->figure().curves[1].x, (std::vector<double>{0, 10, 20, 30}));
    view.setXAxis(CompareView::XAxis::Tokens);
    QCOMPARE(view.xAxis(), CompareView::XAxis::Step);
  }

 private:
  QTemporaryDir dir_;
  std::string db_;
  int64_t image_ = 0, lm_a_ = 0, lm_b_ = 0;
};

QTEST_MAIN(TestCompareTasks)
#include "test_compare_tasks.moc"
