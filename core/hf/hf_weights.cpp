#include "core/hf/hf_weights.h"

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "core/errors.h"
#include "core/hf/safetensors.h"
#include "core/runtime/file_io.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/lm/llama.h"

namespace distill {

namespace {

namespace fs = std::filesystem;

std::string configPath(const HfConfig& config) { return config.path.empty() ? "config.json" : config.path; }

std::string shapeText(c10::IntArrayRef sizes) {
  std::string text = "(";
  for (size_t i = 0; i < sizes.size(); ++i) text += (i ? ", " : "") + std::to_string(sizes[i]);
  return text + ")";
}

// GPT-2's Conv1D layers store weights (in, out), the transpose of a Linear's (out, in).
bool isConv1dWeight(const std::string& native_name) {
  for (const char* suffix : {"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"}) {
    const std::string s(suffix);
    if (native_name.size() >= s.size() && native_name.compare(native_name.size() - s.size(), s.size(), s) == 0)
      return true;
  }
  return false;
}

// One weight of the model as the checkpoint names and shapes it.
struct ExpectedTensor {
  torch::Tensor parameter;  // the model's own
  bool transposed = false;  // stored as parameter^T (GPT-2's Conv1D)
  std::vector<int64_t> storedShape() const {
    return transposed ? parameter.t().sizes().vec() : parameter.sizes().vec();
  }
};

// What the checkpoint calls each of the model's parameters.
std::map<std::string, ExpectedTensor> expectedTensors(const ModelImpl& model, const HfConfig& config,
                                                      const std::string& gpt2_prefix) {
  std::map<std::string, ExpectedTensor> expected;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (config.architecture == HfArchitecture::Gpt2)
      expected[gpt2_prefix + item.key()] = {item.value(), isConv1dWeight(item.key())};
    else
      expected[item.key()] = {item.value(), false};
  }
  return expected;
}

// Tensors a checkpoint may hold that are not weights: GPT-2's causal-mask buffers, older Llama
// saves' rotary frequencies.
bool isIgnoredBuffer(const std::string& name, HfArchitecture architecture) {
  static const std::regex gpt2_buffer(R"(^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$)");
  static const std::regex rotary_buffer(R"(^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$)");
  return std::regex_match(name, architecture == HfArchitecture::Gpt2 ? gpt2_buffer : rotary_buffer);
}

// The file a missing tensor should have been in: the single file, else the index.
std::string weightsFile(const std::string& folder) {
  const fs::path single = fs::path(folder) / "model.safetensors";
  if (fs::exists(single) || !fs::is_directory(folder)) return fs::is_directory(folder) ? single.string() : folder;
  return (fs::path(folder) / "model.safetensors.index.json").string();
}

int64_t resolvedContext(const HfConfig& c, const HfLoadOptions& options) {
  const std::string positions_key = c.architecture == HfArchitecture::Gpt2 ? "n_positions" : "max_position_embeddings";
  if (options.context < 0)
    throw DataError(configPath(c) + ": a context of " + std::to_string(options.context) + " positions was asked");
  if (options.context > c.max_position_embeddings)
    throw DataError(configPath(c) + ": " + positions_key + ": the model holds " +
                    std::to_string(c.max_position_embeddings) + " positions; a context of " +
                    std::to_string(options.context) + " was asked");
  const int64_t context = options.context > 0 ? options.context : c.max_position_embeddings;
  if (c.sliding_window > 0 && c.sliding_window < context)
    throw DataError(configPath(c) + ": sliding_window: " + std::to_string(c.sliding_window) +
                    " is smaller than the context of " + std::to_string(context) +
                    " positions; attention over a sliding window is not implemented (load with a context of at most " +
                    std::to_string(c.sliding_window) + ")");
  return context;
}

}  // namespace

Model buildHfModel(const HfConfig& c, const HfLoadOptions& options) {
  const int64_t context = resolvedContext(c, options);
  try {
    if (c.architecture == HfArchitecture::Gpt2) {
      GptConfig gpt;
      gpt.vocab = c.vocab_size;
      gpt.context = c.max_position_embeddings;  // wpe holds every learned position
      gpt.layers = c.num_hidden_layers;
      gpt.heads = c.num_attention_heads;
      gpt.d_model = c.hidden_size;
      gpt.dropout = c.dropout;
      gpt.gelu = c.hidden_act == "gelu" ? GeluKind::Erf : GeluKind::Tanh;
      gpt.layer_norm_epsilon = c.norm_eps;
      return makeGpt(gpt);
    }
    LlamaConfig llama;
    llama.family = c.architecture == HfArchitecture::Qwen2     ? LlamaFamily::Qwen2
                   : c.architecture == HfArchitecture::Mistral ? LlamaFamily::Mistral
                                                               : LlamaFamily::Llama;
    llama.vocab = c.vocab_size;
    llama.context = context;
    llama.max_position_embeddings = c.max_position_embeddings;
    llama.layers = c.num_hidden_layers;
    llama.d_model = c.hidden_size;
    llama.heads = c.num_attention_heads;
    llama.kv_heads = c.num_key_value_heads;
    llama.head_dim = c.head_dim;
    llama.intermediate = c.intermediate_size;
    llama.rms_norm_eps = c.norm_eps;
    llama.rope_theta = c.rope_theta;
    llama.rope_scaling = c.rope_scaling;
    llama.qkv_bias = c.qkv_bias;
    llama.o_bias = c.o_bias;
    llama.mlp_bias = c.mlp_bias;
    llama.tie_word_embeddings = c.tie_word_embeddings;
    llama.attention_dropout = c.dropout;
    return makeLlama(llama);
  } catch (const ModelError& e) {
    throw DataError(configPath(c) + ": cannot build a " + architectureName(c.architecture) + ": " + e.what());
  }
}

Model loadHfModel(const std::string& folder, const HfLoadOptions& options) {
  Model model = buildHfModel(readHfConfig(folder), options);
  loadHfWeights(*model, folder);
  return model;
}

void loadHfWeights(ModelImpl& model, const std::string& folder) {
  const HfConfig config = readHfConfig(folder);
  const HfConfig own = hfConfigOf(model);  // ModelError for a model of no Hugging Face class
  const bool gpt2_folder = config.architecture == HfArchitecture::Gpt2;
  if (gpt2_folder != (own.architecture == HfArchitecture::Gpt2))
    throw DataError(configPath(config) + ": a " + architectureName(config.architecture) +
                    " cannot be loaded into this model (" + model.summary() + ")");
  const auto checkpoint = SafetensorsCheckpoint::open(folder);
  const auto names = checkpoint.names();

  std::string gpt2_prefix;
  if (config.architecture == HfArchitecture::Gpt2)
    for (const auto& name : names)
      if (name.rfind("transformer.", 0) == 0) gpt2_prefix = "transformer.";
  const auto expected = expectedTensors(model, config, gpt2_prefix);
  const std::string architecture = architectureName(config.architecture);
  const std::string config_file = configPath(config);

  auto checkShape = [&](const std::string& name, const std::vector<int64_t>& wanted) {
    const auto stored = checkpoint.entry(name).shape;
    if (stored != wanted)
      throw DataError(checkpoint.fileOf(name) + ": tensor " + name + " has shape " + shapeText(stored) +
                      "; the config (" + config_file + ") makes it " + shapeText(wanted));
  };
  // Every stored tensor is a weight of the model, a tied head, or a known buffer.
  for (const auto& name : names) {
    const auto found = expected.find(name);
    if (found != expected.end()) {
      checkShape(name, found->second.storedShape());
    } else if (name == "lm_head.weight" && config.tie_word_embeddings) {
      checkShape(name, {config.vocab_size, config.hidden_size});  // the embedding is the head
    } else if (!isIgnoredBuffer(name, config.architecture)) {
      throw DataError(checkpoint.fileOf(name) + ": unexpected tensor " + name + ": a " + architecture + " of " +
                      config_file + " has no such weight");
    }
  }
  for (const auto& item : expected)
    if (!checkpoint.contains(item.first))
      throw DataError(weightsFile(folder) + ": missing tensor " + item.first + " " +
                      shapeText(item.second.storedShape()) + " of a " + architecture + " (" + config_file + ")");

  torch::NoGradGuard no_grad;
  for (const auto& item : expected) {
    const auto stored = checkpoint.tensorAsFloat(item.first);
    item.second.parameter.copy_((item.second.transposed ? stored.t() : stored).to(item.second.parameter.device()));
  }
}

HfConfig hfConfigOf(const ModelImpl& model) {
  HfConfig c;
  if (const auto* gpt = dynamic_cast<const GptImpl*>(&model)) {
    const GptConfig& g = gpt->config();
    c.architecture = HfArchitecture::Gpt2;
    c.vocab_size = g.vocab;
    c.hidden_size = g.d_model;
    c.intermediate_size = 4 * g.d_model;
    c.num_hidden_layers = g.layers;
    c.num_attention_heads = c.num_key_value_heads = g.heads;
    c.head_dim = g.d_model / g.heads;
    c.max_position_embeddings = g.context;
    c.norm_eps = g.layer_norm_epsilon;
    c.hidden_act = g.gelu == GeluKind::Tanh ? "gelu_new" : "gelu";
    c.tie_word_embeddings = true;
    c.dropout = g.dropout;
    return c;
  }
  if (const auto* llama = dynamic_cast<const LlamaImpl*>(&model)) {
    const LlamaConfig& l = llama->config();
    c.architecture = l.family == LlamaFamily::Qwen2     ? HfArchitecture::Qwen2
                     : l.family == LlamaFamily::Mistral ? HfArchitecture::Mistral
                                                        : HfArchitecture::Llama;
    c.vocab_size = l.vocab;
    c.hidden_size = l.d_model;
    c.intermediate_size = l.intermediate;
    c.num_hidden_layers = l.layers;
    c.num_attention_heads = l.heads;
    c.num_key_value_heads = l.kv_heads;
    c.head_dim = l.head_dim;
    c.max_position_embeddings = std::max(l.context, l.max_position_embeddings);
    c.norm_eps = l.rms_norm_eps;
    c.hidden_act = "silu";
    c.rope_theta = l.rope_theta;
    c.rope_scaling = l.rope_scaling;
    c.qkv_bias = l.qkv_bias;
    c.o_bias = l.o_bias;
    c.mlp_bias = l.mlp_bias;
    c.tie_word_embeddings = l.tie_word_embeddings;
    c.dropout = l.attention_dropout;
    return c;
  }
  throw ModelError("only a GPT or a Llama-family model can be written as a Hugging Face folder; this is " +
                   model.summary());
}

void saveHfModel(const ModelImpl& model, const std::string& folder, const HfSaveOptions& options) {
  HfConfig config = hfConfigOf(model);
  if (options.source) {
    config.bos_token_id = options.source->bos_token_id;
    config.eos_token_ids = options.source->eos_token_ids;
    if (options.source->architecture == config.architecture) config.sliding_window = options.source->sliding_window;
  }
  if (options.dtype == torch::kFloat)
    config.torch_dtype = "float32";
  else if (options.dtype == torch::kBFloat16)
    config.torch_dtype = "bfloat16";
  else if (options.dtype == torch::kHalf)
    config.torch_dtype = "float16";
  else
    throw ModelError(std::string("cannot save a Hugging Face model as ") + c10::toString(options.dtype) +
                     " (float32, bfloat16 or float16)");

  NamedTensors tensors;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    auto tensor = item.value().detach().to(torch::kCPU);
    if (config.architecture == HfArchitecture::Gpt2) {
      if (isConv1dWeight(item.key())) tensor = tensor.t();
      tensors.emplace_back("transformer." + item.key(), tensor.contiguous());
    } else {
      tensors.emplace_back(item.key(), tensor.contiguous());
    }
  }
  const std::string config_text = hfConfigJson(config);
  fs::create_directories(folder);
  writeSafetensorsSharded(folder, tensors, {{"format", "pt"}}, options.max_shard_bytes, options.dtype);
  try {
    writeWholeFile((fs::path(folder) / "config.json").string(), config_text);
  } catch (const std::runtime_error& e) {
    throw DataError(e.what());
  }
}

}  // namespace distill
