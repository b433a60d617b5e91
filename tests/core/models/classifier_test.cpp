#include <gtest/gtest.h>

#include "core/errors.h"
#include "core/models/classifier.h"
#include "support/test_support.h"

namespace distill {
namespace {

const std::vector<int64_t> kImage{1, 28, 28};

ModelConfig mlp(std::vector<int64_t> hidden, double dropout = 0.0) {
  ModelConfig c;
  c.arch = "mlp";
  c.hidden = std::move(hidden);
  c.dropout = dropout;
  return c;
}

TEST(Classifier, MlpMapsImagesToLogitsWithExpectedParameterCount) {
  Classifier model(mlp({1200, 1200}), kImage, 10);
  EXPECT_EQ(model->forward(torch::zeros({5, 1, 28, 28})).sizes(), (std::vector<int64_t>{5, 10}));
  EXPECT_EQ(model->parameterCount(), 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10);
  EXPECT_EQ(model->forwardMacsPerSample(), 784 * 1200 + 1200 * 1200 + 1200 * 10);
}

TEST(Classifier, CnnMapsImagesToLogits) {
  ModelConfig c;
  c.arch = "cnn";
  c.channels = {8, 16};
  c.kernel = 3;
  c.hidden = {32};
  for (const char* pool : {"max", "avg"}) {
    c.pool = pool;
    Classifier model(c, kImage, 7);
    EXPECT_EQ(model->forward(torch::randn({3, 1, 28, 28})).sizes(), (std::vector<int64_t>{3, 7}));
    // conv1 + conv2 + dense(16*7*7 -> 32) + out(32 -> 7)
    EXPECT_EQ(model->parameterCount(), (1 * 8 * 9 + 8) + (8 * 16 * 9 + 16) + (16 * 49 * 32 + 32) + (32 * 7 + 7));
  }
}

TEST(Classifier, DropoutOnlyActsInTraining) {
  torch::manual_seed(1);
  Classifier model(mlp({64}, 0.5), kImage, 10);
  const auto x = torch::randn({4, 1, 28, 28});
  model->eval();
  EXPECT_TRUE(torch::equal(model->forward(x), model->forward(x)));
  model->train();
  EXPECT_FALSE(torch::equal(model->forward(x), model->forward(x)));
}

TEST(Classifier, WeightsRoundTripAndWrongArchitectureIsRefused) {
  testing::TempDir dir;
  torch::manual_seed(3);
  Classifier saved(mlp({32}), kImage, 10);
  saveWeights(saved, dir.file("m.pt"));
  Classifier loaded(mlp({32}), kImage, 10);
  loadWeights(loaded, dir.file("m.pt"));
  const auto x = torch::randn({2, 1, 28, 28});
  EXPECT_TRUE(torch::equal(saved->forward(x), loaded->forward(x)));

  Classifier other(mlp({64}), kImage, 10);
  EXPECT_THROW(loadWeights(other, dir.file("m.pt")), ModelError);
  EXPECT_THROW(loadWeights(loaded, dir.file("missing.pt")), ModelError);
}

}  // namespace
}  // namespace distill

namespace distill {
namespace {

TEST(Classifier, ResNetMapsImagesToLogitsAndDownsamplesPerStage) {
  ModelConfig c;
  c.arch = "resnet";
  c.channels = {8, 16};
  c.blocks = 2;
  c.hidden = {};
  Classifier model(c, std::vector<int64_t>{3, 32, 32}, 10);
  EXPECT_EQ(model->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(model->hiddenCount(), 2);
  const auto [logits, stage2] = model->forwardWithFeature(torch::randn({2, 3, 32, 32}), -1);
  EXPECT_EQ(stage2.sizes(), (std::vector<int64_t>{2, 16, 16, 16}));
  const auto [unused, stage1] = model->forwardWithFeature(torch::randn({2, 3, 32, 32}), 0);
  EXPECT_EQ(stage1.sizes(), (std::vector<int64_t>{2, 8, 32, 32}));
  EXPECT_NE(model->summary().find("ResNet"), std::string::npos);
  EXPECT_GT(model->forwardMacsPerSample(), 0);
}

TEST(Classifier, FeaturesOfAnMlpAreItsHiddenActivations) {
  torch::manual_seed(0);
  ModelConfig c;
  c.hidden = {32, 16};
  Classifier model(c, std::vector<int64_t>{1, 28, 28}, 10);
  model->eval();
  const auto x = torch::randn({3, 1, 28, 28});
  const auto [logits, last] = model->forwardWithFeature(x, -1);
  EXPECT_TRUE(torch::allclose(logits, model->forward(x)));
  EXPECT_EQ(last.sizes(), (std::vector<int64_t>{3, 16}));
  EXPECT_EQ(model->forwardWithFeature(x, 0).second.sizes(), (std::vector<int64_t>{3, 32}));
  EXPECT_GE(last.min().item<float>(), 0.0f);  // after the ReLU
  EXPECT_THROW(model->forwardWithFeature(x, 2), ModelError);
}

}  // namespace
}  // namespace distill
