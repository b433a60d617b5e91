#include "core/fidelity/run_fidelity.h"

#include <algorithm>

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
  DatasetConfig dataset = config.dataset;
  // Only the test split is analysed; an IDX training split need not be decoded (a CSV file's
  // split depends on every row, so it is loaded whole).
  if (dataset.name == "fashion-mnist" || dataset.name == "mnist" || dataset.name == "idx") dataset.limit_train = 1;
  DatasetSplits data = loadDataset(dataset);
  // A small test split may miss the last classes; the models know how many there are.
  if (const auto it = run->environment.find("num_classes"); it != run->environment.end()) {
    const int64_t classes = std::stoll(it->second);
    for (int64_t c = data.num_classes; c < classes; ++c) data.class_names.push_back(std::to_string(c));
    data.num_classes = std::max(data.num_classes, classes);
  }

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
