// `distill samples RUN`: the texts a language-model run's models wrote, as the store keeps them
// (RunStore::generatedTexts): at each evaluation, every fixed prompt with the teacher's and the
// student's completions, greedy and sampled; with --purpose train, the generated training
// sequences. Text to standard output, one line per completion, control characters escaped.
// Thread contract: main thread only.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace distill::cli {

struct SamplesArgs {
  std::string run;
  std::string purpose = "eval";
  std::optional<int64_t> step;
  bool last = false;
  std::string role;  // empty: both models
  bool json = false;
};

// Registers the subcommand and its options on `app` (--db into `db`).
CLI::App* addSamplesCommand(CLI::App& app, SamplesArgs& args, std::string& db);
// Runs it; returns the exit code. A run of a task that writes no texts and a --step without
// texts throw ConfigError (naming RUN or --step); a missing run StoreError.
int samplesCommand(const SamplesArgs& args, const std::string& db);

}  // namespace distill::cli
