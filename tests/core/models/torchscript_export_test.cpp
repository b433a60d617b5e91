#include <gtest/gtest.h>
#include <torch/script.h>

#include "core/errors.h"
#include "core/models/classifier.h"
#include "core/models/factory.h"
#include "core/models/torchscript_export.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

const std::vector<int64_t> kImage{1, 28, 28};

struct ExportCase {
  std::string label;
  ModelConfig config;
  std::vector<int64_t> input_shape;
};

ModelConfig architecture(const std::string& arch, const std::string& activation, const std::string& pool = "max") {
  ModelConfig c;
  c.arch = arch;
  c.activation = activation;
  c.pool = pool;
  if (arch == "mlp") {
    c.hidden = {32, 16};
    c.dropout = 0.3;
  } else if (arch == "cnn") {
    c.channels = {4, 8};
    c.hidden = {16};
    c.dropout = 0.2;
  } else {
    c.channels = {4, 8};  // the second stage halves the resolution: a 1x1 projection shortcut
    c.blocks = 2;         // and an identity one
    c.hidden = {12};
  }
  return c;
}

std::vector<ExportCase> exportCases() {
  std::vector<ExportCase> cases;
  for (const std::string activation : {"relu", "gelu", "tanh", "sigmoid", "leaky_relu", "silu"}) {
    cases.push_back({"mlp_" + activation, architecture("mlp", activation), kImage});
    for (const std::string pool : {"max", "avg"})
      cases.push_back({"cnn_" + pool + "_" + activation, architecture("cnn", activation, pool), kImage});
  }
  cases.push_back({"resnet_relu", architecture("resnet", "relu"), {3, 12, 12}});
  cases.push_back({"resnet_gelu_head", architecture("resnet", "gelu"), {1, 28, 28}});
  cases.push_back({"mlp_tabular", architecture("mlp", "relu"), {7}});
  return cases;
}

torch::Tensor batchOf(const std::vector<int64_t>& input_shape, int64_t n) {
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  return torch::randn(shape);
}

// Moves batch-norm running statistics away from their initial 0/1, so that a mix-up of
// running and batch statistics, or of mean and variance, shows in the logits.
void exerciseBatchNorm(Classifier& model, const std::vector<int64_t>& input_shape) {
  torch::NoGradGuard no_grad;
  model->train();
  for (int i = 0; i < 3; ++i) model->forward(batchOf(input_shape, 16) * 2.0 + 0.5);
}

class TorchScriptExport : public ::testing::TestWithParam<ExportCase> {};

TEST_P(TorchScriptExport, GivesTheNativeEvalLogits) {
  const auto& c = GetParam();
  torch::manual_seed(3);
  Classifier model(c.config, c.input_shape, 10);
  exerciseBatchNorm(model, c.input_shape);
  model->eval();
  auto exported = toTorchScript(*model);
  EXPECT_FALSE(exported.is_training());

  torch::NoGradGuard no_grad;
  const auto inputs = batchOf(c.input_shape, 9);
  const auto expected = model->forward(inputs);
  const auto actual = exported.forward({inputs}).toTensor();
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(actual, expected, /*rtol=*/1e-5, /*atol=*/1e-5))
      << "max difference " << (actual - expected).abs().max().item<double>();

  int64_t exported_count = 0;
  for (const auto& p : exported.parameters()) exported_count += p.numel();
  EXPECT_EQ(exported_count, model->parameterCount());
}

INSTANTIATE_TEST_SUITE_P(Architectures, TorchScriptExport, ::testing::ValuesIn(exportCases()),
                         [](const auto& info) { return info.param.label; });

TEST(TorchScriptExportFile, RoundTripsThroughAFileAndServesAsAWorkbenchModel) {
  TempDir dir;
  torch::manual_seed(5);
  const ModelConfig config = architecture("resnet", "relu");
  Classifier model(config, kImage, 10);
  exerciseBatchNorm(model, kImage);
  model->eval();
  exportTorchScript(*model, dir.file("student.ts"));

  torch::NoGradGuard no_grad;
  const auto inputs = batchOf(kImage, 4);
  const auto expected = model->forward(inputs);
  auto loaded = torch::jit::load(dir.file("student.ts"));
  EXPECT_FALSE(loaded.is_training());
  EXPECT_TRUE(torch::allclose(loaded.forward({inputs}).toTensor(), expected, 1e-5, 1e-5));

  // The same file is a valid torchscript: source, e.g. a teacher for the next run.
  auto reloaded = buildModel(ModelConfig{}, "torchscript:" + dir.file("student.ts"), kImage, 10);
  reloaded->eval();
  EXPECT_TRUE(torch::allclose(reloaded->forward(inputs), expected, 1e-5, 1e-5));
  EXPECT_EQ(reloaded->parameterCount(), model->parameterCount());
}

TEST(TorchScriptExportFile, TrainModeUsesBatchStatisticsLikeTheNativeModel) {
  torch::manual_seed(7);
  ModelConfig config = architecture("resnet", "relu");
  config.hidden.clear();  // no dropout anywhere: train-mode outputs are deterministic
  const std::vector<int64_t> shape{2, 8, 8};
  Classifier model(config, shape, 10);
  auto exported = toTorchScript(*model);
  model->train();
  exported.train();
  torch::NoGradGuard no_grad;
  const auto inputs = batchOf(shape, 6) * 3.0 + 1.0;
  EXPECT_TRUE(torch::allclose(exported.forward({inputs}).toTensor(), model->forward(inputs), 1e-5, 1e-5));
  // Both updated their running statistics the same way.
  EXPECT_TRUE(torch::allclose(exported.attr("layers_1_running_mean").toTensor(), model->named_buffers()["layers.1.running_mean"]));
  EXPECT_EQ(exported.attr("layers_1_num_batches_tracked").toTensor().item<int64_t>(), 1);
}

TEST(TorchScriptExportFile, ExportedWeightsAreACopy) {
  torch::manual_seed(9);
  Classifier model(architecture("mlp", "relu"), kImage, 10);
  auto exported = toTorchScript(*model);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.zero_();
  }
  double total = 0;
  for (const auto& p : exported.parameters()) {
    EXPECT_TRUE(p.requires_grad());
    total += p.abs().sum().item<double>();
  }
  EXPECT_GT(total, 0.0);
}

TEST(TorchScriptExportFile, AnUnwritablePathIsAModelErrorNamingIt) {
  Classifier model(architecture("mlp", "relu"), kImage, 10);
  try {
    exportTorchScript(*model, "/nonexistent-folder/student.ts");
    FAIL() << "expected ModelError";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-folder/student.ts"), std::string::npos) << e.what();
  }
}

TEST(TorchScriptExportFile, ATorchScriptStudentIsWrittenAsItself) {
  TempDir dir;
  torch::jit::Module probe("LinearProbe");
  probe.register_parameter("weight", torch::randn({10, 784}) * 0.01, /*is_buffer=*/false);
  probe.register_parameter("bias", torch::zeros({10}), /*is_buffer=*/false);
  probe.define("def forward(self, x):\n    return torch.matmul(x.flatten(1), self.weight.t()) + self.bias\n");
  probe.save(dir.file("probe.pt"));
  auto model = buildModel(ModelConfig{}, "torchscript:" + dir.file("probe.pt"), kImage, 10);
  exportTorchScript(*model, dir.file("copy.pt"));
  auto copy = torch::jit::load(dir.file("copy.pt"));
  torch::NoGradGuard no_grad;
  const auto inputs = batchOf(kImage, 3);
  EXPECT_TRUE(torch::allclose(copy.forward({inputs}).toTensor(), model->forward(inputs)));
}

}  // namespace
}  // namespace distill
