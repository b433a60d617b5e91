// `distill fidelity RUN` and `distill mirror A B`: the fidelity analysis of a stored run and
// the mirror test (core/fidelity/). main.cpp registers them and dispatches here.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/fidelity/run_fidelity.h"

namespace distill::cli {

class FidelityCommands {
 public:
  // Adds the two subcommands to `app`; `db` is the shared --db option's value.
  FidelityCommands(CLI::App& app, std::string& db);
  // Whether one of them was given on the command line (after parsing).
  bool parsed() const;
  // Runs the one given. Bad input throws the core's errors (main prints them, exit 2);
  // a mirror test stopped with Ctrl-C returns 130.
  int execute(const std::string& db);

 private:
  int fidelity(const std::string& db);
  int lmFidelity(const RunFidelity& result) const;  // a language-model run's report
  int mirror(const std::string& db);
  int lmMirror(const std::string& db);  // runs of task lm (lm_mirror_command.cpp)

  CLI::App* fidelity_ = nullptr;
  CLI::App* mirror_ = nullptr;
  std::string fidelity_run_;
  bool fidelity_json_ = false;
  int64_t fidelity_top_ = 10;
  int64_t fidelity_blocks_ = FidelityOptions{}.max_blocks;
  std::string model_a_, model_b_;
  bool mirror_json_ = false, mirror_quiet_ = false;
  int references_ = 4;
  int64_t reference_samples_ = 0, reference_epochs_ = 0, probe_samples_ = 2000;
  uint64_t seed_ = 0;
  std::string other_dataset_;
  // Language-model runs (core/fidelity/lm_mirror.h).
  std::string access_ = "logits";
  int64_t top_k_ = 5, sequences_ = 64, tokens_ = 0;
  double alpha_ = 0.05;
  std::vector<std::string> reference_runs_;
  std::string second_corpus_;
};

}  // namespace distill::cli
