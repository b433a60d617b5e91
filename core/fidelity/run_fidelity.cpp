#include "core/fidelity/run_fidelity.h"

#include "core/data/dataset.h"
#include "core/errors.h"
#include "core/fidelity/fidelity.h"
#include "core/fidelity/run_models.h"
#include "core/metrics/metrics.h"
#include "core/store/run_store.h"

namespace distill {

RunFidelity analyzeRun(const std::string& database_path, int64_t run_id) {
  RunStore store(database_path, RunStore::Mode::ReadOnly);
  const auto run = store.getRun(run_id);
  if (!run) throw StoreError("run " + std::to_string(run_id) + " not found in " + database_path);
  const ExperimentConfig config = parseConfig(run->config_yaml, "run " + std::to_string(run_id));
  const DatasetSplits data = loadDataset(config.dataset);

  RunFidelity result;
  result.run_id = run_id;
  result.run_name = run->name;
  result.status = statusName(run->status);
  result.dataset = config.dataset.name;
  for (const auto& c : store.checkpoints(run_id))
    if (c.role == "student") result.student_epoch = c.epoch;

  Model teacher = loadRunModel(store, run_id, "teacher", data.input_shape, data.num_classes);
  Model student = loadRunModel(store, run_id, "student", data.input_shape, data.num_classes);
  const auto teacher_logits = predictLogits(teacher, data.test.inputs);
  const auto student_logits = predictLogits(student, data.test.inputs);
  result.analysis = analyzeFidelity(teacher_logits, student_logits, data.test.targets, data.class_names);

  if (data.input_shape.size() == 3) {
    result.image_shape = data.input_shape;
    for (const auto& d : result.analysis.disagreements) {
      const auto pixels = data.test.inputs[d.index]
                              .mul(config.dataset.std)
                              .add(config.dataset.mean)
                              .clamp(0.0, 1.0)
                              .to(torch::kFloat32)
                              .contiguous();
      result.disagreement_images.emplace_back(pixels.data_ptr<float>(), pixels.data_ptr<float>() + pixels.numel());
    }
  }
  return result;
}

}  // namespace distill
