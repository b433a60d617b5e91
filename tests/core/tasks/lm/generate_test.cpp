// Generation from a GPT: the KV cache (its interface, and forwardCached's logits against
// forward's), cached decoding against re-running the sequence, greedy and nucleus sampling, the
// sampler's own seed, the context limit, and the options' validation messages.
#include "core/tasks/lm/generate.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/lm/kv_cache.h"

namespace distill {
namespace {

GptConfig tiny(int64_t context = 32) {
  GptConfig c;
  c.vocab = 256;
  c.context = context;
  c.layers = 2;
  c.heads = 2;
  c.d_model = 32;
  c.dropout = 0.1;  // generation must switch it off (eval mode)
  return c;
}

std::vector<int64_t> bytesOf(const std::string& text) { return std::vector<int64_t>(text.begin(), text.end()); }
std::string textOf(const std::vector<int64_t>& tokens) { return std::string(tokens.begin(), tokens.end()); }

SamplingOptions sampling(double temperature, int64_t max_tokens, uint64_t seed = 0) {
  SamplingOptions options;
  options.temperature = temperature;
  options.max_tokens = max_tokens;
  options.seed = seed;
  return options;
}

std::string configMessageOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}

std::string modelMessageOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(no ModelError)";
}

TEST(KvCache, AppendsViewsTrimsAndResets) {
  KvCache cache(/*layers=*/2, /*capacity=*/8);
  EXPECT_EQ(cache.length(), 0);
  const auto k1 = torch::randn({1, 2, 3, 4}), v1 = torch::randn({1, 2, 3, 4});  // (B, h, T_new, d_head)
  cache.append(0, k1, v1);
  EXPECT_EQ(cache.length(), 0) << "layer 1 holds nothing yet";
  cache.append(1, k1 * 2, v1 * 2);
  EXPECT_EQ(cache.length(), 3);
  const auto k2 = torch::randn({1, 2, 1, 4}), v2 = torch::randn({1, 2, 1, 4});
  cache.append(0, k2, v2);
  cache.append(1, k2, v2);
  EXPECT_EQ(cache.length(), 4);
  EXPECT_TRUE(torch::equal(cache.keys(0), torch::cat({k1, k2}, 2)));
  EXPECT_TRUE(torch::equal(cache.values(0), torch::cat({v1, v2}, 2)));
  EXPECT_TRUE(torch::equal(cache.keys(1), torch::cat({k1 * 2, k2}, 2)));
  cache.trim(2);
  EXPECT_EQ(cache.length(), 2);
  EXPECT_TRUE(torch::equal(cache.keys(0), k1.narrow(2, 0, 2)));
  cache.reset();
  EXPECT_EQ(cache.length(), 0);
  EXPECT_EQ(cache.keys(1).size(2), 0);
}

TEST(KvCache, RefusesMoreThanItsCapacityAndAnotherShape) {
  KvCache cache(/*layers=*/1, /*capacity=*/4);
  cache.append(0, torch::zeros({1, 2, 3, 4}), torch::zeros({1, 2, 3, 4}));
  EXPECT_NE(modelMessageOf([&] { cache.append(0, torch::zeros({1, 2, 2, 4}), torch::zeros({1, 2, 2, 4})); })
                .find("exceed its capacity of 4"),
            std::string::npos);
  EXPECT_NE(modelMessageOf([&] { cache.append(0, torch::zeros({2, 2, 1, 4}), torch::zeros({2, 2, 1, 4})); })
                .find("do not continue it"),
            std::string::npos);
  EXPECT_NE(modelMessageOf([&] { cache.append(1, torch::zeros({1, 2, 1, 4}), torch::zeros({1, 2, 1, 4})); })
                .find("layer 1 does not exist"),
            std::string::npos);
}

TEST(Gpt, ForwardCachedGivesForwardsLogitsChunkByChunk) {
  torch::manual_seed(3);
  Gpt model(tiny());
  model->eval();
  torch::NoGradGuard no_grad;
  const auto tokens = torch::randint(256, {2, 20}, torch::kLong);  // (B, T)
  const auto full = model->forward(tokens);                       // (B, T, V)
  KvCache cache = model->newCache();
  // A prefill of 7, single positions, then a chunk of 5 and the rest.
  std::vector<std::pair<int64_t, int64_t>> chunks = {{0, 7}, {7, 1}, {8, 1}, {9, 5}, {14, 6}};
  for (const auto& [start, length] : chunks) {
    const auto logits = model->forwardCached(tokens.narrow(1, start, length), cache);  // (B, T_new, V)
    ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, length, 256}));
    EXPECT_TRUE(torch::allclose(logits, full.narrow(1, start, length), /*rtol=*/1e-5, /*atol=*/1e-5))
        << "positions " << start << ".." << start + length - 1 << ": max difference "
        << (logits - full.narrow(1, start, length)).abs().max().item<double>();
    EXPECT_EQ(cache.length(), start + length);
  }
}

TEST(Gpt, ForwardCachedRefusesPositionsBeyondTheContext) {
  torch::manual_seed(3);
  Gpt model(tiny(/*context=*/8));
  model->eval();
  torch::NoGradGuard no_grad;
  KvCache cache = model->newCache();
  model->forwardCached(torch::zeros({1, 6}, torch::kLong), cache);
  const auto message = modelMessageOf([&] { model->forwardCached(torch::zeros({1, 3}, torch::kLong), cache); });
  EXPECT_NE(message.find("positions 6..8 reach beyond the model's context of 8"), std::string::npos) << message;
  EXPECT_EQ(cache.length(), 6) << "a refused call caches nothing";
  model->forwardCached(torch::zeros({1, 2}, torch::kLong), cache);  // exactly fills it
  EXPECT_EQ(cache.length(), 8);
}

TEST(Generate, CachedDecodingGivesTheTokensOfRerunningTheSequence) {
  torch::manual_seed(4);
  Gpt model(tiny());
  const auto prompt = bytesOf("the cat");
  for (double temperature : {0.0, 1.0}) {
    auto options = sampling(temperature, /*max_tokens=*/20, /*seed=*/11);
    const auto cached = generate(*model, prompt, options);
    options.use_cache = false;
    const auto uncached = generate(*model, prompt, options);
    EXPECT_EQ(cached.size(), 20u);
    EXPECT_EQ(cached, uncached) << "temperature " << temperature;
  }
  EXPECT_TRUE(model->is_training()) << "the model's mode is put back";
}

TEST(Generate, AModelThatLearnedAStringContinuesItGreedily) {
  torch::manual_seed(6);
  GptConfig c = tiny();
  c.dropout = 0.0;
  Gpt model(c);
  const std::string text = "distill workbench! distill workbench! distill workbench!";
  const auto bytes = bytesOf(text.substr(0, 33));
  const auto sequence = torch::tensor(bytes, torch::kLong);
  const auto inputs = sequence.narrow(0, 0, 32).unsqueeze(0);  // (1, 32)
  const auto targets = sequence.narrow(0, 1, 32);              // (32)
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  for (int step = 0; step < 120; ++step) {
    optimizer.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model->forward(inputs).view({32, 256}), targets);
    loss.backward();
    optimizer.step();
  }
  const auto continuation = generate(*model, bytesOf("distill wo"), sampling(/*temperature=*/0.0, /*max_tokens=*/15));
  EXPECT_EQ(textOf(continuation), text.substr(10, 15));
}

TEST(Generate, TinyTopPIsGreedy) {
  torch::manual_seed(5);
  Gpt model(tiny());
  const auto prompt = bytesOf("a");
  auto nucleus = sampling(/*temperature=*/1.0, /*max_tokens=*/20, /*seed=*/3);
  nucleus.top_p = 1e-6;
  EXPECT_EQ(generate(*model, prompt, nucleus), generate(*model, prompt, sampling(0.0, 20)));
}

TEST(Generate, TheSeedReproducesASampleAndTheGlobalGeneratorIsUntouched) {
  torch::manual_seed(5);
  Gpt model(tiny());
  const auto prompt = bytesOf("a");
  auto options = sampling(/*temperature=*/1.5, /*max_tokens=*/20, /*seed=*/7);
  options.top_p = 0.9;
  torch::manual_seed(100);
  const auto first = generate(*model, prompt, options);
  const auto global_after = torch::rand({4});
  torch::manual_seed(100);
  const auto global_alone = torch::rand({4});
  EXPECT_TRUE(torch::equal(global_after, global_alone)) << "generate drew from the global generator";
  EXPECT_EQ(generate(*model, prompt, options), first);
  options.seed = 8;
  EXPECT_NE(generate(*model, prompt, options), first);
}

TEST(Generate, StopsWhenTheContextIsFull) {
  torch::manual_seed(5);
  Gpt model(tiny(/*context=*/16));
  const auto prompt = bytesOf("0123456789");  // 10 of 16 positions
  for (bool use_cache : {true, false}) {
    auto options = sampling(/*temperature=*/1.0, /*max_tokens=*/100);
    options.use_cache = use_cache;
    // Positions 10..15 take 6 fed-back tokens; the token after position 15 is the 7th.
    EXPECT_EQ(generate(*model, prompt, options).size(), 7u) << "use_cache " << use_cache;
  }
  EXPECT_EQ(generate(*model, bytesOf(std::string(16, 'x')), sampling(0.0, 5)).size(), 1u);
}

TEST(Generate, AnEmptyPromptStartsFromTheSeparator) {
  torch::manual_seed(5);
  Gpt model(tiny());
  EXPECT_EQ(generate(*model, {}, sampling(0.0, 10)), generate(*model, {0}, sampling(0.0, 10)));
}

struct BadSampling {
  std::string name;
  std::function<void(SamplingOptions&)> change;
  std::string expected;
};

class GenerateBadOptions : public ::testing::TestWithParam<BadSampling> {};

TEST_P(GenerateBadOptions, NamesTheOption) {
  torch::manual_seed(5);
  Gpt model(tiny());
  SamplingOptions options;
  GetParam().change(options);
  const auto message = configMessageOf([&] { generate(*model, bytesOf("a"), options); });
  EXPECT_NE(message.find(GetParam().expected), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Options, GenerateBadOptions,
    ::testing::Values(
        BadSampling{"max_tokens", [](SamplingOptions& o) { o.max_tokens = 0; },
                    "max_tokens: 0 is too small; generate at least 1 token"},
        BadSampling{"temperature", [](SamplingOptions& o) { o.temperature = -0.5; },
                    "temperature: -0.5 is negative"},
        BadSampling{"top_p_zero", [](SamplingOptions& o) { o.top_p = 0.0; }, "top_p: 0 is not in (0, 1]"},
        BadSampling{"top_p_above_one", [](SamplingOptions& o) { o.top_p = 1.5; }, "top_p: 1.5 is not in (0, 1]"}),
    [](const ::testing::TestParamInfo<BadSampling>& info) { return info.param.name; });

TEST(Generate, APromptLongerThanTheContextIsNamed) {
  torch::manual_seed(5);
  Gpt model(tiny(/*context=*/128));
  const auto message = configMessageOf([&] { generate(*model, std::vector<int64_t>(300, 97), SamplingOptions{}); });
  EXPECT_NE(message.find("prompt: the prompt has 300 tokens; the model's context is 128"), std::string::npos)
      << message;
}

}  // namespace
}  // namespace distill
