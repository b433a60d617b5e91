#include "core/tasks/lm/gpt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "core/errors.h"
#include "support/test_support.h"

namespace distill {
namespace {

GptConfig tiny(double dropout = 0.0) {
  GptConfig c;
  c.vocab = 256;
  c.context = 16;
  c.layers = 2;
  c.heads = 2;
  c.d_model = 32;
  c.dropout = dropout;
  return c;
}

// GPT-2 with a tied head: embeddings, per block (LayerNorms 4d, QKV 3d^2 + 3d, projection
// d^2 + d, MLP 8d^2 + 5d), the final LayerNorm.
int64_t gpt2ParameterCount(const GptConfig& c) {
  const int64_t d = c.d_model;
  return c.vocab * d + c.context * d + c.layers * (12 * d * d + 13 * d) + 2 * d;
}

torch::Tensor randomTokens(int64_t batch, int64_t time, int64_t vocab) {
  return torch::randint(vocab, {batch, time}, torch::kLong);
}

std::string messageOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(no ModelError)";
}

TEST(Gpt, LogitsHaveTheTokensShapeAndTheHeadIsTheEmbedding) {
  torch::manual_seed(1);
  Gpt model(tiny());
  const auto tokens = randomTokens(3, 10, 256);
  const auto logits = model->forward(tokens);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3, 10, 256}));
  EXPECT_EQ(logits.scalar_type(), torch::kFloat32);

  // Tied: the head's weight is the embedding's storage, and no separate head parameter exists.
  const auto params = model->named_parameters();
  ASSERT_NE(params.find("wte.weight"), nullptr);
  EXPECT_EQ(model->headWeight().data_ptr(), params["wte.weight"].data_ptr());
  for (const auto& item : params) EXPECT_EQ(item.key().find("head"), std::string::npos) << item.key();

  // Only tokens 0..3 are read, so embedding rows 4.. receive gradient through the head alone.
  const auto few = torch::randint(4, {2, 8}, torch::kLong);
  const auto targets = torch::randint(256, {2 * 8}, torch::kLong);
  torch::nn::functional::cross_entropy(model->forward(few).view({-1, 256}), targets).backward();
  const auto grad = params["wte.weight"].grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_GT(grad.narrow(0, 4, 252).abs().sum().item<double>(), 0.0);
}

TEST(Gpt, ParameterCountIsGpt2sWithATiedHead) {
  GptConfig teacher;  // the reference's default teacher: 4 layers, 4 heads, 256 wide, context 128
  GptConfig student;
  student.layers = 2;
  student.heads = 2;
  student.d_model = 128;
  for (const auto& c : {teacher, student, tiny()}) {
    Gpt model(c);
    EXPECT_EQ(model->parameterCount(), gpt2ParameterCount(c)) << model->summary();
  }
  EXPECT_EQ(gpt2ParameterCount(teacher), 3257856);
  EXPECT_EQ(gpt2ParameterCount(student), 445952);
  EXPECT_EQ(Gpt(teacher)->summary(),
            "GPT 4 layers x 256, 4 heads, context 128, vocab 256, dropout 0.1; 3257856 parameters");
}

TEST(Gpt, CostsCountOneFullContextSequence) {
  const GptConfig c;  // T 128, d 256, 4 layers, 4 heads, vocab 256
  const auto model = makeGpt(c);
  const int64_t t = 128, d = 256;
  EXPECT_EQ(model->forwardMacsPerSample(), 4 * (12 * d * d * t + 2 * t * t * d) + t * d * 256);
  EXPECT_EQ(model->widestActivationPerSample(), t * 4 * d);  // MLP 131072 > heads*T*T 65536 > logits 32768
  GptConfig long_context = tiny();
  long_context.context = 512;
  long_context.heads = 4;
  EXPECT_EQ(makeGpt(long_context)->widestActivationPerSample(), 4 * 512 * 512);
}

TEST(Gpt, InitialisationIsGpt2s) {
  torch::manual_seed(2);
  GptConfig c = tiny();
  c.d_model = 128;
  c.layers = 8;
  Gpt model(c);
  const auto params = model->named_parameters();
  const double residual_std = 0.02 / std::sqrt(2.0 * 8);
  EXPECT_NEAR(params["h.0.attn.c_attn.weight"].std().item<double>(), 0.02, 0.001);
  EXPECT_NEAR(params["h.3.mlp.c_fc.weight"].std().item<double>(), 0.02, 0.001);
  EXPECT_NEAR(params["wte.weight"].std().item<double>(), 0.02, 0.001);
  EXPECT_NEAR(params["wpe.weight"].std().item<double>(), 0.02, 0.001);
  EXPECT_NEAR(params["h.0.attn.c_proj.weight"].std().item<double>(), residual_std, 0.0005);
  EXPECT_NEAR(params["h.7.mlp.c_proj.weight"].std().item<double>(), residual_std, 0.0005);
  EXPECT_EQ(params["h.0.attn.c_attn.bias"].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(params["h.7.mlp.c_proj.bias"].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(params["ln_f.weight"].sum().item<double>(), 128.0);  // LayerNorm as PyTorch makes it
}

TEST(Gpt, EarlierPositionsDoNotSeeLaterTokens) {
  torch::manual_seed(3);
  Gpt model(tiny(/*dropout=*/0.1));
  model->eval();
  torch::NoGradGuard no_grad;
  const auto tokens = randomTokens(2, 16, 256);
  auto changed = tokens.clone();
  for (int64_t b = 0; b < 2; ++b) changed[b][10] = (changed[b][10].item<int64_t>() + 1) % 256;
  const auto before = model->forward(tokens), after = model->forward(changed);
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::equal(before.index({Slice(), Slice(0, 10)}), after.index({Slice(), Slice(0, 10)})));
  for (int64_t t = 10; t < 16; ++t)
    EXPECT_FALSE(torch::equal(before.select(1, t), after.select(1, t))) << "position " << t;
}

// The hand-written attention computes what torch::nn::MultiheadAttention computes with the same
// fused in-projection and a float causal mask (added, so it masks; a bool mask would not in 1.13).
TEST(Gpt, AttentionMatchesMultiheadAttentionWithAFloatMask) {
  torch::manual_seed(9);
  const int64_t d = 32, heads = 4, time = 7;
  CausalSelfAttention attention(d, heads, /*dropout=*/0.0);
  torch::nn::MultiheadAttention reference(torch::nn::MultiheadAttentionOptions(d, heads));
  {
    torch::NoGradGuard no_grad;
    auto params = attention->named_parameters();
    reference->in_proj_weight.copy_(params["c_attn.weight"]);
    reference->in_proj_bias.copy_(params["c_attn.bias"]);
    reference->out_proj->weight.copy_(params["c_proj.weight"]);
    reference->out_proj->bias.copy_(params["c_proj.bias"]);
  }
  attention->eval();
  reference->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, time, d});  // (B, T, C)
  const auto mask = torch::triu(torch::full({time, time}, -std::numeric_limits<float>::infinity()), 1);  // (T, T)
  const auto ours = attention->forward(x, mask);
  const auto sequence_first = x.transpose(0, 1);  // (T, B, C), MultiheadAttention's layout
  const auto theirs = std::get<0>(reference->forward(sequence_first, sequence_first, sequence_first, {},
                                                     /*need_weights=*/false, mask))
                          .transpose(0, 1);
  EXPECT_TRUE(torch::allclose(ours, theirs, 1e-5, 1e-6)) << (ours - theirs).abs().max().item<double>();
}

// The MLP's GELU is the exact (erf) one, nn.GELU's default, as in the Python reference; the tanh
// approximation differs by up to ~1e-3 and fails this.
TEST(Gpt, MlpUsesExactGelu) {
  torch::manual_seed(10);
  Mlp mlp(/*d_model=*/16, /*dropout=*/0.0);
  auto params = mlp->named_parameters();
  torch::NoGradGuard no_grad;
  params["c_fc.weight"].normal_(0.0, 1.0);  // wide pre-activations, where the two GELUs differ
  const auto x = torch::randn({2, 5, 16});
  const auto hidden = torch::linear(x, params["c_fc.weight"], params["c_fc.bias"]);
  const auto erf_gelu = 0.5 * hidden * (1.0 + torch::erf(hidden / std::sqrt(2.0)));
  const auto expected = torch::linear(erf_gelu, params["c_proj.weight"], params["c_proj.bias"]);
  EXPECT_TRUE(torch::allclose(mlp->forward(x), expected, 1e-5, 1e-6));
}

TEST(Gpt, ForwardWithFeatureReturnsTheResidualStreamAfterABlock) {
  torch::manual_seed(4);
  GptConfig c = tiny();
  c.layers = 3;
  Gpt model(c);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto tokens = randomTokens(2, 12, 256);
  EXPECT_EQ(model->hiddenCount(), 3);
  const auto [logits, last] = model->forwardWithFeature(tokens, -1);
  EXPECT_EQ(last.sizes(), (std::vector<int64_t>{2, 12, 32}));
  EXPECT_TRUE(torch::equal(logits, model->forward(tokens)));
  EXPECT_TRUE(torch::equal(last, model->forwardWithFeature(tokens, 2).second));
  const auto first = model->forwardWithFeature(tokens, 0).second;
  const auto second = model->forwardWithFeature(tokens, 1).second;
  EXPECT_FALSE(torch::equal(first, last));
  EXPECT_FALSE(torch::equal(second, last));
  // The last block's stream is what the final LayerNorm and the tied head read.
  auto* ln_f = model->named_children()["ln_f"]->as<torch::nn::LayerNormImpl>();
  ASSERT_NE(ln_f, nullptr);
  EXPECT_TRUE(torch::allclose(torch::matmul(ln_f->forward(last), model->headWeight().t()), logits, 1e-5, 1e-5));
  EXPECT_NE(messageOf([&] { model->forwardWithFeature(tokens, 3); }).find("hidden layer 3 does not exist"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { model->forwardWithFeature(tokens, -4); }).find("does not exist"), std::string::npos);
}

TEST(Gpt, DropoutIsReproducibleFromTheSeed) {
  Gpt model(tiny(/*dropout=*/0.2));
  const auto tokens = randomTokens(2, 16, 256);
  model->train();
  torch::manual_seed(5);
  const auto first = model->forward(tokens);
  torch::manual_seed(5);
  EXPECT_TRUE(torch::equal(first, model->forward(tokens)));
  EXPECT_FALSE(torch::equal(first, model->forward(tokens)));  // a new draw
  model->eval();
  EXPECT_TRUE(torch::equal(model->forward(tokens), model->forward(tokens)));
}

// The tiny model memorises one sequence of a repeated byte string (next-byte prediction): the
// cross-entropy falls from ln 256 = 5.5 to about 0.005 in 100 Adam steps (0.04 after 40).
TEST(Gpt, TinyModelOverfitsARepeatedByteString) {
  torch::manual_seed(6);
  GptConfig c = tiny();
  c.context = 32;
  Gpt model(c);
  const std::string text = "distill workbench! distill workbench! distill workbench!";
  std::vector<int64_t> bytes(text.begin(), text.begin() + 33);
  const auto sequence = torch::tensor(bytes, torch::kLong);
  const auto inputs = sequence.narrow(0, 0, 32).unsqueeze(0);   // (1, 32)
  const auto targets = sequence.narrow(0, 1, 32);               // (32)
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  double loss_value = 0.0;
  for (int step = 0; step < 100; ++step) {
    optimizer.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model->forward(inputs).view({32, 256}), targets);
    loss.backward();
    optimizer.step();
    loss_value = loss.item<double>();
  }
  EXPECT_LT(loss_value, 0.1);
}

TEST(Gpt, SaveLoadRoundTripGivesIdenticalLogits) {
  testing::TempDir dir;
  const auto path = dir.file("gpt.pt");
  torch::manual_seed(7);
  Gpt saved(tiny());
  saved->saveCheckpoint(path);
  torch::manual_seed(8);
  Gpt loaded(tiny());
  const auto tokens = randomTokens(2, 16, 256);
  saved->eval();
  loaded->eval();
  torch::NoGradGuard no_grad;
  ASSERT_FALSE(torch::equal(saved->forward(tokens), loaded->forward(tokens)));
  loaded->loadCheckpoint(path);
  EXPECT_TRUE(torch::equal(saved->forward(tokens), loaded->forward(tokens)));

  GptConfig wider = tiny();
  wider.d_model = 64;
  Gpt other(wider);
  EXPECT_NE(messageOf([&] { other->loadCheckpoint(path); }).find("does not match"), std::string::npos);
}

TEST(Gpt, BadTokensAreNamed) {
  Gpt model(GptConfig{});
  model->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(messageOf([&] { model->forward(torch::zeros({1, 200}, torch::kLong)); }),
            "the sequence has 200 tokens; the model's context is 128");
  EXPECT_EQ(messageOf([&] { model->forward(torch::full({2, 5}, 256, torch::kLong)); }),
            "tokens: id 256 is outside the vocabulary [0, 256)");
  EXPECT_EQ(messageOf([&] { model->forward(torch::full({2, 5}, -1, torch::kLong)); }),
            "tokens: id -1 is outside the vocabulary [0, 256)");
  EXPECT_NE(messageOf([&] { model->forward(torch::zeros({2, 5})); }).find("tokens must be int64"), std::string::npos);
  EXPECT_NE(messageOf([&] { model->forward(torch::zeros({5}, torch::kLong)); }).find("[batch, sequence]"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { model->forward(torch::zeros({2, 0}, torch::kLong)); }).find("empty"), std::string::npos);
}

struct BadConfig {
  const char* name;
  GptConfig config;
  const char* message;
};

GptConfig with(void (*edit)(GptConfig&)) {
  GptConfig c;
  edit(c);
  return c;
}

class GptBadConfig : public ::testing::TestWithParam<BadConfig> {};

TEST_P(GptBadConfig, NamesTheField) {
  EXPECT_EQ(messageOf([&] { makeGpt(GetParam().config); }), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    GptFields, GptBadConfig,
    ::testing::Values(
        BadConfig{"heads", with([](GptConfig& c) { c.heads = 5; }), "heads: 5 does not divide d_model 256"},
        BadConfig{"vocab", with([](GptConfig& c) { c.vocab = 0; }), "vocab: 0 is too small; it must be at least 1"},
        BadConfig{"context", with([](GptConfig& c) { c.context = 0; }),
                  "context: 0 is too small; it must be at least 1"},
        BadConfig{"layers", with([](GptConfig& c) { c.layers = 0; }), "layers: 0 is too small; it must be at least 1"},
        BadConfig{"heads0", with([](GptConfig& c) { c.heads = 0; }), "heads: 0 is too small; it must be at least 1"},
        BadConfig{"d_model", with([](GptConfig& c) { c.d_model = -4; }),
                  "d_model: -4 is too small; it must be at least 1"},
        BadConfig{"dropout", with([](GptConfig& c) { c.dropout = 1.0; }),
                  "dropout: 1 is not a probability in [0, 1)"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace distill
