#include "core/tasks/teacher_source.h"

#include <filesystem>

#include "core/errors.h"
#include "core/hf/hf_source.h"
#include "core/store/run_store.h"
#include "core/tasks/lm/tokenizer.h"

namespace distill {

namespace {
ResolvedTeacher resolveSources(ExperimentConfig& config, RunStore& store) {
  ResolvedTeacher resolved;
  std::error_code ec;
  if (config.student_source.rfind("torchscript:", 0) == 0 &&
      !std::filesystem::is_regular_file(config.student_source.substr(12), ec))
    throw ConfigError({{"student.source", "'" + config.student_source.substr(12) + "': no such TorchScript file"}});
  if (isHfSource(config.student_source)) checkHfSource("student.source", config.student_source);
  // The tokenizer follows a Hugging Face model (core/hf/hf_source.h); the run records the value.
  if (config.task == "lm") config.lm.tokenizer = runTokenizerSpec(config);
  const std::string& source = config.teacher.source;
  if (source == "train") return resolved;
  if (isHfSource(source)) {  // the trainer loads the folder's weights (CausalLmImpl::loadCheckpoint)
    checkHfSource("teacher.source", source);
    resolved.weights_path = hfSourceFolder(source);
    return resolved;
  }
  if (source.rfind("run:", 0) == 0) {
    const int64_t run_id = std::stoll(source.substr(4));
    const auto run = store.getRun(run_id);
    if (!run) throw ConfigError({{"teacher.source", "run " + std::to_string(run_id) + " not found in " + store.path()}});
    std::string path;
    try {
      path = store.checkpointFile(run_id, "teacher");  // checked to be that run's own
    } catch (const StoreError& e) {
      throw ConfigError({{"teacher.source", std::string(e.what())}});
    }
    if (path.empty())
      throw ConfigError({{"teacher.source", "run " + std::to_string(run_id) + " has no saved teacher checkpoint"}});
    config.teacher.model = parseConfig(run->config_yaml, "run " + std::to_string(run_id)).teacher.model;
    if (config.task == "lm") {  // its ids must mean what this run's tokenizer means
      const std::string mismatch = tokenizerMismatch(Tokenizer::forConfig(config.lm), run->environment);
      if (!mismatch.empty())
        throw ConfigError({{"teacher.source", "run " + std::to_string(run_id) + "'s teacher " + mismatch}});
    }
    resolved.weights_path = path;
    resolved.source_run_id = run_id;
    return resolved;
  }
  if (source.rfind("torchscript:", 0) == 0) {
    const std::string path = source.substr(12);
    if (!std::filesystem::is_regular_file(path, ec))
      throw ConfigError({{"teacher.source", "'" + path + "': no such TorchScript file"}});
    return resolved;  // the trainer loads it
  }
  if (!std::filesystem::is_regular_file(source, ec))
    throw ConfigError({{"teacher.source", "'" + source + "': no such teacher file (expected train, run:<id>, hf:<folder>, torchscript:<path> or a .pt path)"}});
  resolved.weights_path = source;
  return resolved;
}
}  // namespace

ResolvedTeacher resolveTeacherSource(ExperimentConfig& config, RunStore& store) {
  ResolvedTeacher resolved = resolveSources(config, store);
  config.teacher.weights = resolved.weights_path;
  return resolved;
}

}  // namespace distill
