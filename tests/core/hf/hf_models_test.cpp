// Hugging Face decoders (core/hf/hf_config.h, core/hf/hf_weights.h, core/tasks/lm/llama.h)
// against an independent implementation: tests/hf/tiny_checkpoints.py writes tiny random
// checkpoints of GPT-2, Llama (grouped-query attention, Llama 3 and linear rope scaling, biases),
// Qwen2 (q, k, v biases, an own head) and Mistral in Hugging Face's layout, sharded and in
// bfloat16 too, and computes their logits in plain torch after transformers' modeling code. The
// workbench's logits must agree to 1e-4; its KV-cache decoding must equal its full forward; a
// saved folder must load back to the same logits in the workbench and in the script's own
// reader; and every refusal must say what it refuses. The script needs /usr/bin/python3 with
// torch (python3-torch); without it these tests skip.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>


#include "core/errors.h"
#include "core/hf/hf_config.h"
#include "core/hf/hf_weights.h"
#include "core/hf/safetensors.h"
#include "core/tasks/lm/generate.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/lm/llama.h"
#include "support/hf_checkpoints.h"
#include "support/test_support.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

double maxDifference(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>();
}

torch::Tensor logitsOf(const Model& model, const torch::Tensor& tokens) {
  torch::NoGradGuard no_grad;
  model->eval();
  return model->forward(tokens);
}

std::string messageOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

// The script's checkpoints (tests/support/hf_checkpoints.h).
class HfModels : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_HF_CHECKPOINTS(); }
  static std::string variant(const std::string& name) { return testing::hfCheckpoint(name); }
  // A copy of a variant's folder to change.
  static std::string copyOf(const std::string& name, const testing::TempDir& into) {
    return testing::copyHfCheckpoint(name, into.path());
  }
  static std::pair<torch::Tensor, torch::Tensor> pythonLogits(const std::string& folder) {
    return testing::pythonLogits(folder);
  }
};

// For the tests that run the script again (on a folder the workbench wrote).
#define REQUIRE_PYTHON_TORCH() \
  if (!testing::pythonHasTorch()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch (install python3-torch)"

class HfVariant : public HfModels, public ::testing::WithParamInterface<const char*> {};

TEST_P(HfVariant, LogitsMatchTheIndependentImplementation) {
  const auto expected = testing::readLogits(fs::path(variant(GetParam())) / "expected.json");
  const Model model = loadHfModel(variant(GetParam()));
  const auto logits = logitsOf(model, expected.first);
  const double difference = maxDifference(logits, expected.second);
  RecordProperty("max_abs_difference", std::to_string(difference));
  EXPECT_LT(difference, 1e-4) << model->summary();
  // Not a near-constant: the logits spread over several units.
  EXPECT_GT(expected.second.std().item<double>(), 0.5);
}

TEST_P(HfVariant, KvCacheDecodingEqualsTheFullForward) {
  const auto expected = testing::readLogits(fs::path(variant(GetParam())) / "expected.json");
  const Model model = loadHfModel(variant(GetParam()));
  auto& decoder = dynamic_cast<CausalLmImpl&>(*model);
  const auto full = logitsOf(model, expected.first);
  torch::NoGradGuard no_grad;
  auto cache = decoder.newCache();
  std::vector<torch::Tensor> pieces{decoder.forwardCached(expected.first.narrow(1, 0, 4), cache)};  // prefill
  for (int64_t t = 4; t < expected.first.size(1); ++t)
    pieces.push_back(decoder.forwardCached(expected.first.narrow(1, t, 1), cache));
  EXPECT_LT(maxDifference(torch::cat(pieces, 1), full), 1e-4);  // rounding: logits reach 15 here
  EXPECT_EQ(cache.length(), expected.first.size(1));
}

TEST_P(HfVariant, SavedFolderLoadsBackInTheWorkbenchAndInPython) {
  REQUIRE_PYTHON_TORCH();
  const auto expected = testing::readLogits(fs::path(variant(GetParam())) / "expected.json");
  const Model model = loadHfModel(variant(GetParam()));
  const auto logits = logitsOf(model, expected.first);
  testing::TempDir out;
  const std::string saved = (out.path() / "saved").string();
  const HfConfig source = readHfConfig(variant(GetParam()));
  HfSaveOptions options;
  options.source = &source;
  saveHfModel(*model, saved, options);
  // Back in the workbench: the same float32 weights, the same logits.
  EXPECT_LT(maxDifference(logitsOf(loadHfModel(saved), expected.first), logits), 1e-6);
  // Read by the script's own reader and implementation.
  EXPECT_LT(maxDifference(pythonLogits(saved).second, logits), 1e-4);
  // The config keeps what the source said beyond the shape.
  const HfConfig written = readHfConfig(saved);
  EXPECT_EQ(written.architecture, source.architecture);
  EXPECT_EQ(written.eos_token_ids, source.eos_token_ids);
  EXPECT_EQ(written.bos_token_id, source.bos_token_id);
  EXPECT_EQ(written.max_position_embeddings, source.max_position_embeddings);
  EXPECT_EQ(written.rope_scaling.kind, source.rope_scaling.kind);
  EXPECT_EQ(written.tie_word_embeddings, source.tie_word_embeddings);
  EXPECT_EQ(written.torch_dtype, "float32");
}

INSTANTIATE_TEST_SUITE_P(Architectures, HfVariant,
                         ::testing::Values("gpt2", "gpt2_bf16_sharded", "llama", "llama_linear_bias_bf16",
                                           "qwen2_sharded", "mistral_bf16"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

TEST_F(HfModels, LoadedModelsAreTheArchitecturesTheirConfigsName) {
  EXPECT_NE(dynamic_cast<GptImpl*>(loadHfModel(variant("gpt2")).get()), nullptr);
  const Model qwen2 = loadHfModel(variant("qwen2_sharded"));
  auto* llama = dynamic_cast<LlamaImpl*>(qwen2.get());
  ASSERT_NE(llama, nullptr);
  EXPECT_EQ(llama->config().family, LlamaFamily::Qwen2);
  EXPECT_TRUE(llama->config().qkv_bias);
  EXPECT_FALSE(llama->config().o_bias);
  EXPECT_EQ(llama->config().kv_heads, 1);
  const Model tied = loadHfModel(variant("llama"));
  auto* tied_llama = dynamic_cast<LlamaImpl*>(tied.get());
  ASSERT_NE(tied_llama, nullptr);
  EXPECT_EQ(tied_llama->config().rope_scaling.kind, RopeScaling::Kind::Llama3);
  // The tied head is the embedding itself: one parameter, not two.
  for (const auto& item : tied->named_parameters()) EXPECT_NE(item.key(), "lm_head.weight");
  EXPECT_EQ(tied_llama->headWeight().data_ptr(), tied->named_parameters()["model.embed_tokens.weight"].data_ptr());
}

TEST_F(HfModels, GenerationDecodesALlamaThroughItsCache) {
  const Model model = loadHfModel(variant("mistral_bf16"));
  auto& decoder = dynamic_cast<CausalLmImpl&>(*model);
  SamplingOptions options;
  options.temperature = 0.0;
  options.max_tokens = 20;
  const auto cached = generate(decoder, {3, 17, 42}, options);
  options.use_cache = false;
  EXPECT_EQ(generate(decoder, {3, 17, 42}, options), cached);
  EXPECT_EQ(cached.size(), 20u);
}

TEST_F(HfModels, AShorterContextLoadsAndALongerOneIsRefused) {
  HfLoadOptions options;
  options.context = 16;
  const Model model = loadHfModel(variant("llama"), options);
  EXPECT_EQ(dynamic_cast<CausalLmImpl&>(*model).contextLength(), 16);
  const auto expected = testing::readLogits(fs::path(variant("llama")) / "expected.json");
  EXPECT_LT(maxDifference(logitsOf(model, expected.first), expected.second), 1e-4);
  options.context = 65;
  EXPECT_EQ(messageOf([&] { loadHfModel(variant("llama"), options); }),
            variant("llama") + "/config.json: max_position_embeddings: the model holds 64 positions; a context of 65 "
                               "was asked");
}

TEST_F(HfModels, TheWorkbenchGptIsWrittenAsAGpt2ThatPythonReads) {
  REQUIRE_PYTHON_TORCH();
  GptConfig config;
  config.vocab = 128;
  config.context = 16;
  config.layers = 2;
  config.heads = 4;
  config.d_model = 64;
  config.dropout = 0.0;  // exact GELU, nanoGPT's: written as activation_function "gelu"
  torch::manual_seed(5);
  const Model gpt = makeGpt(config);
  testing::TempDir out;
  const std::string saved = (out.path() / "student").string();
  saveHfModel(*gpt, saved);
  EXPECT_EQ(readHfConfig(saved).hidden_act, "gelu");
  const auto python = pythonLogits(saved);
  EXPECT_LT(maxDifference(logitsOf(gpt, python.first), python.second), 1e-4);
  EXPECT_LT(maxDifference(logitsOf(loadHfModel(saved), python.first), python.second), 1e-4);
}

TEST_F(HfModels, BfloatSavesAreReadAsTheRoundedWeights) {
  REQUIRE_PYTHON_TORCH();
  const Model model = loadHfModel(variant("qwen2_sharded"));
  testing::TempDir out;
  const std::string saved = (out.path() / "bf16").string();
  HfSaveOptions options;
  options.dtype = torch::kBFloat16;
  options.max_shard_bytes = 100'000;  // several shards and an index
  saveHfModel(*model, saved, options);
  EXPECT_TRUE(fs::exists(fs::path(saved) / "model.safetensors.index.json"));
  EXPECT_EQ(readHfConfig(saved).torch_dtype, "bfloat16");
  const auto python = pythonLogits(saved);
  const auto reloaded = logitsOf(loadHfModel(saved), python.first);
  EXPECT_LT(maxDifference(reloaded, python.second), 1e-4);
  // Rounded: not the float32 model's logits any more.
  EXPECT_GT(maxDifference(reloaded, logitsOf(model, python.first)), 1e-4);
}

// --- refusals of the weights ---------------------------------------------------------------

// Rewrites `folder`'s single model.safetensors through `edit`.
void rewriteWeights(const std::string& folder, const std::function<void(NamedTensors&)>& edit) {
  const auto checkpoint = SafetensorsCheckpoint::open(folder);
  NamedTensors tensors;
  for (const auto& name : checkpoint.names()) tensors.emplace_back(name, checkpoint.tensor(name).clone());
  edit(tensors);
  writeSafetensors((fs::path(folder) / "model.safetensors").string(), tensors);
}

TEST_F(HfModels, AMissingTensorIsRefusedByName) {
  testing::TempDir scratch;
  const std::string folder = copyOf("llama", scratch);
  rewriteWeights(folder, [](NamedTensors& tensors) {
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                                 [](const auto& item) { return item.first == "model.layers.1.mlp.up_proj.weight"; }),
                  tensors.end());
  });
  EXPECT_EQ(messageOf([&] { loadHfModel(folder); }),
            folder + "/model.safetensors: missing tensor model.layers.1.mlp.up_proj.weight (128, 64) of a "
                     "LlamaForCausalLM (" + folder + "/config.json)");
}

TEST_F(HfModels, AWrongShapeIsRefusedWithBothShapes) {
  testing::TempDir scratch;
  const std::string folder = copyOf("gpt2", scratch);
  rewriteWeights(folder, [](NamedTensors& tensors) {
    for (auto& item : tensors)
      if (item.first == "h.0.attn.c_attn.weight") item.second = torch::zeros({192, 64});  // a Linear's, not Conv1D's
  });
  EXPECT_EQ(messageOf([&] { loadHfModel(folder); }),
            folder + "/model.safetensors: tensor h.0.attn.c_attn.weight has shape (192, 64); the config (" + folder +
                "/config.json) makes it (64, 192)");
}

TEST_F(HfModels, AnUnexpectedTensorIsRefusedByName) {
  testing::TempDir scratch;
  const std::string folder = copyOf("mistral_bf16", scratch);
  rewriteWeights(folder, [](NamedTensors& tensors) {
    tensors.emplace_back("model.layers.0.self_attn.o_proj.bias", torch::zeros({64}, torch::kBFloat16));
  });
  EXPECT_EQ(messageOf([&] { loadHfModel(folder); }),
            folder + "/model.safetensors: unexpected tensor model.layers.0.self_attn.o_proj.bias: a MistralForCausalLM of " +
                folder + "/config.json has no such weight");
}

TEST_F(HfModels, AMissingShardIsRefused) {
  testing::TempDir scratch;
  const std::string folder = copyOf("qwen2_sharded", scratch);
  fs::remove(fs::path(folder) / "model-00002-of-00002.safetensors");
  const std::string message = messageOf([&] { loadHfModel(folder); });
  EXPECT_NE(message.find("model-00002-of-00002.safetensors"), std::string::npos) << message;
}

// --- refusals of config.json ---------------------------------------------------------------

struct BadConfig {
  const char* name;
  std::function<void(json&)> edit;
  const char* base;      // the variant whose config.json is edited
  const char* message;  // after "config.json: "
};

class HfConfigRefusal : public ::testing::TestWithParam<BadConfig> {};

TEST_P(HfConfigRefusal, NamesTheKey) {
  json config = GetParam().base == std::string("gpt2")
                    ? json{{"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"}, {"n_embd", 64},
                           {"n_head", 4}, {"n_layer", 2}, {"n_positions", 32}, {"vocab_size", 128}}
                    : json{{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 64},
                           {"intermediate_size", 128}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                           {"num_hidden_layers", 2}, {"max_position_embeddings", 64}, {"vocab_size", 128}};
  EXPECT_NO_THROW(parseHfConfig(config.dump(), "config.json"));
  GetParam().edit(config);
  EXPECT_EQ(messageOf([&] { buildHfModel(parseHfConfig(config.dump(), "config.json")); }),
            std::string("config.json: ") + GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Keys, HfConfigRefusal,
    ::testing::Values(
        BadConfig{"UnknownArchitecture", [](json& c) { c["architectures"] = {"BertForMaskedLM"}; }, "llama",
                  "architectures: 'BertForMaskedLM' is not supported (supported: GPT2LMHeadModel, LlamaForCausalLM, "
                  "Qwen2ForCausalLM, MistralForCausalLM)"},
        BadConfig{"RopeYarn", [](json& c) { c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; }, "llama",
                  "rope_scaling.rope_type: 'yarn' is not supported (supported: default, linear, llama3)"},
        BadConfig{"RopeDynamicOldKey", [](json& c) { c["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}}; },
                  "llama", "rope_scaling.type: 'dynamic' is not supported (supported: default, linear, llama3)"},
        BadConfig{"Llama3WithoutItsFactors",
                  [](json& c) { c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}}; }, "llama",
                  "rope_scaling.low_freq_factor: missing; rope_type llama3 needs it"},
        BadConfig{"HiddenAct", [](json& c) { c["hidden_act"] = "gelu"; }, "llama",
                  "hidden_act: 'gelu' is not supported (supported: silu, swish: the SwiGLU MLP)"},
        BadConfig{"KvHeads", [](json& c) { c["num_key_value_heads"] = 3; }, "llama",
                  "num_key_value_heads: 3 does not divide num_attention_heads 4"},
        BadConfig{"WrongType", [](json& c) { c["hidden_size"] = "64"; }, "llama",
                  "hidden_size: expected an integer, got \"64\""},
        BadConfig{"MistralWindow",
                  [](json& c) {
                    c["architectures"] = {"MistralForCausalLM"};
                    c["model_type"] = "mistral";
                    c["sliding_window"] = 16;
                  },
                  "llama",
                  "sliding_window: 16 is smaller than the context of 64 positions; attention over a sliding window is "
                  "not implemented (load with a context of at most 16)"},
        BadConfig{"QwenBiasFlag",
                  [](json& c) {
                    c["architectures"] = {"Qwen2ForCausalLM"};
                    c["attention_bias"] = true;
                  },
                  "llama", "attention_bias: true is not supported: Qwen2's attention biases are fixed by its architecture"},
        BadConfig{"Gpt2LayerScaling", [](json& c) { c["scale_attn_by_inverse_layer_idx"] = true; }, "gpt2",
                  "scale_attn_by_inverse_layer_idx: true is not supported: attention scaled by layer index is not "
                  "implemented"},
        BadConfig{"Gpt2Activation", [](json& c) { c["activation_function"] = "relu"; }, "gpt2",
                  "activation_function: 'relu' is not supported (supported: gelu_new, gelu_pytorch_tanh, gelu)"},
        BadConfig{"Gpt2Untied", [](json& c) { c["tie_word_embeddings"] = false; }, "gpt2",
                  "tie_word_embeddings: false is not supported: GPT-2's head is its token embedding"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return std::string(info.param.name); });

TEST(HfConfigFile, AMissingConfigIsNamed) {
  testing::TempDir empty;
  EXPECT_EQ(messageOf([&] { readHfConfig(empty.path().string()); }),
            (empty.path() / "config.json").string() + ": cannot read the model's config (is this a Hugging Face model folder?)");
}

TEST(HfConfigFile, WrittenConfigsReadBackTheSame) {
  HfConfig config;
  config.architecture = HfArchitecture::Llama;
  config.vocab_size = 128;
  config.hidden_size = 64;
  config.intermediate_size = 128;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.head_dim = 16;
  config.max_position_embeddings = 64;
  config.norm_eps = 1e-5;
  config.hidden_act = "silu";
  config.rope_theta = 500000.0;
  config.rope_scaling.kind = RopeScaling::Kind::Llama3;
  config.rope_scaling.factor = 32.0;
  config.rope_scaling.original_max_position_embeddings = 8192;
  config.tie_word_embeddings = true;
  config.eos_token_ids = {2, 7};
  const HfConfig back = parseHfConfig(hfConfigJson(config), "config.json");
  EXPECT_EQ(back.num_key_value_heads, 2);
  EXPECT_EQ(back.rope_theta, 500000.0);
  EXPECT_EQ(back.rope_scaling.kind, RopeScaling::Kind::Llama3);
  EXPECT_EQ(back.rope_scaling.factor, 32.0);
  EXPECT_EQ(back.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(back.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(back.norm_eps, 1e-5);
  EXPECT_EQ(back.eos_token_ids, (std::vector<int64_t>{2, 7}));
  EXPECT_FALSE(back.bos_token_id.has_value());
}

TEST(HfConfigFile, RopeParametersOfTransformers5AreRead) {
  const json config = {{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 64}, {"num_attention_heads", 4},
                       {"rope_parameters", {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                                            {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                                            {"original_max_position_embeddings", 8192}}}};
  const HfConfig parsed = parseHfConfig(config.dump(), "config.json");
  EXPECT_EQ(parsed.rope_theta, 500000.0);
  EXPECT_EQ(parsed.rope_scaling.kind, RopeScaling::Kind::Llama3);
  EXPECT_EQ(parsed.rope_scaling.factor, 8.0);
  const json yarn = {{"architectures", {"LlamaForCausalLM"}},
                     {"rope_parameters", {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}}}};
  EXPECT_EQ(messageOf([&] { parseHfConfig(yarn.dump(), "config.json"); }),
            "config.json: rope_parameters.rope_type: 'yarn' is not supported (supported: default, linear, llama3)");
}

}  // namespace
}  // namespace distill
