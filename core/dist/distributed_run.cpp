#include "core/dist/distributed_run.h"

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/tasks/task_registry.h"
#include "core/train/trainer.h"

namespace distill {

std::string runPlanJson(const RunPlan& plan) {
  return nlohmann::json{{"config_yaml", plan.config_yaml},
                        {"teacher_weights", plan.teacher_weights},
                        {"resume_state", plan.resume_state},
                        {"run_id", plan.run_id},
                        {"error", plan.error}}
      .dump();
}

RunPlan parseRunPlan(const std::string& text) {
  try {
    const auto json = nlohmann::json::parse(text);
    RunPlan plan;
    plan.config_yaml = json.at("config_yaml").get<std::string>();
    plan.teacher_weights = json.at("teacher_weights").get<std::string>();
    plan.resume_state = json.at("resume_state").get<std::string>();
    plan.run_id = json.at("run_id").get<int64_t>();
    plan.error = json.at("error").get<std::string>();
    return plan;
  } catch (const nlohmann::json::exception& e) {
    throw DistributedError(std::string("rank 0's run plan in the rendezvous store is not one (another program on "
                                       "the same MASTER_PORT?): ") +
                           e.what());
  }
}

void publishRunPlan(DistGroup& group, const ExperimentRunner& runner, int64_t run_id) {
  RunPlan plan;
  plan.config_yaml = toYaml(runner.config());
  plan.teacher_weights = runner.trainerOptions().teacher_weights;
  plan.resume_state = runner.trainerOptions().resume_state;
  plan.run_id = run_id;
  group.publish("plan", runPlanJson(plan));
}

void publishRunRefusal(DistGroup& group, const std::string& error) {
  RunPlan plan;
  plan.error = error;
  group.publish("plan", runPlanJson(plan));
}

RunResult followRun(DistGroup& group, RunControl& control) {
  const RunPlan plan = parseRunPlan(group.read("plan"));
  if (!plan.error.empty()) throw DistributedError("rank 0 could not start the run: " + plan.error);
  const std::string me = "rank " + std::to_string(group.rank());
  try {
    const ExperimentConfig config = parseConfig(plan.config_yaml, "run " + std::to_string(plan.run_id) + " (from rank 0)");
    auto task = makeTask(config);
    TrainerOptions options;
    options.teacher_weights = plan.teacher_weights;
    options.resume_state = plan.resume_state;
    options.parallel = &group;  // no artifacts folder: rank 0 alone writes
    TrainingObserver silent;
    Trainer trainer(config, *task, options, silent, control);
    RunResult result = trainer.run();
    if (result.outcome == RunOutcome::Failed) group.postError(result.error);
    return result;
  } catch (const DistributedError&) {
    throw;
  } catch (const ConfigError& e) {
    std::string text;
    for (const auto& issue : e.issues()) text += (text.empty() ? "" : "; ") + issue.toString();
    group.postError(me + ": " + text);
    throw;
  } catch (const std::exception& e) {
    group.postError(me + ": " + e.what());
    throw;
  }
}

}  // namespace distill
