// Gradient checkpointing (core/models/gradient_checkpoint.h) on the lm decoders: the gradients
// of every parameter are those of the plain model (to 1e-6), dropout included (the generators'
// states are replayed), and a run through the config key trains the same loss curve.
#include "core/models/gradient_checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/metrics/metric_keys.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/lm/llama.h"
#include "support/lm_test_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::lmConfig;
using testing::runLm;
using testing::TempDir;
using testing::writeCorpus;

GptConfig tinyGpt(double dropout) {
  GptConfig c;
  c.vocab = 64;
  c.context = 16;
  c.layers = 3;
  c.heads = 2;
  c.d_model = 32;
  c.dropout = dropout;
  return c;
}

LlamaConfig tinyLlama(double dropout) {
  LlamaConfig c;
  c.family = LlamaFamily::Qwen2;
  c.vocab = 64;
  c.context = 16;
  c.layers = 3;
  c.d_model = 32;
  c.heads = 4;
  c.kv_heads = 2;  // grouped-query attention
  c.head_dim = 8;
  c.intermediate = 48;
  c.qkv_bias = true;
  c.attention_dropout = dropout;
  return c;
}

// Two models with the same weights (the same seed before each build).
std::shared_ptr<CausalLmImpl> build(const std::function<Model()>& make) {
  torch::manual_seed(7);
  return std::dynamic_pointer_cast<CausalLmImpl>(make());
}

// The gradient of every parameter after one training-mode cross-entropy step on fixed tokens,
// the generators seeded alike before it; and the loss.
struct Step {
  std::map<std::string, torch::Tensor> gradients;
  double loss = 0.0;
};

Step gradientsOf(CausalLmImpl& model, const torch::Tensor& tokens, const torch::Tensor& targets) {
  model.train();
  model.zero_grad();
  torch::manual_seed(123);
  const auto logits = model.forward(tokens);  // (B, T, V)
  const auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}));
  loss.backward();
  Step step;
  step.loss = loss.item<double>();
  for (const auto& item : model.named_parameters()) step.gradients[item.key()] = item.value().grad().clone();
  return step;
}

// Whether the logits' graph holds the checkpoint's node (so that the comparisons below compare
// two different computations, not the plain one twice).
bool graphHasCheckpoint(const torch::Tensor& output) {
  std::vector<torch::autograd::Node*> pending{output.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  while (!pending.empty()) {
    auto* node = pending.back();
    pending.pop_back();
    if (!node || !seen.insert(node).second) continue;
    if (node->name().find("CheckpointFunction") != std::string::npos) return true;
    for (const auto& edge : node->next_edges()) pending.push_back(edge.function.get());
  }
  return false;
}

void expectSameGradients(const std::function<Model()>& make) {
  auto plain = build(make);
  auto checkpointing = build(make);
  checkpointing->setGradientCheckpointing(true);
  torch::manual_seed(1);
  const auto tokens = torch::randint(64, {3, 16}, torch::kLong);
  const auto targets = torch::randint(64, {3, 16}, torch::kLong);

  const Step expected = gradientsOf(*plain, tokens, targets);
  const Step got = gradientsOf(*checkpointing, tokens, targets);
  EXPECT_NEAR(got.loss, expected.loss, 1e-6);
  ASSERT_EQ(got.gradients.size(), expected.gradients.size());
  for (const auto& [name, gradient] : expected.gradients) {
    ASSERT_TRUE(got.gradients.at(name).defined()) << name;
    ASSERT_GT(gradient.abs().max().item<double>(), 0.0) << name << " has no gradient to compare";
    EXPECT_LE((got.gradients.at(name) - gradient).abs().max().item<double>(), 1e-6) << name;
  }
  torch::manual_seed(123);
  EXPECT_TRUE(graphHasCheckpoint(checkpointing->forward(tokens)));
  EXPECT_FALSE(graphHasCheckpoint(plain->forward(tokens)));
}

class GradientCheckpointDropout : public ::testing::TestWithParam<double> {};

TEST_P(GradientCheckpointDropout, GptGradientsAreThoseWithoutIt) {
  expectSameGradients([] { return makeGpt(tinyGpt(GetParam())); });
}

TEST_P(GradientCheckpointDropout, LlamaGradientsAreThoseWithoutIt) {
  expectSameGradients([] { return makeLlama(tinyLlama(GetParam())); });
}

// 0: no randomness; 0.3: the dropout masks of the recomputation must be the first pass's.
INSTANTIATE_TEST_SUITE_P(Dropout, GradientCheckpointDropout, ::testing::Values(0.0, 0.3));

TEST(GradientCheckpoint, TheBlockRunsTwiceAndTheGeneratorContinuesAsWithoutIt) {
  const auto weight = torch::randn({8, 8}).requires_grad_(true);
  int calls = 0;
  auto block = [&](const torch::Tensor& x) {
    ++calls;
    return torch::dropout(torch::tanh(x.matmul(weight)), /*p=*/0.5, /*train=*/true) + x;
  };
  const auto input = torch::randn({4, 8}).requires_grad_(true);

  torch::manual_seed(5);
  block(input).pow(2).sum().backward();
  const auto weight_gradient = weight.grad().clone(), input_gradient = input.grad().clone();
  const auto next_draw = torch::rand({4});
  EXPECT_EQ(calls, 1);

  weight.mutable_grad().reset();
  input.mutable_grad().reset();
  torch::manual_seed(5);
  checkpointed(block, input, {weight}).pow(2).sum().backward();
  EXPECT_EQ(calls, 3);  // the first pass and the recomputation
  EXPECT_TRUE(torch::allclose(weight.grad(), weight_gradient, /*rtol=*/0, /*atol=*/1e-6));
  EXPECT_TRUE(torch::allclose(input.grad(), input_gradient, /*rtol=*/0, /*atol=*/1e-6));
  // The replay put the generator back: the next draw is the one after the plain step.
  EXPECT_TRUE(torch::equal(torch::rand({4}), next_draw));

  // Without gradients the block runs once, plainly.
  torch::NoGradGuard no_grad;
  const auto plain = checkpointed(block, input, {weight});
  EXPECT_EQ(calls, 4);
  EXPECT_FALSE(plain.requires_grad());
}

TEST(GradientCheckpoint, EvaluationAndDecodingAreUnchanged) {
  auto plain = build([] { return makeGpt(tinyGpt(0.1)); });
  auto checkpointing = build([] { return makeGpt(tinyGpt(0.1)); });
  checkpointing->setGradientCheckpointing(true);
  plain->eval();
  checkpointing->eval();
  const auto tokens = torch::randint(64, {2, 16}, torch::kLong);
  const auto logits = checkpointing->forward(tokens);
  EXPECT_FALSE(graphHasCheckpoint(logits));  // eval mode: not checkpointed
  EXPECT_TRUE(torch::equal(logits, plain->forward(tokens)));
  auto cache = checkpointing->newCache();
  EXPECT_TRUE(torch::allclose(checkpointing->forwardCached(tokens, cache), logits, /*rtol=*/1e-5, /*atol=*/1e-5));
}

// student.gradient_checkpointing through a whole distillation run (student dropout on): the same
// training loss at every logged step as without it.
TEST(GradientCheckpoint, TheConfigKeyTrainsTheSameLossCurve) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const std::vector<std::string> common{"teacher.epochs=1",    "train.epochs=1", "train.log_every=1",
                                        "student.layers=2",    "student.dropout=0.1",
                                        "generation.eval_prompts=0"};
  auto with = common;
  with.push_back("student.gradient_checkpointing=true");
  std::filesystem::create_directories(dir.path() / "plain");
  std::filesystem::create_directories(dir.path() / "checkpointing");
  const auto plain = runLm(dir.path() / "plain", lmConfig(corpus, common));
  const auto checkpointing = runLm(dir.path() / "checkpointing", lmConfig(corpus, with));
  ASSERT_EQ(plain.result.outcome, RunOutcome::Completed) << plain.result.error;
  ASSERT_EQ(checkpointing.result.outcome, RunOutcome::Completed) << checkpointing.result.error;
  const auto& expected = plain.series.at(metric_key::kStudentTrainLoss);
  const auto& got = checkpointing.series.at(metric_key::kStudentTrainLoss);
  ASSERT_EQ(got.size(), expected.size());
  ASSERT_GE(expected.size(), 5u);
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(got[i].value, expected[i].value, 1e-6 * expected[i].value) << "step " << expected[i].step;
  EXPECT_EQ(checkpointing.run.params.at("student.gradient_checkpointing"), "true");
}

}  // namespace
}  // namespace distill
