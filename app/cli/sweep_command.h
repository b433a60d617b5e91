// `distill sweep plan|run|resubmit|status|import|cancel|task` and `distill import`: sweeps of runs over
// config axes (core/sweep/), run as local worker processes or as a Slurm job array, each task
// writing its own database in the sweep's folder, and the import of those databases (or any
// others) into the main one (core/store/run_import.h). main.cpp registers them and dispatches
// here. See docs/sweeps.md.
//
// Thread contract: main thread only. `sweep run` and `sweep task` install their own SIGINT and
// SIGTERM handlers while they run (restored after).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "core/sweep/sweep_manifest.h"
#include "core/sweep/sweep_status.h"

namespace distill::cli {

class SweepCommands {
 public:
  // Adds `sweep` (with its subcommands) and `import` to `app`; `db` is the shared --db value.
  SweepCommands(CLI::App& app, std::string& db);
  bool parsed() const;
  // Runs the one given; returns the exit code. Bad input throws the core's errors.
  int execute(const std::string& db);

 private:
  int plan(const std::string& db);
  int run(const std::string& db);
  int resubmit(const std::string& db);
  // Runs (local) or submits (slurm) the tasks `todo` (hashes) of the sweep in `dir`, then
  // records their states in the manifest and prints the sweep's summary; run and resubmit
  // both end here. Returns the exit code.
  int submit(const std::string& dir, SweepManifest& manifest, const std::vector<TaskStatus>& statuses,
             const std::vector<std::string>& todo, const std::string& backend, const SlurmSettings& settings,
             const std::string& db);
  // `settings` with the Slurm flags given on the command line over them.
  SlurmSettings slurmSettings(SlurmSettings settings) const;
  int status();
  int importSweep(const std::string& db);
  int importFiles(const std::string& db);
  int cancel();
  int task();

  CLI::App* sweep_ = nullptr;
  CLI::App* plan_ = nullptr;
  CLI::App* run_ = nullptr;
  CLI::App* resubmit_ = nullptr;
  CLI::Option* resubmit_backend_ = nullptr;
  CLI::App* status_ = nullptr;
  CLI::App* import_sweep_ = nullptr;
  CLI::App* cancel_ = nullptr;
  CLI::App* task_ = nullptr;
  CLI::App* import_ = nullptr;

  std::string file_;       // the sweep file (plan, run)
  std::string dir_;        // the sweep's folder (run --out, status, import, cancel, task)
  std::string hash_;       // task
  std::string backend_ = "local";
  int jobs_ = 1;
  int threads_ = 0;
  bool json_ = false;
  bool wait_ = false;
  bool import_after_ = false;
  bool failed_only_ = false;    // resubmit --failed
  double lost_after_minutes_ = kLostAfterSeconds / 60.0;  // status --lost-after
  bool backend_given_ = false;  // resubmit --backend (else the sweep's own)
  std::string distill_;  // the binary the Slurm nodes run
  // Slurm flags over the sweep file's slurm: section (empty / -1: the file's)
  std::string partition_, account_, time_, mem_, constraint_;
  int gpus_per_task_ = -1, cpus_per_task_ = -1, max_running_ = -1, signal_seconds_ = -1;
  std::vector<std::string> sbatch_lines_;
  std::vector<std::string> import_paths_;
};

}  // namespace distill::cli
