// The records a run is made of, as the trainer produces them and the store keeps them: no
// torch, no SQLite, no Qt. The trainer (core/train) and the store (core/store) both include
// this header and neither includes the other's: the store knows runs, not training.
#pragma once

#include <cstdint>
#include <string>

namespace distill {

// One value of one metric, e.g. {"eval/agreement", 4690, 10.0, 1764431234.5, 0.962}.
struct MetricPoint {
  std::string key;
  int64_t step = 0;        // optimizer step within the phase the metric belongs to
  double epoch = 0.0;      // fractional epoch within that phase (1.0 = end of the first)
  double wall_time = 0.0;  // seconds since the Unix epoch
  double value = 0.0;
};

// A model or training-state file a run wrote (its latest of each role).
struct CheckpointInfo {
  std::string role;  // teacher | student | state
  std::string path;
  int64_t step = 0;
  double epoch = 0.0;
};

}  // namespace distill
