// `distill generate RUN`: text from a language-model run's trained student (or teacher),
// continuing a prompt (core/tasks/lm/generate.h). The prompt and the generated text go to
// standard output; the model, the token count and the time to standard error.
// Thread contract: main thread only.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace distill::cli {

struct GenerateArgs {
  std::string run;
  std::string role = "student";
  std::string prompt;
  int64_t max_tokens = 128;
  double temperature = 1.0;
  double top_p = 1.0;
  uint64_t seed = 0;
  bool no_cache = false;
  int threads = 0;  // as the config key: 0 = the workbench's choice
};

// Registers the subcommand and its options on `app` (--db into `db`).
CLI::App* addGenerateCommand(CLI::App& app, GenerateArgs& args, std::string& db);
// Runs it; returns the exit code. Bad options and runs throw ConfigError (naming the option or
// RUN), a missing run StoreError, weights that do not fit ModelError.
int generateCommand(const GenerateArgs& args, const std::string& db);

}  // namespace distill::cli
