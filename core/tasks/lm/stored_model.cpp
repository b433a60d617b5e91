#include "core/tasks/lm/stored_model.h"

#include "core/config/config.h"
#include "core/errors.h"
#include "core/hf/hf_source.h"
#include "core/hf/hf_weights.h"
#include "core/models/factory.h"
#include "core/store/run_store.h"
#include "core/tasks/teacher_source.h"
#include "core/tasks/lm/lm_task.h"

namespace distill {

StoredLm loadStoredLm(RunStore& store, int64_t run_id, const std::string& role) {
  const std::string name = "run " + std::to_string(run_id);
  const auto run = store.getRun(run_id);
  if (!run) throw StoreError(name + " not found in " + store.path());
  ExperimentConfig config = parseConfig(run->config_yaml, name);
  if (config.task != "lm")
    throw ConfigError({{"RUN", name + " is an " + config.task + " run; generate needs task: lm"}});
  if (role != "teacher" && role != "student")
    throw ConfigError({{"--role", "expected teacher or student, got '" + role + "'"}});
  const bool teacher = role == "teacher";

  StoredLm stored;
  // The byte tokenizer needs no text; the char tokenizer's alphabet is the corpus's characters; a
  // model's tokenizer is read from its files again.
  config.lm.tokenizer = runTokenizerSpec(config);  // as the run's task picked it
  stored.tokenizer = Tokenizer::forConfig(config.lm);
  const std::string mismatch = tokenizerMismatch(stored.tokenizer, run->environment);
  if (!mismatch.empty())
    throw DataError(name + " " + mismatch + " (the corpus or the tokenizer's files changed since)");

  // Checked to be this run's own file (owner tag), never another database's run <id>.
  try {
    stored.checkpoint = store.checkpointFile(run_id, role);
  } catch (const StoreError& e) {
    throw ConfigError({{"RUN", std::string(e.what())}});
  }
  if (stored.checkpoint.empty()) {
    if (!teacher || config.teacher.source == "train")
      throw ConfigError({{"RUN", name + " has no " + role + " checkpoint (" +
                                     (run->status == RunStatus::Running
                                          ? "the first is written at the end of its first " + role + " epoch"
                                          : "it ended before the first " + role + " epoch did") +
                                     ")"}});
    // A TorchScript teacher is no GPT to rebuild (and has no KV cache to generate with).
    if (isTorchScriptSource(config.teacher.source))
      throw ConfigError({{"RUN", name + " has no teacher checkpoint (the teacher was not trained in this run, it is the "
                                        "TorchScript file of teacher.source '" + config.teacher.source + "')"}});
    // The teacher came from elsewhere (run:<id>, a weights file, an hf: folder) and was never
    // trained here. (Only the teacher's source is resolved: the student's weights are the run's.)
    config.student_source = "init";
    stored.checkpoint = resolveTeacherSource(config, store).weights_path;
  }

  const auto recorded = run->environment.find(role + "_hf_config");
  if (recorded != run->environment.end()) {
    stored.hf_config = parseHfConfig(recorded->second, name + "'s environment (" + role + "_hf_config)");
    HfLoadOptions options;
    options.context = config.lm.context;
    stored.model = CausalLm(std::dynamic_pointer_cast<CausalLmImpl>(buildHfModel(*stored.hf_config, options)));
  } else {
    const GptConfig gpt = teacher ? lmGptConfig(config.teacher.model, config.teacher.source, "teacher", config.lm,
                                                stored.tokenizer)
                                  : lmGptConfig(config.student, config.student_source, "student", config.lm,
                                                stored.tokenizer);
    stored.model = CausalLm(std::shared_ptr<CausalLmImpl>(Gpt(gpt).ptr()));
  }
  try {
    stored.model->loadCheckpoint(stored.checkpoint);  // compares every parameter's shape with the config
  } catch (const ModelError& e) {
    throw ModelError(name + " of " + store.path() + ", " + role + ": " + e.what());
  } catch (const DataError& e) {
    throw DataError(name + " of " + store.path() + ", " + role + ": " + e.what());
  }
  stored.model->to(torch::kCPU);
  stored.model->eval();
  return stored;
}

}  // namespace distill
