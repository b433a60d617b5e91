// The optimised training loop (gradients released instead of zeroed, losses summed on the
// device and read once per log, the epoch order moved to the data once per epoch) must
// compute exactly the run of the plain loop (TrainerOptions::reference_loop): the same
// weights bit for bit, the same logged losses and evaluations, for the same seed.
#include <gtest/gtest.h>

#include "core/config/config.h"
#include "core/tasks/image/image_task.h"
#include "core/data/dataset.h"
#include "core/models/factory.h"
#include "core/train/trainer.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

class Series : public TrainingObserver {
 public:
  std::map<std::string, std::vector<MetricPoint>> series;
  void onMetrics(const std::vector<MetricPoint>& points) override {
    for (const auto& p : points) series[p.key].push_back(p);
  }
};

struct LoopCase {
  const char* name;
  std::vector<std::string> overrides;
};

class OptimisedLoopTest : public ::testing::TestWithParam<LoopCase> {};

// Runs the experiment with one loop or the other; returns the metric series and leaves the
// checkpoints in `artifacts`.
std::map<std::string, std::vector<MetricPoint>> runWith(const ExperimentConfig& config, const DatasetSplits& data,
                                                        const std::string& artifacts, bool reference_loop) {
  Series series;
  RunControl control;
  TrainerOptions options;
  options.artifacts_dir = artifacts;
  options.reference_loop = reference_loop;
  ImageTask task(config, data);
  Trainer trainer(config, task, options, series, control);
  const auto result = trainer.run();
  EXPECT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  return series.series;
}

void expectSameWeights(const ModelConfig& model_config, const DatasetSplits& data, const std::string& a,
                       const std::string& b) {
  Model first = buildModel(model_config, "init", data.input_shape, data.num_classes);
  Model second = buildModel(model_config, "init", data.input_shape, data.num_classes);
  first->loadCheckpoint(a);
  second->loadCheckpoint(b);
  const auto p = first->named_parameters(), q = second->named_parameters();
  ASSERT_EQ(p.size(), q.size());
  for (const auto& item : p) {
    const auto& other = q[item.key()];
    EXPECT_TRUE(torch::equal(item.value(), other)) << a << " vs " << b << ": " << item.key() << " differs by up to "
                                                   << (item.value() - other).abs().max().item<double>();
  }
}

TEST_P(OptimisedLoopTest, GivesThePlainLoopsRunBitForBit) {
  TempDir dir;
  testing::writeToyIdxDataset(dir.path() / "data", 400, 120, 4, false);
  std::vector<std::string> overrides{"dataset.name=idx",   "dataset.path=" + (dir.path() / "data").string(),
                                     "teacher.hidden=[48]", "teacher.dropout=0.2",
                                     "teacher.epochs=2",    "student.hidden=[24]",
                                     "train.epochs=2",      "train.batch_size=32",
                                     "train.log_every=4",   "seed=11"};
  for (const auto& o : GetParam().overrides) overrides.push_back(o);
  const ExperimentConfig config = parseConfigWithOverrides("", overrides);
  const DatasetSplits data = loadDataset(config.dataset);

  const auto fast = runWith(config, data, (dir.path() / "fast").string(), false);
  const auto plain = runWith(config, data, (dir.path() / "plain").string(), true);

  ASSERT_EQ(fast.size(), plain.size());
  for (const auto& [key, points] : plain) {
    if (key == "perf/samples_per_s") continue;  // wall-clock
    ASSERT_TRUE(fast.count(key)) << key;
    const auto& other = fast.at(key);
    ASSERT_EQ(other.size(), points.size()) << key;
    for (size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(other[i].step, points[i].step) << key;
      // Exact equality on purpose: the optimisations may not change a single bit.
      EXPECT_EQ(other[i].value, points[i].value) << key << " at step " << points[i].step;
    }
  }
  EXPECT_FALSE(plain.at("train/student_loss").empty());
  expectSameWeights(config.teacher.model, data, (dir.path() / "fast" / "teacher.pt").string(),
                    (dir.path() / "plain" / "teacher.pt").string());
  expectSameWeights(config.student, data, (dir.path() / "fast" / "student.pt").string(),
                    (dir.path() / "plain" / "student.pt").string());
}

INSTANTIATE_TEST_SUITE_P(
    Loops, OptimisedLoopTest,
    ::testing::Values(LoopCase{"KdWithLogitCache", {}},
                      LoopCase{"KdWithoutLogitCache", {"distill.teacher_cache=off"}},
                      LoopCase{"AdamWWithStepSchedule",
                               {"train.optimizer=adamw", "train.lr=0.003", "train.schedule=step", "train.step_size=1"}},
                      LoopCase{"FitNetHints", {"distill.method=fitnet"}},
                      LoopCase{"AugmentedCnnTeacher",
                               {"teacher.arch=cnn", "teacher.channels=[4]", "teacher.hidden=[16]", "dataset.augment=true"}}),
    [](const ::testing::TestParamInfo<LoopCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace distill
