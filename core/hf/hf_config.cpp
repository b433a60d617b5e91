#include "core/hf/hf_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace distill {

namespace {

using nlohmann::json;

const char* const kSupportedArchitectures = "GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM";

std::string numberText(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// Typed access to one JSON object of config.json; every refusal names the file and the key
// (`prefix` + key: "rope_scaling.factor").
class Reader {
 public:
  Reader(const json& object, std::string path, std::string prefix = "")
      : object_(object), path_(std::move(path)), prefix_(std::move(prefix)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw DataError(path_ + ": " + prefix_ + key + ": " + problem);
  }
  // Present and not null.
  bool has(const std::string& key) const { return object_.contains(key) && !object_.at(key).is_null(); }
  const json& at(const std::string& key) const { return object_.at(key); }

  int64_t integer(const std::string& key, int64_t fallback) const {
    if (!has(key)) return fallback;
    const auto& value = object_.at(key);
    if (!value.is_number_integer()) fail(key, "expected an integer, got " + value.dump());
    return value.get<int64_t>();
  }
  int64_t positive(const std::string& key, int64_t fallback) const {
    const int64_t value = integer(key, fallback);
    if (value < 1) fail(key, std::to_string(value) + " is too small; it must be at least 1");
    return value;
  }
  double number(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    const auto& value = object_.at(key);
    if (!value.is_number()) fail(key, "expected a number, got " + value.dump());
    return value.get<double>();
  }
  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& value = object_.at(key);
    if (!value.is_boolean()) fail(key, "expected true or false, got " + value.dump());
    return value.get<bool>();
  }
  std::string text(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const auto& value = object_.at(key);
    if (!value.is_string()) fail(key, "expected a string, got " + value.dump());
    return value.get<std::string>();
  }
  // A key whose only supported value is `supported` (a flag that would change the computation).
  void requireBoolean(const std::string& key, bool supported, const std::string& why) const {
    if (boolean(key, supported) != supported) fail(key, std::string(supported ? "false" : "true") + " is not supported: " + why);
  }

 private:
  const json& object_;
  std::string path_;
  std::string prefix_;
};

HfArchitecture architectureOf(const Reader& reader) {
  auto fromName = [&](const std::string& key, const std::string& name) {
    if (name == "GPT2LMHeadModel") return HfArchitecture::Gpt2;
    if (name == "LlamaForCausalLM") return HfArchitecture::Llama;
    if (name == "Qwen2ForCausalLM") return HfArchitecture::Qwen2;
    if (name == "MistralForCausalLM") return HfArchitecture::Mistral;
    reader.fail(key, "'" + name + "' is not supported (supported: " + kSupportedArchitectures + ")");
  };
  if (reader.has("architectures")) {
    const auto& list = reader.at("architectures");
    if (!list.is_array() || list.size() != 1 || !list[0].is_string())
      reader.fail("architectures", "expected a list of one class name, got " + list.dump());
    return fromName("architectures", list[0].get<std::string>());
  }
  // No architectures (a config written by hand): the model_type's causal LM, as AutoModelForCausalLM.
  const std::string type = reader.text("model_type", "");
  if (type == "gpt2") return HfArchitecture::Gpt2;
  if (type == "llama") return HfArchitecture::Llama;
  if (type == "qwen2") return HfArchitecture::Qwen2;
  if (type == "mistral") return HfArchitecture::Mistral;
  if (type.empty()) reader.fail("architectures", "missing, and no model_type says which model this is");
  reader.fail("model_type", "'" + type + "' is not supported (supported: gpt2, llama, qwen2, mistral)");
}

std::vector<int64_t> eosIds(const Reader& reader) {
  if (!reader.has("eos_token_id")) return {};
  const auto& value = reader.at("eos_token_id");
  if (value.is_number_integer()) return {value.get<int64_t>()};
  if (!value.is_array()) reader.fail("eos_token_id", "expected an integer or a list of integers, got " + value.dump());
  std::vector<int64_t> ids;
  for (const auto& id : value) {
    if (!id.is_number_integer())
      reader.fail("eos_token_id", "expected an integer or a list of integers, got " + value.dump());
    ids.push_back(id.get<int64_t>());
  }
  return ids;
}

void readGpt2(const Reader& r, HfConfig& c) {
  c.vocab_size = r.positive("vocab_size", 50257);
  c.max_position_embeddings = r.positive("n_positions", 1024);
  c.hidden_size = r.positive("n_embd", 768);
  c.num_hidden_layers = r.positive("n_layer", 12);
  c.num_attention_heads = r.positive("n_head", 12);
  c.num_key_value_heads = c.num_attention_heads;
  if (c.hidden_size % c.num_attention_heads != 0)
    r.fail("n_head", std::to_string(c.num_attention_heads) + " does not divide n_embd " + std::to_string(c.hidden_size));
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.intermediate_size = r.positive("n_inner", 4 * c.hidden_size);
  if (c.intermediate_size != 4 * c.hidden_size)
    r.fail("n_inner", std::to_string(c.intermediate_size) + " is not supported: the MLP is 4 n_embd wide (" +
                          std::to_string(4 * c.hidden_size) + ") or n_inner is null");
  c.hidden_act = r.text("activation_function", "gelu_new");
  if (c.hidden_act != "gelu_new" && c.hidden_act != "gelu_pytorch_tanh" && c.hidden_act != "gelu")
    r.fail("activation_function", "'" + c.hidden_act + "' is not supported (supported: gelu_new, gelu_pytorch_tanh, gelu)");
  c.norm_eps = r.number("layer_norm_epsilon", 1e-5);
  if (!(c.norm_eps > 0)) r.fail("layer_norm_epsilon", numberText(c.norm_eps) + " must be above 0");
  r.requireBoolean("scale_attn_weights", true, "the attention is scaled by 1/sqrt(head size)");
  r.requireBoolean("scale_attn_by_inverse_layer_idx", false, "attention scaled by layer index is not implemented");
  r.requireBoolean("add_cross_attention", false, "cross-attention is not implemented");
  r.requireBoolean("tie_word_embeddings", true, "GPT-2's head is its token embedding");
  // reorder_and_upcast_attn only changes the precision of half-precision attention: float32 here.
  const double resid = r.number("resid_pdrop", 0.1), embd = r.number("embd_pdrop", 0.1), attn = r.number("attn_pdrop", 0.1);
  if (embd != resid || attn != resid)
    r.fail("resid_pdrop", "resid_pdrop " + numberText(resid) + ", embd_pdrop " + numberText(embd) + " and attn_pdrop " +
                              numberText(attn) + " differ; the workbench's GPT has one dropout for all three");
  if (!(resid >= 0 && resid < 1)) r.fail("resid_pdrop", numberText(resid) + " is not a probability in [0, 1)");
  c.dropout = resid;
  c.tie_word_embeddings = true;
}

RopeScaling ropeScaling(const Reader& parent, const std::string& key) {
  RopeScaling scaling;
  if (!parent.has(key)) return scaling;
  const auto& object = parent.at(key);
  if (!object.is_object()) parent.fail(key, "expected an object or null, got " + object.dump());
  auto fail = [&](const std::string& field, const std::string& problem) { parent.fail(key + "." + field, problem); };
  std::string type_key = "rope_type";
  std::string type = "default";
  if (object.contains("rope_type") && object.at("rope_type").is_string()) {
    type = object.at("rope_type").get<std::string>();
  } else if (object.contains("type") && object.at("type").is_string()) {
    type_key = "type";
    type = object.at("type").get<std::string>();
  } else if (object.contains("rope_type") || object.contains("type")) {
    fail("rope_type", "expected a string");
  }
  auto number = [&](const std::string& field, bool required) {
    if (!object.contains(field) || object.at(field).is_null()) {
      if (required) fail(field, "missing; rope_type " + type + " needs it");
      return 0.0;
    }
    if (!object.at(field).is_number()) fail(field, "expected a number, got " + object.at(field).dump());
    return object.at(field).get<double>();
  };
  if (type == "default") return scaling;
  if (type == "linear") {
    scaling.kind = RopeScaling::Kind::Linear;
    scaling.factor = number("factor", true);
    if (!(scaling.factor > 0)) fail("factor", numberText(scaling.factor) + " must be above 0");
    return scaling;
  }
  if (type == "llama3") {
    scaling.kind = RopeScaling::Kind::Llama3;
    scaling.factor = number("factor", true);
    scaling.low_freq_factor = number("low_freq_factor", true);
    scaling.high_freq_factor = number("high_freq_factor", true);
    const double original = number("original_max_position_embeddings", true);
    if (!object.at("original_max_position_embeddings").is_number_integer() || original < 1)
      fail("original_max_position_embeddings", "expected a positive integer, got " +
                                                   object.at("original_max_position_embeddings").dump());
    scaling.original_max_position_embeddings = static_cast<int64_t>(original);
    if (!(scaling.factor > 0)) fail("factor", numberText(scaling.factor) + " must be above 0");
    if (!(scaling.low_freq_factor > 0)) fail("low_freq_factor", numberText(scaling.low_freq_factor) + " must be above 0");
    if (!(scaling.high_freq_factor > scaling.low_freq_factor))
      fail("high_freq_factor", numberText(scaling.high_freq_factor) + " must be above low_freq_factor " +
                                   numberText(scaling.low_freq_factor));
    return scaling;
  }
  fail(type_key, "'" + type + "' is not supported (supported: default, linear, llama3)");
}

void readLlamaFamily(const Reader& r, HfConfig& c) {
  const bool llama = c.architecture == HfArchitecture::Llama, qwen2 = c.architecture == HfArchitecture::Qwen2;
  // transformers' defaults of LlamaConfig, Qwen2Config and MistralConfig.
  c.vocab_size = r.positive("vocab_size", qwen2 ? 151936 : 32000);
  c.hidden_size = r.positive("hidden_size", 4096);
  c.intermediate_size = r.positive("intermediate_size", llama ? 11008 : qwen2 ? 22016 : 14336);
  c.num_hidden_layers = r.positive("num_hidden_layers", 32);
  c.num_attention_heads = r.positive("num_attention_heads", 32);
  c.num_key_value_heads = r.positive("num_key_value_heads", llama || qwen2 ? c.num_attention_heads : 8);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    r.fail("num_key_value_heads", std::to_string(c.num_key_value_heads) + " does not divide num_attention_heads " +
                                      std::to_string(c.num_attention_heads));
  if (!r.has("head_dim") && c.hidden_size % c.num_attention_heads != 0)
    r.fail("num_attention_heads", std::to_string(c.num_attention_heads) + " does not divide hidden_size " +
                                      std::to_string(c.hidden_size) + " and no head_dim is given");
  c.head_dim = r.positive("head_dim", c.hidden_size / c.num_attention_heads);
  if (c.head_dim % 2 != 0) r.fail("head_dim", std::to_string(c.head_dim) + " is odd; rotary embeddings turn pairs");
  c.max_position_embeddings = r.positive("max_position_embeddings", llama ? 2048 : qwen2 ? 32768 : 4096 * 32);
  c.norm_eps = r.number("rms_norm_eps", 1e-6);
  if (!(c.norm_eps > 0)) r.fail("rms_norm_eps", numberText(c.norm_eps) + " must be above 0");
  c.hidden_act = r.text("hidden_act", "silu");
  if (c.hidden_act != "silu" && c.hidden_act != "swish")
    r.fail("hidden_act", "'" + c.hidden_act + "' is not supported (supported: silu, swish: the SwiGLU MLP)");

  // rope_parameters (transformers 5) holds rope_theta and the scaling in one object.
  if (r.has("rope_parameters")) {
    const auto& parameters = r.at("rope_parameters");
    if (!parameters.is_object()) r.fail("rope_parameters", "expected an object, got " + parameters.dump());
    c.rope_theta = Reader(parameters, c.path, "rope_parameters.").number("rope_theta", 10000.0);
    c.rope_scaling = ropeScaling(r, "rope_parameters");
  } else {
    c.rope_theta = r.number("rope_theta", 10000.0);
    c.rope_scaling = ropeScaling(r, "rope_scaling");
  }
  if (!(c.rope_theta > 0)) r.fail("rope_theta", numberText(c.rope_theta) + " must be above 0");
  if (r.number("partial_rotary_factor", 1.0) != 1.0)
    r.fail("partial_rotary_factor", numberText(r.number("partial_rotary_factor", 1.0)) +
                                        " is not supported: rotary embeddings turn the whole head");

  if (llama) {
    c.qkv_bias = c.o_bias = r.boolean("attention_bias", false);
    c.mlp_bias = r.boolean("mlp_bias", false);
  } else {
    const std::string family = qwen2 ? "Qwen2" : "Mistral";
    r.requireBoolean("attention_bias", false, family + "'s attention biases are fixed by its architecture");
    r.requireBoolean("mlp_bias", false, family + " has no MLP biases");
    c.qkv_bias = qwen2;  // Qwen2: q, k and v have biases, o does not
  }
  if (qwen2) {
    if (r.boolean("use_sliding_window", false)) c.sliding_window = r.positive("sliding_window", 4096);
  } else if (c.architecture == HfArchitecture::Mistral) {
    c.sliding_window = r.has("sliding_window") ? r.positive("sliding_window", 4096) : 0;
  }
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  c.dropout = r.number("attention_dropout", 0.0);
  if (!(c.dropout >= 0 && c.dropout < 1)) r.fail("attention_dropout", numberText(c.dropout) + " is not a probability in [0, 1)");
}

json tokenIdJson(const std::optional<int64_t>& id) { return id ? json(*id) : json(nullptr); }

json eosJson(const std::vector<int64_t>& ids) {
  if (ids.empty()) return nullptr;
  if (ids.size() == 1) return ids[0];
  return ids;
}

json ropeScalingJson(const RopeScaling& scaling) {
  switch (scaling.kind) {
    case RopeScaling::Kind::None:
      return nullptr;
    case RopeScaling::Kind::Linear:
      return {{"rope_type", "linear"}, {"type", "linear"}, {"factor", scaling.factor}};
    case RopeScaling::Kind::Llama3:
      return {{"rope_type", "llama3"},
              {"factor", scaling.factor},
              {"low_freq_factor", scaling.low_freq_factor},
              {"high_freq_factor", scaling.high_freq_factor},
              {"original_max_position_embeddings", scaling.original_max_position_embeddings}};
  }
  return nullptr;
}

}  // namespace

std::string architectureName(HfArchitecture architecture) {
  switch (architecture) {
    case HfArchitecture::Gpt2:
      return "GPT2LMHeadModel";
    case HfArchitecture::Llama:
      return "LlamaForCausalLM";
    case HfArchitecture::Qwen2:
      return "Qwen2ForCausalLM";
    case HfArchitecture::Mistral:
      return "MistralForCausalLM";
  }
  return "LlamaForCausalLM";
}

std::string modelTypeName(HfArchitecture architecture) {
  switch (architecture) {
    case HfArchitecture::Gpt2:
      return "gpt2";
    case HfArchitecture::Llama:
      return "llama";
    case HfArchitecture::Qwen2:
      return "qwen2";
    case HfArchitecture::Mistral:
      return "mistral";
  }
  return "llama";
}

HfConfig parseHfConfig(const std::string& text, const std::string& path) {
  json object;
  try {
    object = json::parse(text);
  } catch (const json::exception& e) {
    throw DataError(path + ": not JSON (" + std::string(e.what()) + ")");
  }
  if (!object.is_object()) throw DataError(path + ": expected a JSON object, got " + std::string(object.type_name()));
  const Reader reader(object, path);
  HfConfig config;
  config.path = path;
  config.architecture = architectureOf(reader);
  if (config.architecture == HfArchitecture::Gpt2)
    readGpt2(reader, config);
  else
    readLlamaFamily(reader, config);
  // transformers 4.56 renamed torch_dtype to dtype.
  config.torch_dtype = reader.text(reader.has("dtype") ? "dtype" : "torch_dtype", "float32");
  if (config.torch_dtype != "float32" && config.torch_dtype != "float16" && config.torch_dtype != "bfloat16")
    reader.fail(reader.has("dtype") ? "dtype" : "torch_dtype",
                "'" + config.torch_dtype + "' is not supported (supported: float32, float16, bfloat16)");
  if (reader.has("bos_token_id")) config.bos_token_id = reader.integer("bos_token_id", 0);
  config.eos_token_ids = eosIds(reader);
  return config;
}

HfConfig readHfConfig(const std::string& folder_or_file) {
  namespace fs = std::filesystem;
  const fs::path given(folder_or_file);
  const fs::path path = fs::is_directory(given) ? given / "config.json" : given;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path.string() + ": cannot read the model's config (is this a Hugging Face model folder?)");
  std::ostringstream text;
  text << in.rdbuf();
  return parseHfConfig(text.str(), path.string());
}

std::string hfConfigJson(const HfConfig& c) {
  json out;
  out["architectures"] = json::array({architectureName(c.architecture)});
  out["model_type"] = modelTypeName(c.architecture);
  out["vocab_size"] = c.vocab_size;
  out["bos_token_id"] = tokenIdJson(c.bos_token_id);
  out["eos_token_id"] = eosJson(c.eos_token_ids);
  out["torch_dtype"] = c.torch_dtype;
  out["tie_word_embeddings"] = c.tie_word_embeddings;
  out["initializer_range"] = 0.02;
  out["use_cache"] = true;
  if (c.architecture == HfArchitecture::Gpt2) {
    out["n_positions"] = c.max_position_embeddings;
    out["n_ctx"] = c.max_position_embeddings;
    out["n_embd"] = c.hidden_size;
    out["n_layer"] = c.num_hidden_layers;
    out["n_head"] = c.num_attention_heads;
    out["n_inner"] = nullptr;
    out["activation_function"] = c.hidden_act;
    out["layer_norm_epsilon"] = c.norm_eps;
    out["resid_pdrop"] = out["embd_pdrop"] = out["attn_pdrop"] = c.dropout;
    out["scale_attn_weights"] = true;
    out["scale_attn_by_inverse_layer_idx"] = false;
    out["reorder_and_upcast_attn"] = false;
  } else {
    out["hidden_size"] = c.hidden_size;
    out["intermediate_size"] = c.intermediate_size;
    out["num_hidden_layers"] = c.num_hidden_layers;
    out["num_attention_heads"] = c.num_attention_heads;
    out["num_key_value_heads"] = c.num_key_value_heads;
    out["head_dim"] = c.head_dim;
    out["max_position_embeddings"] = c.max_position_embeddings;
    out["rms_norm_eps"] = c.norm_eps;
    out["hidden_act"] = c.hidden_act.empty() ? "silu" : c.hidden_act;
    out["rope_theta"] = c.rope_theta;
    out["rope_scaling"] = ropeScalingJson(c.rope_scaling);
    out["attention_dropout"] = c.dropout;
    if (c.architecture == HfArchitecture::Llama) {
      if (c.qkv_bias != c.o_bias)
        throw DataError("a LlamaForCausalLM has biases on q, k, v and o together (attention_bias) or on none");
      out["attention_bias"] = c.qkv_bias;
      out["mlp_bias"] = c.mlp_bias;
    } else if (c.architecture == HfArchitecture::Qwen2) {
      if (!c.qkv_bias || c.o_bias || c.mlp_bias)
        throw DataError("a Qwen2ForCausalLM has biases on q, k and v and nowhere else");
      out["use_sliding_window"] = c.sliding_window > 0;
      out["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
      out["max_window_layers"] = c.num_hidden_layers;
    } else {
      if (c.qkv_bias || c.o_bias || c.mlp_bias) throw DataError("a MistralForCausalLM has no biases");
      out["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
    }
  }
  // Checked by the reader: what is written must read back as the same config.
  parseHfConfig(out.dump(), "config.json");
  return out.dump(2) + "\n";
}

}  // namespace distill
