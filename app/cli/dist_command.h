// `distill run` and `distill resume` as data-parallel runs: `--nproc N` starts N ranks on this
// machine (core/dist/launcher.h); a process started with torchrun's or Slurm's variables joins
// its run (core/dist/launch_env.h); rank 0 records the run, the others follow it
// (core/dist/distributed_run.h).
#pragma once

#include <memory>
#include <string>

#include "core/dist/dist_group.h"

namespace distill::cli {

struct DistArgs {
  int nproc = 0;             // --nproc: ranks to start on this machine (0, 1: one process)
  double timeout_s = 30.0;   // --dist-timeout: what one collective may take
};

// Whether this invocation starts ranks (it is not one already).
bool shouldLaunch(const DistArgs& args);
// Runs `argv` (this program's command line, without --nproc) as args.nproc ranks; their exit code.
int launchRanks(int argc, char** argv, const DistArgs& args);
// The data-parallel run this process joins, or null (one process). `cuda`: the run trains on a
// CUDA device (NCCL where built). Throws ConfigError (the environment), DistributedError.
std::unique_ptr<DistGroup> joinFromEnvironment(const DistArgs& args, bool cuda);
// A rank other than 0: follows rank 0's run; the exit code (errors printed naming the rank).
int followRank(DistGroup& group);

}  // namespace distill::cli
