#include "core/train/store_recorder.h"

#include <chrono>

#include "core/errors.h"

namespace distill {

namespace {
double unixNow() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}
}  // namespace

StoreRecorder::~StoreRecorder() {
  try {
    flush();
  } catch (...) {
    // Destructors must not throw; the owner calls flush() itself to see errors.
  }
}

void StoreRecorder::onStarted(const std::map<std::string, std::string>& environment) {
  store_.setEnvironment(run_id_, environment);
  last_flush_ = unixNow();
}

void StoreRecorder::onMetrics(const std::vector<MetricPoint>& points) {
  pending_.insert(pending_.end(), points.begin(), points.end());
  if (pending_.size() >= 2000 || unixNow() - last_flush_ >= 1.0) flush();
}

void StoreRecorder::onGenerated(const std::vector<GeneratedText>& texts) {
  const double now = unixNow();
  for (const GeneratedText& text : texts) {
    pending_texts_.push_back(text);
    if (pending_texts_.back().wall_time <= 0) pending_texts_.back().wall_time = now;
  }
  if (pending_texts_.size() >= 500 || now - last_flush_ >= 1.0) flush();
}

void StoreRecorder::onCheckpoint(const CheckpointInfo& checkpoint) {
  flush();
  try {
    store_.addOwnedCheckpoint(run_id_, checkpoint);
  } catch (const StoreError& e) {
    throw StoreError(store_.path() + ": cannot record the run's " + checkpoint.role + " checkpoint (" + e.what() +
                     "; a full disk?); what was stored before is kept");
  }
}

void StoreRecorder::flush() {
  last_flush_ = unixNow();
  // Typically a full disk: the batch's transaction was rolled back, earlier ones stay.
  if (!pending_.empty()) {
    try {
      store_.appendMetrics(run_id_, pending_);
    } catch (const StoreError& e) {
      throw StoreError(store_.path() + ": cannot store the run's metric points (" + e.what() +
                       "; a full disk?); what was stored before is kept");
    }
    pending_.clear();
  }
  if (!pending_texts_.empty()) {
    try {
      store_.appendGenerated(run_id_, pending_texts_);
    } catch (const StoreError& e) {
      throw StoreError(store_.path() + ": cannot store the run's generated texts (" + e.what() +
                       "; a full disk?); what was stored before is kept");
    }
    pending_texts_.clear();
  }
}

}  // namespace distill
