// The Llama family of decoders as Hugging Face's transformers computes them: LlamaForCausalLM,
// Qwen2ForCausalLM and MistralForCausalLM (Touvron et al. 2023, "LLaMA"; Qwen2 and Mistral are
// the same block with other defaults). Token embedding, pre-RMSNorm blocks of rotary
// grouped-query attention and a SwiGLU MLP, a final RMSNorm, a head tied to the embedding or not.
//
// What differs from the task's GPT (gpt.h): no position embedding (rotary embeddings turn q and k
// by their position, Su et al. 2021, "RoFormer"), RMSNorm instead of LayerNorm (Zhang & Sennrich
// 2019), fewer key/value heads than query heads (attention.h), separate q/k/v projections with
// biases per family (Qwen2: q, k, v and not o), and gate/up/down projections with SiLU
// (Shazeer 2020, "GLU Variants Improve Transformer"). The KV cache (kv_cache.h) and the attention
// product (attention.h) are the GPT's.
//
// Submodules carry Hugging Face's names (model.embed_tokens, model.layers.<i>.self_attn.q_proj,
// model.layers.<i>.mlp.gate_proj, model.norm, lm_head), so that named_parameters() is the
// checkpoint's state dict and loading is a copy by name (core/hf/hf_weights.h).
//
// Shapes: B batch, T positions, C = hidden size, h query heads, h_kv key/value heads, d head
// size, I intermediate size, V vocabulary.
//
// Thread contract: a model is used by one thread at a time (the thread that runs it).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/models/dropout.h"
#include "core/tasks/lm/causal_lm.h"

namespace distill {

// Which Hugging Face class the model is; the block is the same, the defaults and names in
// config.json differ (core/hf/hf_config.h).
enum class LlamaFamily { Llama, Qwen2, Mistral };

// Rotary frequencies rescaled for a longer context than the model was trained at (transformers'
// modeling_rope_utils.py). None: theta^(-2i/d). Linear: every frequency divided by `factor`
// (Chen et al. 2023, "position interpolation"). Llama3: frequencies with wavelengths above
// original_max_position_embeddings / low_freq_factor divided by `factor`, those below
// original_max_position_embeddings / high_freq_factor kept, the band between interpolated
// smoothly (Meta's Llama 3.1).
struct RopeScaling {
  enum class Kind { None, Linear, Llama3 };
  Kind kind = Kind::None;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

// Hyperparameters, stored with the model (saveHfModel writes them back as config.json).
struct LlamaConfig {
  LlamaFamily family = LlamaFamily::Llama;
  int64_t vocab = 32000;
  int64_t context = 2048;  // positions one sequence may hold (max_position_embeddings, or fewer)
  // The checkpoint's max_position_embeddings when `context` was cut below it (written back by
  // saveHfModel); 0: context.
  int64_t max_position_embeddings = 0;
  int64_t layers = 2;
  int64_t d_model = 64;       // hidden_size
  int64_t heads = 4;          // num_attention_heads
  int64_t kv_heads = 4;       // num_key_value_heads: divides heads
  int64_t head_dim = 16;      // d: q_proj is (h d, C)
  int64_t intermediate = 172;  // intermediate_size
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool qkv_bias = false;  // bias on q_proj, k_proj, v_proj (Llama's attention_bias, Qwen2 always)
  bool o_bias = false;    // bias on o_proj (Llama's and Mistral's attention_bias)
  bool mlp_bias = false;  // bias on gate_proj, up_proj, down_proj (Llama's mlp_bias)
  bool tie_word_embeddings = false;  // no lm_head: the head is embed_tokens' weight
  double attention_dropout = 0.0;    // on the attention probabilities, in training only
};

// RMSNorm: x / sqrt(mean(x^2) + eps) * weight over the last dimension, in float32.
class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t size, double eps);
  torch::Tensor forward(const torch::Tensor& x);  // (..., C) -> (..., C)

 private:
  double eps_;
  torch::Tensor weight_;  // (C), ones at construction
};
TORCH_MODULE(RmsNorm);

// Rotary position embedding for one head size: cos and sin tables for a run of positions, and
// their application with Hugging Face's rotate_half convention (the first and second halves of
// a head are the pairs turned together, not interleaved neighbours).
class RotaryEmbedding {
 public:
  // Throws ModelError for a head size that is odd or a scaling that cannot be applied.
  RotaryEmbedding(int64_t head_dim, double theta, const RopeScaling& scaling);
  // cos, sin (T, d) for positions start .. start + T - 1, on `device`.
  std::pair<torch::Tensor, torch::Tensor> table(int64_t start, int64_t positions, const torch::Device& device) const;
  // x (B, heads, T, d) turned by the table's angles: x cos + rotate_half(x) sin.
  static torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
  const torch::Tensor& inverseFrequencies() const { return inverse_frequencies_; }

 private:
  torch::Tensor inverse_frequencies_;  // (d / 2) float32, after scaling
};

// q/k/v/o projections, rotary embedding, grouped-query causal attention.
class LlamaAttentionImpl : public torch::nn::Module {
 public:
  explicit LlamaAttentionImpl(const LlamaConfig& config);
  // x (B, T, C) at positions start .. start + T - 1; with a cache, its keys and values are
  // appended to `cache`'s `layer` and the queries attend to every cached position too; without
  // one (start 0), to x's own positions. mask (T, T_k); cos, sin (T, d). Returns (B, T, C).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, const torch::Tensor& cos,
                        const torch::Tensor& sin, KvCache* cache, int64_t layer);

 private:
  int64_t heads_, kv_heads_, head_dim_;
  torch::nn::Linear q_proj_{nullptr};  // (h d, C)
  torch::nn::Linear k_proj_{nullptr};  // (h_kv d, C)
  torch::nn::Linear v_proj_{nullptr};  // (h_kv d, C)
  torch::nn::Linear o_proj_{nullptr};  // (C, h d)
  FastDropout attention_dropout_{nullptr};
};
TORCH_MODULE(LlamaAttention);

// down(silu(gate(x)) * up(x)).
class LlamaMlpImpl : public torch::nn::Module {
 public:
  explicit LlamaMlpImpl(const LlamaConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

 private:
  torch::nn::Linear gate_proj_{nullptr};  // (I, C)
  torch::nn::Linear up_proj_{nullptr};    // (I, C)
  torch::nn::Linear down_proj_{nullptr};  // (C, I)
};
TORCH_MODULE(LlamaMlp);

// x + attn(input_layernorm(x)), then x + mlp(post_attention_layernorm(x)).
class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  explicit LlamaDecoderLayerImpl(const LlamaConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, const torch::Tensor& cos,
                        const torch::Tensor& sin, KvCache* cache, int64_t layer);  // (B, T, C)

 private:
  RmsNorm input_layernorm_{nullptr}, post_attention_layernorm_{nullptr};
  LlamaAttention self_attn_{nullptr};
  LlamaMlp mlp_{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

// Hugging Face's LlamaModel: what the "model." prefix of the state dict holds.
class LlamaBodyImpl : public torch::nn::Module {
 public:
  explicit LlamaBodyImpl(const LlamaConfig& config);

  torch::nn::Embedding embed_tokens{nullptr};  // (V, C)
  torch::nn::ModuleList layers;
  std::vector<LlamaDecoderLayer> typed_layers;  // layers' members, typed
  RmsNorm norm{nullptr};
};
TORCH_MODULE(LlamaBody);

// The whole model: tokens int64 [B, T] -> logits float [B, T, V].
class LlamaImpl : public CausalLmImpl {
 public:
  // Throws ModelError naming the field when the config cannot build a model.
  explicit LlamaImpl(const LlamaConfig& config);

  // Throws ModelError for tokens that are not int64 [B, T] with 1 <= T <= context and ids in
  // [0, vocab).
  torch::Tensor forward(torch::Tensor tokens) override;
  // Logits and the residual stream after layer `index` (0-based, -1 = the last), (B, T, C).
  std::pair<torch::Tensor, torch::Tensor> forwardWithFeature(torch::Tensor tokens, int64_t index) override;
  torch::Tensor forwardCached(const torch::Tensor& tokens, KvCache& cache) override;
  KvCache newCache() const override { return KvCache(config_.layers, config_.context); }
  int64_t vocabSize() const override { return config_.vocab; }
  int64_t contextLength() const override { return config_.context; }
  int64_t hiddenCount() const override { return config_.layers; }
  // "Qwen2 2 layers x 64, 4 heads (2 key/value) of 16, MLP 128, context 128, vocab 256, rope
  // theta 10000, tied head; 123456 parameters"
  std::string summary() const override;
  // One full-context sequence: the projections, MLP and head times T, plus QK^T and AV.
  int64_t forwardMacsPerSample() const override;
  // One full-context sequence: the widest of the MLP's (T, I), the logits (T, V) and the
  // attention scores (h, T, T).
  int64_t widestActivationPerSample() const override;

  const LlamaConfig& config() const { return config_; }
  // The head's weight (V, C): lm_head's, or embed_tokens' when tied.
  const torch::Tensor& headWeight() const;

 private:
  // Positions start .. start + T - 1; `cache` null for forward(). feature_layer >= 0 also
  // returns the residual stream after that layer.
  std::pair<torch::Tensor, torch::Tensor> run(const torch::Tensor& tokens, int64_t start, KvCache* cache,
                                              int64_t feature_layer);

  LlamaConfig config_;
  RotaryEmbedding rotary_;
  LlamaBody model_{nullptr};
  torch::nn::Linear lm_head_{nullptr};  // (V, C), absent when tied
};
TORCH_MODULE(Llama);

// Builds a model of the family with the initialisation transformers gives a fresh one
// (N(0, initializer_range 0.02) weights, zero biases, unit norms). Throws ModelError for a bad
// config.
Model makeLlama(const LlamaConfig& config);

// "Llama", "Qwen2", "Mistral".
std::string familyName(LlamaFamily family);

}  // namespace distill
