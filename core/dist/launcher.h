// `distill run --nproc N` on one machine: N copies of this program, each told its place the way
// torchrun tells it (MASTER_ADDR=127.0.0.1, MASTER_PORT a free port, RANK, LOCAL_RANK,
// WORLD_SIZE), in a process group of their own so that one Ctrl-C reaches each rank once (the
// launcher forwards it), not twice. The launcher trains nothing and touches no database: rank 0
// does; each rank joins as it would under torchrun or srun.
//
// A rank that ends with an error or a signal is reported at once, naming it; the others find it
// at their next collective (core/dist/dist_group.h) and end on their own, rank 0 storing the run
// as failed; any still running after `grace` are stopped (SIGTERM, then SIGKILL).
//
// Thread contract: the calling thread; it blocks until every rank has ended.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace distill {

struct LaunchOptions {
  std::vector<std::string> argv;  // argv[0]: the program's path (/proc/self/exe resolved)
  int nproc = 2;
  int master_port = 0;            // 0: a free port on 127.0.0.1
  std::chrono::milliseconds grace{std::chrono::seconds(60)};
  std::function<void(const std::string&)> report;  // a line for the terminal (stderr)
};

// Rank 0's exit code when every rank ended normally or rank 0 failed by itself; else 1 (a rank
// died and rank 0 did not say so), 130 when stopped by Ctrl-C. Throws std::runtime_error when a
// process cannot be started.
int launchLocalRanks(const LaunchOptions& options);

// `args` without "--nproc N" / "--nproc=N" (what each rank runs); `nproc` gets N (0: absent).
std::vector<std::string> withoutNproc(const std::vector<std::string>& args, int* nproc);

}  // namespace distill
