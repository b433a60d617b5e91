#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/metrics/metrics.h"
#include "core/models/classifier.h"

namespace distill {
namespace {

TEST(Metrics, AccuracyCountsArgmaxHits) {
  const auto logits = torch::tensor({{3.0, 1.0}, {0.0, 2.0}, {5.0, 4.0}, {1.0, 9.0}});
  EXPECT_DOUBLE_EQ(accuracy(logits, torch::tensor({0, 1, 1, 1})), 0.75);
}

TEST(Metrics, AgreementComparesTopOnePredictions) {
  const auto teacher = torch::tensor({{3.0, 1.0, 0.0}, {0.0, 2.0, 1.0}, {0.0, 0.0, 4.0}, {1.0, 0.0, 0.0}});
  const auto student = torch::tensor({{9.0, 1.0, 0.0}, {3.0, 2.0, 1.0}, {0.0, 0.0, 1.0}, {0.0, 5.0, 0.0}});
  EXPECT_DOUBLE_EQ(topOneAgreement(teacher, student), 0.5);
  EXPECT_DOUBLE_EQ(topOneAgreement(teacher, teacher), 1.0);
}

TEST(Metrics, PredictiveKlOnKnownDistributions) {
  // teacher = (0.5, 0.5), student = (0.25, 0.75): KL = 0.5 ln 2 + 0.5 ln(2/3).
  const auto teacher = torch::tensor({{0.0, 0.0}});
  const auto student = torch::tensor({{std::log(0.25), std::log(0.75)}});
  EXPECT_NEAR(predictiveKl(teacher, student), 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0), 1e-6);
  EXPECT_NEAR(predictiveKl(teacher, teacher), 0.0, 1e-12);
  EXPECT_GT(predictiveKl(student, teacher), 0.0);  // not symmetric, both positive
}

TEST(Metrics, CrossEntropyOfUniformLogitsIsLogClasses) {
  EXPECT_NEAR(crossEntropy(torch::zeros({5, 10}), torch::tensor({0, 1, 2, 3, 4})), std::log(10.0), 1e-9);
}

TEST(Metrics, PredictLogitsChunksWithoutChangingResultOrTrainingMode) {
  torch::manual_seed(0);
  auto model = torch::nn::Linear(4, 3);
  model->train();
  const auto inputs = torch::randn({10, 4});
  const auto chunked = predictLogits(model, inputs, /*chunk=*/3);
  EXPECT_TRUE(torch::allclose(chunked, model->forward(inputs).detach()));
  EXPECT_TRUE(model->is_training());
  EXPECT_FALSE(chunked.requires_grad());
}

TEST(Metrics, EvaluationChunksKeepActivationsUnderTheMmapThreshold) {
  ModelConfig cnn;
  cnn.arch = "cnn";  // 32 channels at 28x28 after the first convolution: 100 KB a sample
  ModelConfig mlp;
  mlp.hidden = {1200, 1200};
  ModelConfig resnet;
  resnet.arch = "resnet";
  resnet.channels = {16, 32};
  resnet.blocks = 1;
  const auto cnn_model = Classifier(cnn, std::vector<int64_t>{1, 28, 28}, 10);
  EXPECT_EQ(cnn_model->widestActivationPerSample(), 32 * 28 * 28);
  EXPECT_EQ(evaluationChunk(*cnn_model), 256);
  EXPECT_EQ(evaluationChunk(*Classifier(mlp, std::vector<int64_t>{1, 28, 28}, 10)), 2048);
  EXPECT_EQ(evaluationChunk(*Classifier(resnet, std::vector<int64_t>{3, 32, 32}, 10)), 512);
  // A model that does not report its activations (a plain module) keeps the old 2048.
  EXPECT_EQ(evaluationChunk(*torch::nn::Linear(4, 3)), 2048);
  // The same logits whatever the chunk.
  torch::manual_seed(0);
  auto model = Classifier(cnn, std::vector<int64_t>{1, 28, 28}, 10);
  const auto inputs = torch::randn({300, 1, 28, 28});
  EXPECT_TRUE(torch::allclose(predictLogits(model, inputs), predictLogits(model, inputs, /*chunk=*/300), 1e-5, 1e-5));
}

}  // namespace
}  // namespace distill
