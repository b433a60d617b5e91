#include <gtest/gtest.h>
#include <torch/script.h>

#include <fstream>

#include "core/config/config.h"
#include "core/tasks/image/image_task.h"
#include "core/data/dataset.h"
#include "core/errors.h"
#include "core/models/factory.h"
#include "core/models/torchscript_model.h"
#include "core/train/trainer.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

// Writes a real TorchScript file with LibTorch's own API (what torch.jit.script(...).save()
// produces in Python): a linear classifier over flattened inputs.
void writeLinearTorchScript(const std::string& path, int64_t features, int64_t classes, uint64_t seed = 0) {
  torch::manual_seed(seed);
  torch::jit::Module module("LinearProbe");
  module.register_parameter("weight", torch::randn({classes, features}) * 0.01, /*is_buffer=*/false);
  module.register_parameter("bias", torch::zeros({classes}), /*is_buffer=*/false);
  module.define(R"(
def forward(self, x):
    return torch.matmul(x.flatten(1), self.weight.t()) + self.bias
)");
  module.save(path);
}

std::string modelError(const std::string& source, std::vector<int64_t> shape, int64_t classes) {
  try {
    buildModel(ModelConfig{}, source, shape, classes);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

TEST(TorchScriptModel, LoadsAModuleAndReturnsLogits) {
  TempDir dir;
  writeLinearTorchScript(dir.file("probe.pt"), 784, 10);
  auto model = buildModel(ModelConfig{}, "torchscript:" + dir.file("probe.pt"), {1, 28, 28}, 10);
  EXPECT_EQ(model->forward(torch::randn({5, 1, 28, 28})).sizes(), (std::vector<int64_t>{5, 10}));
  EXPECT_EQ(model->parameterCount(), 7850);
  EXPECT_NE(model->summary().find("TorchScript"), std::string::npos);
}

TEST(TorchScriptModel, WrongOutputShapeIsRefusedBeforeTraining) {
  TempDir dir;
  writeLinearTorchScript(dir.file("seven.pt"), 784, 7);
  const auto message = modelError("torchscript:" + dir.file("seven.pt"), {1, 28, 28}, 10);
  EXPECT_NE(message.find("seven.pt"), std::string::npos) << message;
  EXPECT_NE(message.find("[2, 7]"), std::string::npos) << message;
  EXPECT_NE(message.find("[N, 10]"), std::string::npos) << message;
}

TEST(TorchScriptModel, WrongInputShapeIsRefused) {
  TempDir dir;
  writeLinearTorchScript(dir.file("cifar.pt"), 3 * 32 * 32, 10);
  EXPECT_NE(modelError("torchscript:" + dir.file("cifar.pt"), {1, 28, 28}, 10).find("fails on an input of shape [2, 1, 28, 28]"),
            std::string::npos);
}

TEST(TorchScriptModel, AFileThatIsNotTorchScriptIsRefused) {
  TempDir dir;
  std::ofstream(dir.file("weights.pt")) << "not a zip archive";
  EXPECT_NE(modelError("torchscript:" + dir.file("weights.pt"), {1, 28, 28}, 10).find("not a TorchScript file"),
            std::string::npos);
  EXPECT_NE(modelError("torchscript:" + dir.file("missing.pt"), {1, 28, 28}, 10).find("missing.pt"), std::string::npos);
}

TEST(TorchScriptModel, IsTrainableAndSavesTorchScriptBack) {
  TempDir dir;
  writeLinearTorchScript(dir.file("student.pt"), 784, 10);
  auto model = buildModel(ModelConfig{}, "torchscript:" + dir.file("student.pt"), {1, 28, 28}, 10);
  const auto x = torch::randn({8, 1, 28, 28});
  const auto before = model->forward(x).detach().clone();
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.5));
  torch::nn::functional::cross_entropy(model->forward(x), torch::zeros({8}, torch::kInt64)).backward();
  optimizer.step();
  const auto after = model->forward(x).detach();
  EXPECT_FALSE(torch::allclose(before, after)) << "the optimizer must reach the module's own parameters";

  model->saveCheckpoint(dir.file("trained.pt"));
  auto reloaded = torch::jit::load(dir.file("trained.pt"));  // what Python's torch.jit.load sees
  EXPECT_TRUE(torch::allclose(reloaded.forward({x}).toTensor(), after));
}

TEST(TorchScriptModel, TeacherDistilsIntoAWorkbenchStudentEndToEnd) {
  TempDir dir;
  testing::writeToyIdxDataset(dir.path() / "data", 400, 100, 4, false);
  // A teacher exported elsewhere: train a linear probe here and save it as TorchScript.
  auto config = parseConfigWithOverrides(
      "", {"dataset.name=idx", "dataset.path=" + (dir.path() / "data").string(), "student.hidden=[16]",
           "teacher.hidden=[]", "teacher.epochs=3", "train.epochs=2", "train.batch_size=32", "train.lr=0.1"});
  const auto data = loadDataset(config.dataset);
  writeLinearTorchScript(dir.file("teacher.pt"), 784, 4);
  {
    auto teacher = buildModel(ModelConfig{}, "torchscript:" + dir.file("teacher.pt"), data.input_shape, 4);
    torch::optim::SGD optimizer(teacher->parameters(), torch::optim::SGDOptions(0.1));
    for (int epoch = 0; epoch < 20; ++epoch) {
      optimizer.zero_grad();
      torch::nn::functional::cross_entropy(teacher->forward(data.train.inputs), data.train.targets).backward();
      optimizer.step();
    }
    teacher->saveCheckpoint(dir.file("teacher.pt"));
  }
  config.teacher.source = "torchscript:" + dir.file("teacher.pt");
  class Counter : public TrainingObserver {
   public:
    std::map<std::string, int> counts;
    void onMetrics(const std::vector<MetricPoint>& points) override {
      for (const auto& p : points) ++counts[p.key];
    }
  } counter;
  RunControl control;
  ImageTask task(config, data);
  Trainer trainer(config, task, {}, counter, control);
  const auto result = trainer.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  EXPECT_EQ(counter.counts["train/teacher_loss"], 0) << "a TorchScript teacher is not retrained";
  EXPECT_GT(result.final.at("eval/teacher_acc"), 0.8);
  EXPECT_GT(result.final.at("eval/agreement"), 0.8);
}

}  // namespace
}  // namespace distill
