// A data-parallel run around the one-process path: rank 0 drives the ExperimentRunner exactly
// as one process does (it alone opens the database, records the run, checkpoints and logs) and
// publishes what the run is through the rendezvous store; every other rank reads that, builds
// the same task and trainer with no artifacts folder and a silent observer, and trains its
// shards. A new run and a resumed one go the same way (the plan names the state to resume).
//
//   rank 0:  runner.setDataParallel(&group); id = runner.createRun(); publishRunPlan(group, runner, id);
//            runner.run();
//   others:  RunResult r = followRun(group, control);
//
// Thread contract: the training thread of each rank.
#pragma once

#include <cstdint>
#include <string>

#include "core/dist/dist_group.h"
#include "core/train/experiment_runner.h"

namespace distill {

// What the other ranks need: the config as rank 0 stored it, the teacher's weights and the
// training state to resume from (paths that every rank must be able to read: one machine, or
// storage that the nodes share), and the run's id (for their messages).
struct RunPlan {
  std::string config_yaml;
  std::string teacher_weights;
  std::string resume_state;
  int64_t run_id = 0;
  std::string error;  // rank 0 could not start the run: the others end with this
};
std::string runPlanJson(const RunPlan& plan);
// Throws DistributedError when `text` is not a plan.
RunPlan parseRunPlan(const std::string& text);

// Rank 0, once the run exists.
void publishRunPlan(DistGroup& group, const ExperimentRunner& runner, int64_t run_id);
// Rank 0, when the run could not be prepared (a config, data or store error): the other ranks
// end with `error` instead of waiting for a plan.
void publishRunRefusal(DistGroup& group, const std::string& error);

// A rank other than 0: waits for rank 0's plan, trains its shards of the same run. Throws
// DistributedError when rank 0 refused or ended first; ConfigError, DataError, ModelError when
// this rank cannot build the run (posted to the others first, so that rank 0 names it).
RunResult followRun(DistGroup& group, RunControl& control);

}  // namespace distill
