// Benchmark, not a test (ctest does not run it): issue 4's browsing numbers over a database of
// 1,000 runs x 10,000 points, generated here through RunStore::createRun/appendMetrics in
// batched transactions (the ingest rate is reported) and reused on later runs.
//
//  - run table fill: a fresh RunStore connection and RunBrowser::setStore (listRuns with final
//    metrics and tags, loadParams, best student accuracy, the model reset, the sort) up to the
//    table's first paint; target < 300 ms. A warm refresh() is timed too.
//  - one run's curves: what the window does when a run is clicked (MainWindow::showRun):
//    RunStore::metrics(run) for every key, then MetricCharts::showPoints, which replots;
//    target < 50 ms.
//
//   QT_QPA_PLATFORM=offscreen build-bench/tests/benchmarks/browse_benchmark [--db FILE] [--reps N]
#include <CLI/CLI.hpp>
#include <QApplication>
#include <QTableView>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>

#include "core/store/run_store.h"
#include "tests/benchmarks/bench_support.h"
#include "ui/metric_charts.h"
#include "ui/run_browser.h"
#include "ui/run_table_model.h"

using namespace distill;
using namespace distill::bench;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string db = (std::filesystem::temp_directory_path() / "distill-bench" / "browse-1000x10000.db").string();
  int reps = 15, runs = 1000, points = 10000;
  CLI::App cli{"Run browser timings over a generated database (issue 4)", "browse_benchmark"};
  cli.add_option("--db", db, "database file, generated when it does not hold this shape")->capture_default_str();
  cli.add_option("--reps", reps, "repetitions of each measurement")->check(CLI::Range(1, 100000000))->capture_default_str();
  cli.add_option("--runs", runs, "runs in the generated database")->check(CLI::Range(1, 100000000))->capture_default_str();
  cli.add_option("--points", points, "points per run")->check(CLI::Range(1, 100000000))->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows through a pipe too
  QApplication app(argc, argv);
  std::printf("load average before: %.2f\n", loadAverage());

  const IngestResult ingest = makeDatabase(db, runs, points);
  if (ingest.reused)
    std::printf("database %s: reused (%lld runs x %d points)\n", db.c_str(), static_cast<long long>(ingest.runs), points);
  else
    std::printf("database %s: wrote %lld points in %.1f s = %.0f points/s (batches of 2000, one transaction each)\n",
                db.c_str(), static_cast<long long>(ingest.points), ingest.seconds, ingest.points / ingest.seconds);
  std::printf("database size: %.0f MiB\n", std::filesystem::file_size(db) / 1048576.0);

  // ---- run table fill ----
  std::vector<double> fill, refresh, list, params, best;
  for (int r = 0; r < reps; ++r) {
    RunStore store(db);  // the window's GUI connection, fresh: SQLite's page cache empty
    ui::RunBrowser browser;
    browser.resize(1400, 800);
    browser.show();
    QApplication::processEvents();
    const auto start = Clock::now();
    browser.setStore(&store);
    browser.table()->viewport()->repaint();
    fill.push_back(msSince(start));
    if (browser.model()->rowCount() != runs) {
      std::fprintf(stderr, "table has %d rows, expected %d\n", browser.model()->rowCount(), runs);
      return 1;
    }
    const auto again = Clock::now();
    browser.refresh();
    browser.table()->viewport()->repaint();
    refresh.push_back(msSince(again));
    // Where the time goes, on the warm connection.
    auto t = Clock::now();
    auto listed = store.listRuns();
    list.push_back(msSince(t));
    t = Clock::now();
    store.loadParams(listed);
    params.push_back(msSince(t));
    t = Clock::now();
    store.bestValues("eval/student_acc", true);
    best.push_back(msSince(t));
  }
  std::printf("\nrun table, %d runs (RunBrowser::setStore on a fresh connection, to the first paint)\n", runs);
  std::printf("  fill          %s\n", verdict(stats(fill), 300).c_str());
  std::printf("  refresh()     %s\n", verdict(stats(refresh), 300).c_str());
  std::printf("    listRuns    median %8.2f ms\n", stats(list).median);
  std::printf("    loadParams  median %8.2f ms\n", stats(params).median);
  std::printf("    bestValues  median %8.2f ms\n", stats(best).median);

  // ---- one run's curves ----
  {
    RunStore store(db);
    const auto listed = store.listRuns();
    ui::MetricCharts charts;
    charts.resize(1000, 700);
    charts.show();
    QApplication::processEvents();
    std::mt19937 rng(7);
    std::vector<double> load, draw, total;
    const int clicks = std::max(reps, 30);
    size_t loaded = 0;
    for (int c = 0; c < clicks; ++c) {
      const int64_t id = listed[rng() % listed.size()].id;
      const auto start = Clock::now();
      const auto points_of_run = store.metrics(id);
      load.push_back(msSince(start));
      const auto drawn = Clock::now();
      charts.showPoints(points_of_run);
      draw.push_back(msSince(drawn));
      total.push_back(msSince(start));
      loaded = points_of_run.size();
    }
    std::printf("\none run's curves (%zu points, %d clicks on random runs)\n", loaded, clicks);
    std::printf("  RunStore::metrics      %s\n", verdict(stats(load), 50).c_str());
    std::printf("  + showPoints (replot)  %s\n", verdict(stats(total), 50).c_str());
    std::printf("    showPoints alone     median %8.2f ms\n", stats(draw).median);
  }
  std::printf("\nload average after: %.2f\n", loadAverage());
  return 0;
}
