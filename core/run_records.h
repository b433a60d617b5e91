// The records a run is made of, as the trainer produces them and the store keeps them: no
// torch, no SQLite, no Qt. The trainer (core/train) and the store (core/store) both include
// this header and neither includes the other's: the store knows runs, not training.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// A text a model wrote during a run: a fixed prompt's completion at an evaluation (so that
// the window can show teacher and student side by side over time), or a generated training
// sequence (sequence-level and on-policy distillation train on them).
struct GeneratedText {
  int64_t step = 0;            // optimizer step within `phase`
  double epoch = 0.0;          // fractional epoch within `phase`
  std::string phase;           // teacher | student: the phase it was written in
  std::string purpose;         // eval (a fixed prompt at an evaluation) | train (a training sequence)
  std::string role;            // which model wrote it: teacher | student
  std::string decoding;        // greedy | sampled
  int64_t prompt_index = 0;    // eval: the fixed prompt's index; train: the row in its batch
  std::string prompt;          // UTF-8 (invalid bytes replaced)
  std::string completion;      // UTF-8 (invalid bytes replaced)
  // Per completion token, as JSON: [{"t": text, "p": writer's probability, "q": the other
  // model's probability of the same token}, ...]; empty when not computed.
  std::string tokens_json;
  // Seconds since the Unix epoch; 0: stamped when the store recorder receives it. A resume
  // from a checkpoint drops the texts written after it, as it drops metric points.
  double wall_time = 0.0;
};

}  // namespace distill
