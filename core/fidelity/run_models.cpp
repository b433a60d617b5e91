#include "core/fidelity/run_models.h"

#include <cctype>
#include <filesystem>

#include "core/errors.h"
#include "core/models/factory.h"
#include "core/store/run_store.h"
#include "core/tasks/teacher_source.h"

namespace distill {

namespace {

bool allDigits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

RunRecord requireRun(RunStore& store, int64_t run_id) {
  auto run = store.getRun(run_id);
  if (!run) throw StoreError("run " + std::to_string(run_id) + " not found in " + store.path());
  return *run;
}

}  // namespace

ModelSpec parseModelSpec(const std::string& text, const std::string& field) {
  ModelSpec spec;
  spec.text = text;
  std::error_code ec;
  // A TorchScript file as configs name it (torchscript:PATH), or by its bare path.
  if (text.rfind("torchscript:", 0) == 0) {
    spec.torchscript_path = text.substr(std::string("torchscript:").size());
    if (!std::filesystem::is_regular_file(spec.torchscript_path, ec))
      throw ConfigError({{field, "'" + spec.torchscript_path + "': no such TorchScript file"}});
    return spec;
  }
  if (std::filesystem::is_regular_file(text, ec)) {
    spec.torchscript_path = text;
    return spec;
  }
  // A run as the command line names it (3, 3:teacher) or as configs do (run:3, run:3:teacher).
  const std::string run = text.rfind("run:", 0) == 0 ? text.substr(4) : text;
  std::string id = run, role = "student";
  if (const auto colon = run.find(':'); colon != std::string::npos) {
    id = run.substr(0, colon);
    role = run.substr(colon + 1);
  }
  if (!allDigits(id) || (role != "student" && role != "teacher") || id.size() > 15 || std::stoll(id) <= 0)
    throw ConfigError({{field, "'" + text + "' is neither a run (RUN, RUN:teacher or RUN:student, e.g. 3:teacher; or "
                               "run:3:teacher) nor an existing TorchScript file (PATH or torchscript:PATH)"}});
  spec.run_id = std::stoll(id);
  spec.role = role;
  return spec;
}

ExperimentConfig storedRunConfig(RunStore& store, int64_t run_id) {
  return parseConfig(requireRun(store, run_id).config_yaml, "run " + std::to_string(run_id));
}

Model loadTorchScriptFile(const std::string& path, const std::vector<int64_t>& input_shape, int64_t num_classes) {
  Model model = buildModel(ModelConfig{}, "torchscript:" + path, input_shape, num_classes);
  model->eval();
  return model;
}

Model loadRunModel(RunStore& store, int64_t run_id, const std::string& role, const std::vector<int64_t>& input_shape,
                   int64_t num_classes) {
  const RunRecord run = requireRun(store, run_id);
  const std::string name = "run " + std::to_string(run_id);
  ExperimentConfig config = parseConfig(run.config_yaml, name);
  const bool teacher = role == "teacher";
  const std::string source = teacher ? config.teacher.source : config.student_source;

  // Checked to be this run's own file (owner tag), never another database's run <id>.
  std::string checkpoint;
  try {
    checkpoint = store.checkpointFile(run_id, role);
  } catch (const StoreError& e) {
    throw ConfigError({{"RUN", std::string(e.what())}});
  }

  Model model;
  if (checkpoint.empty()) {
    if (!teacher || source == "train")
      throw ConfigError({{"RUN", run.status == RunStatus::Running
                                     ? name + " has no " + role + " checkpoint yet (the first is written at the end of "
                                           "its first " + role + " epoch)"
                                     : name + " has no " + role + " checkpoint (it ended before the first " + role +
                                           " epoch did)"}});
    // The teacher came from elsewhere and was never trained here: load it from there.
    const ResolvedTeacher resolved = resolveTeacherSource(config, store);
    if (isTorchScriptSource(config.teacher.source))
      model = buildModel(ModelConfig{}, config.teacher.source, input_shape, num_classes);
    else {
      model = buildModel(config.teacher.model, "init", input_shape, num_classes);
      model->loadCheckpoint(resolved.weights_path);
    }
  } else if (isTorchScriptSource(source)) {
    // A TorchScript model's checkpoint is the trained module itself.
    model = buildModel(ModelConfig{}, "torchscript:" + checkpoint, input_shape, num_classes);
  } else {
    // The stored config already holds the architecture a run:<id> teacher source resolved to.
    model = buildModel(teacher ? config.teacher.model : config.student, "init", input_shape, num_classes);
    try {
      model->loadCheckpoint(checkpoint);  // compares every parameter's shape with the run's config
    } catch (const ModelError& e) {
      throw ModelError(name + " of " + store.path() + ", " + role + ": " + e.what());
    }
  }
  model->to(torch::kCPU);
  model->eval();
  return model;
}

}  // namespace distill
