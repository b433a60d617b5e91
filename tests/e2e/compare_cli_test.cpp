// End-to-end tests of `distill compare`, `distill report`, `distill list --filter` and the
// export formats, over a database of synthetic runs written through the store (no training,
// so the points are known exactly).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#ifdef DISTILL_TEST_CHARTS
#include <QFile>
#include <QXmlStreamReader>
#endif

#include "core/store/run_store.h"
#include "support/cli_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::CommandResult;
using testing::distillCli;
using testing::TempDir;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class CompareCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    db_ = dir_->file("runs.db");
    RunStore store(db_);
    // Three runs: temperatures 2, 4, 8; agreement rises to 0.90, 0.96, 0.93; noisy losses.
    const double finals[] = {0.90, 0.96, 0.93};
    const char* temperatures[] = {"2", "4", "8"};
    for (int r = 0; r < 3; ++r) {
      NewRun run{std::string("kd T") + temperatures[r], "name: x\n",
                 {{"distill.temperature", temperatures[r]}, {"distill.alpha", "0.9"}, {"seed", "0"}}, std::nullopt};
      const int64_t id = store.createRun(run);
      std::vector<MetricPoint> points;
      for (int i = 0; i <= 10; ++i)
        points.push_back({"eval/agreement", i * 100, i * 0.1, 1.7e9 + r * 1000 + i, finals[r] * (1 - std::exp(-i / 2.0)) / (1 - std::exp(-5.0))});
      for (int i = 0; i < 500; ++i)
        points.push_back({"train/student_loss", i * 2, i * 0.002, 1.7e9 + r * 1000 + i * 0.02,
                          2.0 * std::exp(-i / 100.0) + 0.05 * std::sin(i * 1.3) + 0.1 * r + 0.123456789012345});
      store.appendMetrics(id, points);
      store.finishRun(id, RunStatus::Completed);
    }
    store.addTag(1, "baseline");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string db() { return " --db '" + db_ + "'"; }
  static inline TempDir* dir_ = nullptr;
  static inline std::string db_;
};

TEST_F(CompareCli, CompareShowsDifferingParamsAndFinalBest) {
  const auto result = distillCli("compare 1 2 3" + db());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("* distill.temperature"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("distill.alpha"), std::string::npos) << "equal keys are hidden without --all";
  EXPECT_NE(result.out.find("0.96*"), std::string::npos) << "the best final agreement is marked:\n" << result.out;
  EXPECT_NE(distillCli("compare 1 2 --all" + db()).out.find("distill.alpha"), std::string::npos);
}

TEST_F(CompareCli, CompareJsonHasSummaryWithStepOfBest) {
  const auto result = distillCli("compare 1 3 --json" + db());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  ASSERT_EQ(json["runs"].size(), 2u);
  const auto& agreement = json["runs"][0]["summary"]["eval/agreement"];
  EXPECT_NEAR(agreement["final"].get<double>(), 0.90, 1e-9);
  EXPECT_EQ(agreement["best_step"].get<int>(), 1000);
  EXPECT_EQ(json["differing_params"], nlohmann::json::array({"distill.temperature"}));
}

TEST_F(CompareCli, CompareNeedsTwoRunsAndKnownOnes) {
  EXPECT_EQ(distillCli("compare 1" + db()).exit_code, 2);
  const auto missing = distillCli("compare 1 99" + db());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("run 99 not found"), std::string::npos) << missing.err;
}

TEST_F(CompareCli, ListFilterSelectsRunsAndPointsAtErrors) {
  const auto good = distillCli("list --json --filter 'agreement > 0.92 and distill.temperature >= 4'" + db());
  ASSERT_EQ(good.exit_code, 0) << good.err;
  const auto runs = nlohmann::json::parse(good.out);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["id"], 3);
  EXPECT_EQ(runs[1]["id"], 2);
  EXPECT_EQ(nlohmann::json::parse(distillCli("list --json --filter tag:baseline" + db()).out).size(), 1u);
  const auto bad = distillCli("list --filter 'agreement > 0.9 and'" + db());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("column 20: expected a term after 'and'"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("                   ^"), std::string::npos) << bad.err;
}

TEST_F(CompareCli, CsvRoundTripsToTheStoredPoints) {
  const std::string path = dir_->file("points.csv");
  ASSERT_EQ(distillCli("export 1 2 --format csv --out '" + path + "'" + db()).exit_code, 0);
  std::istringstream csv(readFile(path));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "run,metric,step,epoch,wall_time,value");
  std::map<int64_t, std::vector<MetricPoint>> read;
  while (std::getline(csv, line)) {
    std::istringstream fields(line);
    std::string run, key, step, epoch, wall, value;
    std::getline(fields, run, ',');
    std::getline(fields, key, ',');
    std::getline(fields, step, ',');
    std::getline(fields, epoch, ',');
    std::getline(fields, wall, ',');
    std::getline(fields, value, ',');
    read[std::stoll(run)].push_back({key, std::stoll(step), std::stod(epoch), std::stod(wall), std::stod(value)});
  }
  RunStore store(db_);
  for (int64_t id : {1, 2}) {
    const auto stored = store.metrics(id);
    ASSERT_EQ(read[id].size(), stored.size());
    for (size_t i = 0; i < stored.size(); ++i) {
      EXPECT_EQ(read[id][i].key, stored[i].key);
      EXPECT_EQ(read[id][i].step, stored[i].step);
      // Shortest round-trip form: the exact doubles come back.
      EXPECT_EQ(read[id][i].epoch, stored[i].epoch);
      EXPECT_EQ(read[id][i].wall_time, stored[i].wall_time);
      EXPECT_EQ(read[id][i].value, stored[i].value);
    }
  }
}

// An image run and a language-model run in one database: compare, --json and report show the
// metrics they share and name the ones left out (core/store/compared_metrics.h, as the window).
TEST(CompareCliTasks, RunsOfTwoTasksCompareTheirSharedMetricsAndNameTheOthers) {
  TempDir dir;
  const std::string db = " --db '" + dir.file("tasks.db") + "'";
  {
    RunStore store(dir.file("tasks.db"));
    const std::vector<std::pair<std::string, std::vector<std::string>>> runs{
        {"image", {"eval/agreement", "perf/samples_per_s", "train/student_loss"}},
        {"lm", {"eval/student_ppl", "perf/tokens_per_s", "train/student_loss"}}};
    for (const auto& [task, keys] : runs) {
      const int64_t id = store.createRun({task + " run", "name: x\n", {{"task", task}}, std::nullopt});
      std::vector<MetricPoint> points;
      for (const auto& key : keys) points.push_back({key, 10, 1.0, 1.7e9, 2.0});
      store.appendMetrics(id, points);
      store.finishRun(id, RunStatus::Completed);
    }
  }
  const std::string left_out =
      "left out (not in every run): eval/agreement, eval/student_ppl, perf/samples_per_s, perf/tokens_per_s";
  const auto text = distillCli("compare 1 2" + db);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find(left_out), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("train/student_loss final"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("eval/student_ppl final"), std::string::npos) << text.out;

  const auto json = distillCli("compare 1 2 --json" + db);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["left_out_metrics"],
            nlohmann::json::array({"eval/agreement", "eval/student_ppl", "perf/samples_per_s", "perf/tokens_per_s"}));
  for (const auto& run : parsed["runs"]) {
    EXPECT_EQ(run["summary"].size(), 1u) << run.dump();
    EXPECT_TRUE(run["summary"].contains("train/student_loss")) << run.dump();
  }

  const std::string report = dir.file("report.html");
  const auto html = distillCli("report 1 2 --out '" + report + "'" + db);
  ASSERT_EQ(html.exit_code, 0) << html.err;
  EXPECT_NE(readFile(report).find(left_out), std::string::npos);

  // A metric asked for by name is shown as asked, in the runs that have it.
  const auto named = distillCli("compare 1 2 --json -m eval/student_ppl" + db);
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_TRUE(nlohmann::json::parse(named.out)["runs"][1]["summary"].contains("eval/student_ppl"));
}

// Two language-model runs (16 x 16 and 4 x 32 tokens per step) and an image run: --x tokens is
// for language-model runs only, and says which run it cannot draw.
class CompareCliTokens : public ::testing::Test {
 protected:
  void SetUp() override {
    RunStore store(dir_.file("tokens.db"));
    const std::vector<std::map<std::string, std::string>> params{
        {{"task", "lm"}, {"train.batch_size", "16"}, {"lm.context", "16"}},
        {{"task", "lm"}, {"train.batch_size", "4"}, {"lm.context", "32"}},
        {{"task", "image"}, {"train.batch_size", "64"}, {"lm.context", "128"}}};
    for (const auto& p : params) {
      const int64_t id = store.createRun({"run", "name: x\n", p, std::nullopt});
      store.appendMetrics(id, {{"train/student_loss", 0, 0.0, 1.7e9, 2.0}, {"train/student_loss", 10, 0.5, 1.7e9 + 1, 1.0}});
      store.finishRun(id, RunStatus::Completed);
    }
  }
  std::string db() const { return " --db '" + dir_.file("tokens.db") + "'"; }
  TempDir dir_;
};

TEST_F(CompareCliTokens, TokensNeedLanguageModelRuns) {
  const auto report = distillCli("report 1 3 --x tokens --out '" + dir_.file("r.html") + "'" + db());
  EXPECT_EQ(report.exit_code, 2);
  EXPECT_NE(report.err.find("--x"), std::string::npos) << report.err;
  EXPECT_NE(report.err.find("run 3 is of task image"), std::string::npos) << report.err;
  const auto fine = distillCli("report 1 2 --x tokens --out '" + dir_.file("r.html") + "'" + db());
  EXPECT_EQ(fine.exit_code, 0) << fine.err;
}

#ifdef DISTILL_TEST_CHARTS

TEST_F(CompareCliTokens, ChartsOfLanguageModelRunsAlongTokensSeen) {
  const std::string svg = dir_.file("tokens.svg");
  const auto result = distillCli("export 1 2 --metric train/student_loss --format svg --x tokens --out '" + svg + "'" + db());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string text = readFile(svg);
  EXPECT_NE(text.find("Tokens seen"), std::string::npos);
  // Run 1's last point is at 10 x 256 = 2560 tokens: the axis has a tick label at 2000.
  EXPECT_NE(text.find(">2000<"), std::string::npos) << "no tick at 2000 tokens";
  // Along steps (0 to 10) neither the label nor that tick is there.
  ASSERT_EQ(distillCli("export 1 2 --metric train/student_loss --format svg --x step --out '" + svg + "'" + db()).exit_code, 0);
  EXPECT_EQ(readFile(svg).find("Tokens seen"), std::string::npos);
  EXPECT_EQ(readFile(svg).find(">2000<"), std::string::npos);
  const auto image = distillCli("export 1 3 --metric train/student_loss --format svg --x tokens --out '" + svg + "'" + db());
  EXPECT_EQ(image.exit_code, 2);
  EXPECT_NE(image.err.find("run 3 is of task image"), std::string::npos) << image.err;
}

TEST_F(CompareCli, PngHasTheRequestedSize) {
  const std::string path = dir_->file("fig.png");
  const auto result = distillCli("export 1 2 3 --metric eval/agreement --format png --size 1234x777 --dpi 200 --out '" +
                                 path + "'" + db());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string png = readFile(path);
  ASSERT_GE(png.size(), 24u);
  ASSERT_EQ(png.substr(1, 3), "PNG");
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
           (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3]));
  };
  EXPECT_EQ(be32(16), 1234u);  // IHDR width
  EXPECT_EQ(be32(20), 777u);   // IHDR height
}

TEST_F(CompareCli, PdfParsesAndHasAPage) {
  const std::string path = dir_->file("fig.pdf");
  const auto result = distillCli("export 1 2 --metric eval/agreement --format pdf --out '" + path + "'" + db());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string pdf = readFile(path);
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf.find("/Type /Page"), std::string::npos);
  EXPECT_NE(pdf.find("startxref"), std::string::npos);
  EXPECT_NE(pdf.find("%%EOF"), std::string::npos);
  if (testing::runCommand("command -v pdfinfo").exit_code == 0) {
    const auto info = testing::runCommand("pdfinfo '" + path + "'");
    EXPECT_EQ(info.exit_code, 0) << info.err;
    EXPECT_NE(info.out.find("Pages:           1\n"), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("Page size:       432 x 259 pts"), std::string::npos) << "6 x 3.6 in:\n" << info.out;
  }
}

TEST_F(CompareCli, SvgParsesAndNamesEveryRunInTheLegend) {
  const std::string path = dir_->file("fig.svg");
  const auto result =
      distillCli("export 1 2 3 --metric train/student_loss --smoothing 0.8 --format svg --out '" + path + "'" + db());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  QFile file(QString::fromStdString(path));
  ASSERT_TRUE(file.open(QIODevice::ReadOnly));
  QXmlStreamReader xml(&file);
  QString text;
  bool saw_svg = false;
  while (!xml.atEnd()) {
    xml.readNext();
    if (xml.isStartElement() && xml.name() == QLatin1String("svg")) saw_svg = true;
    if (xml.isCharacters()) text += xml.text();
  }
  EXPECT_FALSE(xml.hasError()) << xml.errorString().toStdString();
  EXPECT_TRUE(saw_svg);
  for (const char* name : {"#1 kd T2", "#2 kd T4", "#3 kd T8"}) EXPECT_TRUE(text.contains(QString::fromUtf8(name))) << name;
}

TEST_F(CompareCli, ChartFormatsNeedOneMetricAndAFile) {
  EXPECT_EQ(distillCli("export 1 2 --format pdf --out x.pdf" + db()).exit_code, 2);
  EXPECT_EQ(distillCli("export 1 2 --metric eval/agreement --format pdf" + db()).exit_code, 2);
  const auto missing = distillCli("export 1 --metric eval/nothing --format svg --out " + dir_->file("n.svg") + db());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("eval/nothing"), std::string::npos);
}

TEST_F(CompareCli, ReportIsOneHtmlFileWithTablesAndEveryChart) {
  const std::string path = dir_->file("report.html");
  const auto result = distillCli("report 1 2 3 --smoothing 0.6 --out '" + path + "'" + db());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string html = readFile(path);
  EXPECT_NE(html.find("<h2>Config differences</h2>"), std::string::npos);
  EXPECT_NE(html.find("distill.temperature"), std::string::npos);
  EXPECT_NE(html.find("<h2>Summary</h2>"), std::string::npos);
  size_t charts = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++charts;
  EXPECT_EQ(charts, 2u);  // eval/agreement and train/student_loss
  EXPECT_EQ(html.find("<img"), std::string::npos) << "self-contained: nothing linked";
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
}

#endif

}  // namespace
}  // namespace distill
