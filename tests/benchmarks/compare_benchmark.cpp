// Benchmark, not a test (ctest does not run it): issue 4's compare-view numbers for 20 runs of
// 100,000 points each (the trainer's keys, generated through the store like the browse
// benchmark's database), on the offscreen platform.
//
//  - first complete render: CompareView::setRuns (loading every point from the store, the
//    charts, the tables) until every chart has replotted at its final size, including the
//    re-decimation the layout's resize triggers; target < 300 ms.
//  - pan/zoom redraw on the chart with the most points: the work behind one pan or zoom step,
//    re-decimation to the axis width plus QCustomPlot's replot (the 30 ms coalescing timer
//    in between is a deliberate wait, not counted), and the plain replot of a drag frame;
//    target < 50 ms.
//
//   QT_QPA_PLATFORM=offscreen build-bench/tests/benchmarks/compare_benchmark [--db FILE] [--reps N]
#include <CLI/CLI.hpp>
#include <QApplication>
#include <QElapsedTimer>
#include <QTableWidget>

#include <cstdio>
#include <filesystem>
#include <set>

#include "core/store/run_store.h"
#include "tests/benchmarks/bench_support.h"
#include "ui/compare_view.h"

using namespace distill;
using namespace distill::bench;
using Clock = std::chrono::steady_clock;

namespace {

// Processes events until every chart has replotted since `start` and nothing has replotted
// for `quiet_ms`; returns the time of the last replot after `start`, in ms.
int g_replots = 0;  // replots seen by the last waitForSettledRender

double waitForSettledRender(ui::CompareView& view, Clock::time_point start, int quiet_ms = 150) {
  std::set<QCustomPlot*> replotted;
  g_replots = 0;
  auto last = Clock::now();
  std::vector<QMetaObject::Connection> connections;
  for (auto* chart : view.charts())
    connections.push_back(QObject::connect(chart, &QCustomPlot::afterReplot, chart, [&, chart] {
      replotted.insert(chart);
      ++g_replots;
      last = Clock::now();
    }));
  QElapsedTimer guard;
  guard.start();
  while (guard.elapsed() < 20000) {
    QApplication::processEvents(QEventLoop::AllEvents, 5);
    const bool all = replotted.size() == view.charts().size();
    if (all && std::chrono::duration<double, std::milli>(Clock::now() - last).count() > quiet_ms) break;
  }
  for (auto& c : connections) QObject::disconnect(c);
  return std::chrono::duration<double, std::milli>(last - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string db = (std::filesystem::temp_directory_path() / "distill-bench" / "compare-20x100000.db").string();
  int reps = 10, runs = 20, points = 100000;
  CLI::App cli{"Compare view timings: 20 runs drawn together, pan, zoom, drag (issue 4)", "compare_benchmark"};
  cli.add_option("--db", db, "database file, generated when it does not hold this shape")->capture_default_str();
  cli.add_option("--reps", reps, "repetitions of each measurement")->check(CLI::Range(1, 100000000))->capture_default_str();
  cli.add_option("--points", points, "points per run")->check(CLI::Range(1, 100000000))->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows through a pipe too
  QApplication app(argc, argv);
  std::printf("load average before: %.2f\n", loadAverage());
  const IngestResult ingest = makeDatabase(db, runs, points);
  if (ingest.reused)
    std::printf("database %s: reused (%d runs x %d points)\n", db.c_str(), runs, points);
  else
    std::printf("database %s: wrote %lld points in %.1f s = %.0f points/s\n", db.c_str(),
                static_cast<long long>(ingest.points), ingest.seconds, ingest.points / ingest.seconds);

  RunStore store(db);
  QList<qint64> ids;
  for (const auto& run : store.listRuns()) ids << run.id;

  // ---- where setRuns' time goes: the store's share ----
  std::vector<double> load;
  for (int r = 0; r < reps; ++r) {
    const auto start = Clock::now();
    for (qint64 id : ids) store.metricSeries(id);
    load.push_back(msSince(start));
  }

  // ---- first complete render ----
  std::vector<double> load_and_build, settled;
  size_t chart_count = 0;
  for (int r = 0; r < reps; ++r) {
    ui::CompareView view;
    view.setStore(&store);
    view.resize(1600, 1000);
    view.show();
    QApplication::processEvents();
    const auto start = Clock::now();
    if (!view.setRuns(ids)) {
      std::fprintf(stderr, "setRuns failed\n");
      return 1;
    }
    load_and_build.push_back(msSince(start));
    settled.push_back(waitForSettledRender(view, start));
    chart_count = view.charts().size();
  }
  std::printf("\ncompare view, %d runs x %d points, %zu charts, 1600x1000 window\n", runs, points, chart_count);
  std::printf("  setRuns (load + charts + tables)   median %8.2f ms\n", stats(load_and_build).median);
  std::printf("    of which RunStore::metricSeries  median %8.2f ms (%d runs, every point)\n", stats(load).median, runs);
  std::printf("  first complete render              %s\n", verdict(stats(settled), 300).c_str());
  std::printf("    replots until settled            %d (%zu charts)\n", g_replots, chart_count);
  // The same without the store's share: the view's own work on points already in memory.
  std::vector<double> without_store;
  for (double t : settled) without_store.push_back(t - stats(load).median);
  std::printf("  first render less the store's share %s\n", verdict(stats(without_store), 300).c_str());

  // ---- pan / zoom ----
  ui::CompareView view;
  view.setStore(&store);
  view.resize(1600, 1000);
  view.show();
  view.setRuns(ids);
  waitForSettledRender(view, Clock::now());
  ui::CompareChart* chart = view.charts().front();
  size_t most = 0;
  for (auto* c : view.charts()) {
    size_t n = 0;
    for (const auto& curve : c->figure().curves) n += curve.x.size();
    if (n > most) most = n, chart = c;
  }
  const QCPRange full = chart->xAxis->range();
  std::vector<double> drag_frame, pan, zoom;
  const int steps = std::max(reps * 3, 30);
  for (int s = 0; s < steps; ++s) {
    const int buckets = std::max(100, chart->axisRect()->width());
    // A pan: the range moves by 5% of its width, new points come in.
    const double shift = full.size() * 0.05 * ((s % 10) - 4.5) / 4.5;
    chart->xAxis->setRange(full.lower + full.size() * 0.1 + shift, full.upper - full.size() * 0.1 + shift);
    auto t = Clock::now();
    chart->replot(QCustomPlot::rpImmediateRefresh);  // a drag frame: old decimation, no AA
    drag_frame.push_back(msSince(t));
    t = Clock::now();
    ui::redecimate(*chart, chart->figure(), buckets);
    chart->replot(QCustomPlot::rpImmediateRefresh);
    pan.push_back(msSince(t));
    // A zoom: the range narrows around the centre by a wheel step's factor, or back out.
    const double factor = s % 2 ? 0.85 : 1.0 / 0.85;
    chart->xAxis->scaleRange(factor, chart->xAxis->range().center());
    t = Clock::now();
    ui::redecimate(*chart, chart->figure(), buckets);
    chart->replot(QCustomPlot::rpImmediateRefresh);
    zoom.push_back(msSince(t));
    QApplication::processEvents();
  }
  std::printf("\npan/zoom on '%s' (%zu points in %zu curves)\n", chart->objectName().toUtf8().constData(), most,
              chart->figure().curves.size());
  std::printf("  drag frame (replot only)           %s\n", verdict(stats(drag_frame), 50).c_str());
  std::printf("  pan: redecimate + replot           %s\n", verdict(stats(pan), 50).c_str());
  std::printf("  zoom: redecimate + replot          %s\n", verdict(stats(zoom), 50).c_str());
  std::printf("  QCustomPlot::replotTime (average)  %8.2f ms\n", chart->replotTime(true));
  std::printf("\nload average after: %.2f\n", loadAverage());
  return 0;
}
