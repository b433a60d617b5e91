// The observer that writes a running trainer into the store: it lives beside the runner, so
// that the store knows runs and records (core/run_records.h), not training.
// Thread contract: lives on the training thread, with its own RunStore connection.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/store/run_store.h"
#include "core/train/observer.h"

namespace distill {

// Records a running trainer into a store: metric points and generated texts are buffered and
// written at least once per second (or every 2000 points or 500 texts), checkpoints as they
// come (after everything buffered before them).
// Lives on the training thread, with its own RunStore connection.
class StoreRecorder : public TrainingObserver {
 public:
  StoreRecorder(RunStore& store, int64_t run_id) : store_(store), run_id_(run_id) {}
  ~StoreRecorder() override;
  void onStarted(const std::map<std::string, std::string>& environment) override;
  void onMetrics(const std::vector<MetricPoint>& points) override;
  // Tags the file as this run's (owner tag) and records it.
  void onCheckpoint(const CheckpointInfo& checkpoint) override;
  // Stamps texts without a wall time with the time they arrive (a resume drops texts written
  // after its checkpoint by that time, so it must be when they were made, not stored).
  void onGenerated(const std::vector<GeneratedText>& texts) override;
  // Writes what is buffered; throws StoreError naming the store path (what was stored before
  // is kept, and what failed stays buffered).
  void flush();

 private:
  RunStore& store_;
  int64_t run_id_;
  std::vector<MetricPoint> pending_;
  std::vector<GeneratedText> pending_texts_;
  double last_flush_ = 0.0;
};

}  // namespace distill
