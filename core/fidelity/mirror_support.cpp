#include "core/fidelity/mirror_support.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/fidelity/mirror.h"
#include "core/store/run_store.h"

namespace distill {

MirrorSession::MirrorSession(std::function<void(const std::string&)> progress, const std::atomic<bool>* stop,
                             std::string database_path)
    : progress_(std::move(progress)), stop_(stop), database_path_(std::move(database_path)) {}

MirrorSession::~MirrorSession() = default;

void MirrorSession::say(const std::string& line) const {
  if (progress_) progress_(line);
}

void MirrorSession::checkStop() const {
  if (stop_ && stop_->load()) throw MirrorStopped();
}

RunStore& MirrorSession::store(const std::string& field) {
  if (!store_) {
    if (database_path_.empty()) throw ConfigError({{field, "a run was named but no database was given (--db)"}});
    store_ = std::make_unique<RunStore>(database_path_, RunStore::Mode::ReadOnly);
  }
  return *store_;
}

MeanStd meanStd(const std::vector<double>& values) {
  MeanStd result;
  if (values.empty()) return result;
  for (double v : values) result.mean += v;
  result.mean /= static_cast<double>(values.size());
  if (values.size() > 1) {
    double sum = 0.0;
    for (double v : values) sum += (v - result.mean) * (v - result.mean);
    result.std = std::sqrt(sum / static_cast<double>(values.size() - 1));  // sample std
  }
  return result;
}

double signedRankPValue(const std::vector<double>& differences) {
  std::vector<double> nonzero;
  for (double d : differences)
    if (d != 0.0 && std::isfinite(d)) nonzero.push_back(d);
  const size_t n = nonzero.size();
  if (n == 0) return 1.0;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return std::abs(nonzero[a]) < std::abs(nonzero[b]); });
  // Doubled ranks (integers also for tied mid-ranks); the tie groups' sizes for the variance.
  std::vector<int64_t> doubled_rank(n);
  double tie_term = 0.0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && std::abs(nonzero[order[j + 1]]) == std::abs(nonzero[order[i]])) ++j;
    const auto first = static_cast<int64_t>(i + 1), last = static_cast<int64_t>(j + 1);
    for (size_t k = i; k <= j; ++k) doubled_rank[order[k]] = first + last;  // 2 x their mean rank
    const double t = static_cast<double>(j - i + 1);
    tie_term += t * t * t - t;
    i = j + 1;
  }
  int64_t doubled_w = 0;  // 2 W+
  for (size_t i = 0; i < n; ++i)
    if (nonzero[i] > 0) doubled_w += doubled_rank[i];

  if (n <= 50) {
    // Exact: the number of sign patterns giving each doubled sum (each rank positive or not).
    const int64_t total = std::accumulate(doubled_rank.begin(), doubled_rank.end(), int64_t{0});
    std::vector<double> ways(static_cast<size_t>(total) + 1, 0.0);
    ways[0] = 1.0;
    int64_t reach = 0;
    for (int64_t r : doubled_rank) {
      for (int64_t s = reach; s >= 0; --s)
        if (ways[static_cast<size_t>(s)] != 0.0) ways[static_cast<size_t>(s + r)] += ways[static_cast<size_t>(s)];
      reach += r;
    }
    double at_least = 0.0;
    for (int64_t s = doubled_w; s <= total; ++s) at_least += ways[static_cast<size_t>(s)];
    return std::min(1.0, at_least / std::ldexp(1.0, static_cast<int>(n)));
  }
  const double nn = static_cast<double>(n);
  const double mean = nn * (nn + 1) / 4.0;
  const double variance = nn * (nn + 1) * (2 * nn + 1) / 24.0 - tie_term / 48.0;
  if (variance <= 0.0) return 1.0;
  const double z = (static_cast<double>(doubled_w) / 2.0 - mean - 0.5) / std::sqrt(variance);
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

std::vector<double> holmAdjusted(const std::vector<double>& p_values) {
  const size_t m = p_values.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(m, 1.0);
  double running = 0.0;
  for (size_t i = 0; i < m; ++i) {
    running = std::max(running, std::min(1.0, static_cast<double>(m - i) * p_values[order[i]]));
    adjusted[order[i]] = running;
  }
  return adjusted;
}

ScratchFolder::ScratchFolder() {
  static std::atomic<int64_t> counter{0};
  try {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("distill-mirror-{}-{}", static_cast<long>(getpid()), counter.fetch_add(1));
    std::filesystem::remove_all(path_);  // a leftover of a dead process with the same id
    std::filesystem::create_directories(path_);
  } catch (const std::filesystem::filesystem_error& e) {
    throw ModelError(std::string("cannot make a scratch folder for the reference models: ") + e.what());
  }
}

ScratchFolder::~ScratchFolder() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace distill
