// keepEveryKthBlock (core/hf/layer_subset.h): a student made of every k-th block of its
// teacher holds exactly those blocks' weights and the teacher's embeddings and head; k = 1
// reproduces the teacher's logits; a bad k is refused.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <string>

#include "core/errors.h"
#include "core/hf/layer_subset.h"
#include "core/tasks/lm/causal_lm.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/lm/llama.h"

namespace distill {
namespace {

Model tinyLlama(int64_t layers) {
  LlamaConfig c;
  c.family = LlamaFamily::Qwen2;
  c.vocab = 50;
  c.context = 16;
  c.layers = layers;
  c.d_model = 32;
  c.heads = 4;
  c.kv_heads = 2;
  c.head_dim = 8;
  c.intermediate = 48;
  c.qkv_bias = true;
  return makeLlama(c);
}

Model tinyGpt(int64_t layers) {
  GptConfig c;
  c.vocab = 40;
  c.context = 16;
  c.layers = layers;
  c.heads = 2;
  c.d_model = 32;
  c.dropout = 0.0;
  return makeGpt(c);
}

torch::Tensor parameter(const ModelImpl& model, const std::string& name) {
  for (const auto& item : model.named_parameters(true))
    if (item.key() == name) return item.value();
  ADD_FAILURE() << "no parameter " << name << " in " << model.summary();
  return {};
}

torch::Tensor logits(Model& model) {
  torch::manual_seed(3);
  const auto tokens = torch::randint(0, 40, {2, 12}, torch::kLong);
  model->eval();
  torch::NoGradGuard no_grad;
  return model->forward(tokens);
}

TEST(KeepEveryKthBlock, KeepsBlocksZeroKTwoKOfTheTeacher) {
  EXPECT_EQ(keptBlocks(12, 2), (std::vector<int64_t>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(keptBlocks(5, 2), (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(keptBlocks(3, 5), (std::vector<int64_t>{0}));
}

TEST(KeepEveryKthBlock, ALlamaStudentHoldsTheKeptBlocksAndTheTeachersEmbeddings) {
  Model teacher = tinyLlama(5);
  Model student = keepEveryKthBlock(*teacher, 2);
  EXPECT_EQ(student->hiddenCount(), 3);
  EXPECT_LT(student->parameterCount(), teacher->parameterCount());
  for (const auto& [s, t] : std::vector<std::pair<int, int>>{{0, 0}, {1, 2}, {2, 4}})
    for (const std::string rest : {"self_attn.q_proj.weight", "self_attn.q_proj.bias", "mlp.down_proj.weight",
                                   "input_layernorm.weight"})
      EXPECT_TRUE(torch::equal(parameter(*student, "model.layers." + std::to_string(s) + "." + rest),
                               parameter(*teacher, "model.layers." + std::to_string(t) + "." + rest)))
          << "student block " << s << " is teacher block " << t << ": " << rest;
  for (const std::string name : {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"})
    EXPECT_TRUE(torch::equal(parameter(*student, name), parameter(*teacher, name))) << name;
  // Copies, not shared tensors: training the student leaves the teacher alone.
  EXPECT_NE(parameter(*student, "model.norm.weight").data_ptr(), parameter(*teacher, "model.norm.weight").data_ptr());
}

TEST(KeepEveryKthBlock, KOfOneGivesTheTeachersLogitsAndFewerBlocksOthers) {
  Model teacher = tinyGpt(4);
  Model copy = keepEveryKthBlock(*teacher, 1);
  EXPECT_EQ(copy->hiddenCount(), 4);
  EXPECT_TRUE(torch::allclose(logits(copy), logits(teacher), 1e-5, 1e-6));
  Model half = keepEveryKthBlock(*teacher, 2);
  EXPECT_EQ(half->hiddenCount(), 2);
  EXPECT_TRUE(torch::equal(parameter(*half, "h.1.attn.c_attn.weight"), parameter(*teacher, "h.2.attn.c_attn.weight")));
  EXPECT_TRUE(torch::equal(parameter(*half, "wpe.weight"), parameter(*teacher, "wpe.weight")));
  EXPECT_FALSE(torch::allclose(logits(half), logits(teacher), 1e-3, 1e-3));  // two blocks fewer change the output
}

TEST(KeepEveryKthBlock, AKBelowOneIsRefused) {
  Model teacher = tinyGpt(2);
  try {
    keepEveryKthBlock(*teacher, 0);
    FAIL() << "k = 0 was accepted";
  } catch (const ModelError& e) {
    EXPECT_STREQ(e.what(), "keep every k-th block: k must be at least 1, got 0");
  }
}

}  // namespace
}  // namespace distill
