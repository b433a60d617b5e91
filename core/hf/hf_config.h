// A Hugging Face model folder's config.json, read into a typed config: the architecture, the
// sizes, the norm's epsilon, the rotary settings, the bias flags, the tied head, the stored
// dtype and the special token ids. Only what the workbench can compute exactly is accepted:
// an architecture outside GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM and
// MistralForCausalLM, or a known key with a value that changes the computation in a way the
// workbench does not implement (rope_scaling yarn, hidden_act gelu for a Llama, GPT-2's
// attention scaled by layer index, ...), is refused naming config.json and the key. Keys that
// do not change the forward pass (use_cache, initializer_range, transformers_version, ...) are
// ignored. A missing key takes transformers' default for that architecture's config class.
//
// Usage:
//   const HfConfig config = readHfConfig("/models/SmolLM2-135M");  // the folder or its config.json
//   if (config.architecture == HfArchitecture::Llama) ...
//
// Thread contract: plain functions and a plain struct, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/tasks/lm/llama.h"

namespace distill {

enum class HfArchitecture { Gpt2, Llama, Qwen2, Mistral };

struct HfConfig {
  HfArchitecture architecture = HfArchitecture::Llama;
  std::string path;  // the config.json it was read from (for messages); empty when built in memory

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;              // GPT-2: n_embd
  int64_t intermediate_size = 0;        // GPT-2: n_inner, or 4 n_embd when null
  int64_t num_hidden_layers = 0;        // GPT-2: n_layer
  int64_t num_attention_heads = 0;      // GPT-2: n_head
  int64_t num_key_value_heads = 0;      // GPT-2: n_head
  int64_t head_dim = 0;                 // hidden_size / num_attention_heads unless given
  int64_t max_position_embeddings = 0;  // GPT-2: n_positions
  double norm_eps = 0.0;                // GPT-2: layer_norm_epsilon; Llama family: rms_norm_eps
  std::string hidden_act;               // GPT-2: activation_function (gelu_new, gelu_pytorch_tanh, gelu)

  // Llama family only.
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool qkv_bias = false;  // Llama: attention_bias; Qwen2: always
  bool o_bias = false;    // Llama: attention_bias
  bool mlp_bias = false;  // Llama: mlp_bias
  // Attention limited to the last sliding_window positions (Mistral; Qwen2 with
  // use_sliding_window); 0 when it is not. Models are built only for contexts within it.
  int64_t sliding_window = 0;

  bool tie_word_embeddings = true;
  // GPT-2: resid_pdrop (= embd_pdrop = attn_pdrop); Llama family: attention_dropout.
  double dropout = 0.0;
  std::string torch_dtype = "float32";  // float32, float16 or bfloat16: how the weights are stored
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // eos_token_id: one id or a list
};

// GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM.
std::string architectureName(HfArchitecture architecture);
// gpt2, llama, qwen2, mistral.
std::string modelTypeName(HfArchitecture architecture);

// Reads `folder_or_file` (a model folder holding config.json, or the file itself). Throws
// DataError naming the file and the key: a missing or unreadable file, text that is not a JSON
// object, a key of the wrong type ("config.json: hidden_size: expected an integer, got
// \"64\""), an unsupported architecture or value ("config.json: rope_scaling.rope_type: 'yarn'
// is not supported (supported: default, linear, llama3)").
HfConfig readHfConfig(const std::string& folder_or_file);
// The same from the file's text; `path` names it in messages.
HfConfig parseHfConfig(const std::string& text, const std::string& path);

// config.json as transformers writes it for this config (sorted keys, two-space indent), so that
// from_pretrained builds the same model. Throws DataError for a config that readHfConfig would
// refuse.
std::string hfConfigJson(const HfConfig& config);

}  // namespace distill
