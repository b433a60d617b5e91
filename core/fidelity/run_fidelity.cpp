#include "core/fidelity/run_fidelity.h"

#include <algorithm>
#include <chrono>

#include "core/data/dataset.h"
#include "core/errors.h"
#include "core/fidelity/fidelity.h"
#include "core/fidelity/lm_fidelity.h"
#include "core/fidelity/run_models.h"
#include "core/metrics/metrics.h"
#include "core/store/run_store.h"
#include "core/tasks/lm/stored_model.h"

namespace distill {

namespace {

// The run's validation blocks as its evaluation cut them (the same documents, tokenizer,
// context and dataset.limit_test), at most options.max_blocks of them picked evenly, through
// both models a chunk at a time.
void analyzeLmRun(RunStore& store, const ExperimentConfig& config, const FidelityOptions& options,
                  RunFidelity& result) {
  const auto start = std::chrono::steady_clock::now();
  if (options.max_blocks < 0)
    throw ConfigError({{"--blocks", "expected 0 (all) or a positive number of blocks, got " +
                                        std::to_string(options.max_blocks)}});
  StoredLm teacher = loadStoredLm(store, result.run_id, "teacher");
  StoredLm student = loadStoredLm(store, result.run_id, "student");
  const Tokenizer& tokenizer = student.tokenizer;
  const std::string corpus = config.lm.corpus.empty() ? std::string(kFortunesFolder) : config.lm.corpus;
  result.dataset = corpus;
  const DocumentSplit split =
      splitDocuments(readDocuments(corpus, {config.lm.text_field, config.lm.prompt_field, config.lm.response_field}));
  const TokenBlocks validation = packBlocks(split.validation, tokenizer, config.lm.context, config.dataset.limit_test,
                                            corpus + " (validation documents)");
  const int64_t available = validation.inputs.size(0);
  const int64_t analysed = options.max_blocks > 0 ? std::min(available, options.max_blocks) : available;
  std::vector<int64_t> picked;
  for (int64_t i = 0; i < analysed; ++i) picked.push_back(i * available / analysed);  // evenly, from the first

  // Over the tokenizer's ids: a model's vocabulary may have more rows (a Hugging Face model's
  // padding, core/tasks/lm/lm_task.h), which are no tokens (core/fidelity/lm_fidelity.h).
  FrequencyBuckets frequency = frequencyBuckets(tokenCounts(split.train.texts, tokenizer));
  const int64_t train_tokens = frequency.total;
  LmFidelitySums sums(config.lm.context, std::move(frequency), options.disagreements);
  const int64_t chunk = std::max<int64_t>(1, std::min(evaluationChunk(*teacher.model), evaluationChunk(*student.model)));
  torch::NoGradGuard no_grad;
  for (size_t begin = 0; begin < picked.size(); begin += static_cast<size_t>(chunk)) {
    const std::vector<int64_t> ids(picked.begin() + static_cast<std::ptrdiff_t>(begin),
                                   picked.begin() + static_cast<std::ptrdiff_t>(
                                                        std::min(picked.size(), begin + static_cast<size_t>(chunk))));
    const auto index = torch::tensor(ids, torch::kInt64);
    const auto inputs = validation.inputs.index_select(0, index);
    sums.add(teacher.model->forward(inputs), student.model->forward(inputs), inputs,
             validation.targets.index_select(0, index),
             validation.mask.defined() ? validation.mask.index_select(0, index) : torch::Tensor(), ids);
  }
  result.lm = sums.result(tokenizer);
  result.lm.blocks = analysed;
  result.lm.blocks_available = available;
  result.lm.train_tokens = train_tokens;
  result.lm.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

RunFidelity analyzeRun(const std::string& database_path, int64_t run_id, const FidelityOptions& options) {
  RunStore store(database_path, RunStore::Mode::ReadOnly);
  const auto run = store.getRun(run_id);
  if (!run) throw StoreError("run " + std::to_string(run_id) + " not found in " + database_path);
  const ExperimentConfig config = parseConfig(run->config_yaml, "run " + std::to_string(run_id));
  if (config.task == "lm") {
    RunFidelity result;
    result.run_id = run_id;
    result.run_name = run->name;
    result.status = statusName(run->status);
    result.task = "lm";
    for (const auto& c : store.checkpoints(run_id))
      if (c.role == "student") result.student_epoch = c.epoch;
    analyzeLmRun(store, config, options, result);
    return result;
  }
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
