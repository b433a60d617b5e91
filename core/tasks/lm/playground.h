// The window's Playground: a prompt typed by the researcher, continued by both models of a
// language-model run (finished, failed or still training), each token of each completion with
// its probability under the model that wrote it (p) and under the other model (q), so the page
// can mark where the two disagree. Torch-free on purpose: the Qt page includes this header and
// nothing of LibTorch (core/tasks/lm/generate.h does the work behind it).
//
// Usage (on a worker thread: loading and generating take from a fraction of a second to many):
//   PlaygroundOptions options;
//   options.temperature = 0.8;
//   const PlaygroundResult result = completeWithBoth("runs.db", 7, "the cat", options);
//   for (const auto& completion : result.completions) show(completion.role, completion.text);
//
// Thread contract: a plain function that opens its own read-only connection to the database and
// its own copies of the models, so any thread may call it, several at once; nothing is shared
// with the caller's store connection. It leaves the process's thread settings as they are (a
// run training in the same window set them).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace distill {

struct PlaygroundOptions {
  int64_t max_tokens = 64;  // new tokens at most (>= 1); fewer when the context fills
  double temperature = 0.8; // >= 0; 0 = greedy
  double top_p = 0.95;      // in (0, 1]
  uint64_t seed = 0;        // the sampler's seed: both models draw with the same one
  // The window's Stop: set by any thread, it ends the completion being written before its next
  // token (SamplingOptions::stop) and skips what was not begun. Not owned; nullptr: none.
  const std::atomic<bool>* stop = nullptr;
};

struct PlaygroundToken {
  std::string text;  // the token decoded alone (UTF-8; a byte of a split character is U+FFFD)
  double p = 0.0;    // probability under the model that wrote it (its plain softmax, temperature 1)
  double q = 0.0;    // probability of the same token, in the same context, under the other model
};

struct PlaygroundCompletion {
  std::string role;   // teacher | student
  std::string model;  // the model's one-line summary ("gpt 1x32, 2 heads, context 16")
  std::string text;   // the completion decoded (UTF-8, invalid bytes replaced), without the prompt
  std::vector<PlaygroundToken> tokens;
  bool context_full = false;  // stopped before max_tokens: the model's context was full
  bool stopped = false;       // PlaygroundOptions::stop ended it before max_tokens
  double seconds = 0.0;       // generation and scoring of this completion
};

struct PlaygroundResult {
  int64_t run_id = 0;
  std::string run_name;
  std::string prompt;  // the prompt as the run's tokenizer reads it back (characters it lacks dropped)
  bool prompt_changed = false;  // the tokenizer could not represent the typed prompt exactly
  std::vector<PlaygroundCompletion> completions;  // the teacher's, then the student's (fewer when stopped)
  bool stopped = false;  // PlaygroundOptions::stop was set: the completions are partial or missing
};

// Loads run `run_id`'s teacher and student from the database at `db_path` (loadStoredLm,
// core/tasks/lm/stored_model.h), encodes `prompt` with the run's tokenizer (an empty prompt
// starts from the separator, a document's start), and has each model continue it with
// `options`; then scores each completion under both models. Throws ConfigError naming the
// option (max_tokens, temperature, top_p) for a bad option, StoreError for a missing database
// or run, ConfigError (key RUN) for a run of another task or one without checkpoints yet,
// [stop: once options.stop is set, the completion in progress ends at its next token (it is
// still scored) and the other is not begun; result.stopped says so]
// ConfigError (key prompt) for a prompt longer than the context, and what loadStoredLm throws.
PlaygroundResult completeWithBoth(const std::string& db_path, int64_t run_id, const std::string& prompt,
                                  const PlaygroundOptions& options);

}  // namespace distill
