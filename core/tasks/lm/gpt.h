// A decoder-only transformer for the language-model task, GPT-2's shape as nanoGPT writes it
// (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners"; Karpathy's
// nanoGPT model.py): token + learned position embeddings, pre-LayerNorm blocks of causal
// multi-head self-attention and a 4x GELU MLP, a final LayerNorm, and an output head tied to the
// token embedding. It matches the GPT in ../shared/bench/reference_lm_kd.py layer for layer.
//
// Small classes in reading order: attention, MLP, block, config, model. Submodules carry
// GPT-2's names (wte, wpe, h.<i>.ln_1, h.<i>.attn.c_attn, h.<i>.attn.c_proj, h.<i>.mlp.c_fc,
// h.<i>.mlp.c_proj, ln_f) so that a later Hugging Face importer maps names one to one (GPT-2's
// Conv1D weights are stored transposed there).
//
// Shapes: B batch, T sequence length (T <= context), C = d_model, h heads, C / h per head,
// V vocabulary.
//
// GPT-2 as Hugging Face's GPT2LMHeadModel computes it is this model with
// activation = GeluTanh ("gelu_new") and GPT-2's layer_norm_epsilon (core/hf/hf_weights.h loads
// such checkpoints); the defaults are nanoGPT's (exact GELU), which existing runs keep.
//
// Thread contract: a model is used by one thread at a time (the training thread).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/models/dropout.h"
#include "core/models/model.h"
#include "core/tasks/lm/causal_lm.h"
#include "core/tasks/lm/kv_cache.h"

namespace distill {

// Causal multi-head self-attention with one fused QKV projection, written out (LibTorch 1.13
// has no scaled_dot_product_attention, and torch::nn::MultiheadAttention adds a boolean mask
// as 0/1 instead of masking: pytorch issue 80494).
class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(int64_t d_model, int64_t heads, double dropout);
  // x: (B, T, C); causal_mask: (T, T) float, 0 on and below the diagonal, -inf above.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& causal_mask);
  // Decoding: x (B, T_new, C) holds the positions after the T_cached ones in `cache`; their keys
  // and values are appended to the cache's `layer`, then their queries attend to all
  // T_cached + T_new keys. causal_mask: (T_new, T_cached + T_new), the model's mask rows of
  // the new positions (causal within the new ones, every cached position visible).
  torch::Tensor forwardCached(const torch::Tensor& x, const torch::Tensor& causal_mask, KvCache& cache, int64_t layer);

  const torch::nn::Linear& residualProjection() const { return c_proj_; }

 private:
  // Attention of q (B, h, T_q, C/h) over k, v (B, h, T_k, C/h) with causal_mask (T_q, T_k),
  // then the output projection: (B, T_q, C).
  torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const torch::Tensor& causal_mask);

  int64_t heads_;
  torch::nn::Linear c_attn_{nullptr};  // weight (3C, C): q, k and v in one product
  torch::nn::Linear c_proj_{nullptr};  // weight (C, C): back into the residual stream
  FastDropout attn_dropout_{nullptr};  // on the attention probabilities
  FastDropout resid_dropout_{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

// The MLP's GELU: Erf is nn.GELU's default (nanoGPT); Tanh is the tanh approximation,
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's "gelu_new" (Hendrycks & Gimpel 2016).
enum class GeluKind { Erf, Tanh };

// The position-wise MLP: C -> 4C, GELU, 4C -> C.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t d_model, double dropout, GeluKind gelu = GeluKind::Erf);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  const torch::nn::Linear& residualProjection() const { return c_proj_; }

 private:
  torch::nn::Linear c_fc_{nullptr};    // weight (4C, C)
  torch::nn::Linear c_proj_{nullptr};  // weight (C, 4C)
  FastDropout dropout_{nullptr};
  GeluKind gelu_;
};
TORCH_MODULE(Mlp);

// One pre-LayerNorm block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int64_t d_model, int64_t heads, double dropout, GeluKind gelu = GeluKind::Erf,
            double layer_norm_epsilon = 1e-5);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& causal_mask);  // (B, T, C)
  // (B, T_new, C) with the attention's keys and values cached (see CausalSelfAttention).
  torch::Tensor forwardCached(const torch::Tensor& x, const torch::Tensor& causal_mask, KvCache& cache, int64_t layer);

  const CausalSelfAttention& attention() const { return attn_; }
  const Mlp& mlp() const { return mlp_; }

 private:
  torch::nn::LayerNorm ln_1_{nullptr}, ln_2_{nullptr};
  CausalSelfAttention attn_{nullptr};
  Mlp mlp_{nullptr};
};
TORCH_MODULE(Block);

// Hyperparameters, stored with the model. The defaults are the reference's teacher.
struct GptConfig {
  int64_t vocab = 256, context = 128, layers = 4, heads = 4, d_model = 256;
  double dropout = 0.1;  // on embeddings, attention probabilities and residual branches
  GeluKind gelu = GeluKind::Erf;     // GPT-2: Tanh ("gelu_new")
  double layer_norm_epsilon = 1e-5;  // every LayerNorm's eps (GPT-2's is 1e-5 too)
};

// The whole model: tokens int64 [B, T] -> logits float [B, T, V].
class GptImpl : public CausalLmImpl {
 public:
  // Throws ModelError naming the field when the config cannot build a model.
  explicit GptImpl(const GptConfig& config);

  // Throws ModelError for tokens that are not int64 [B, T] with 1 <= T <= context, or that lie
  // outside [0, vocab).
  torch::Tensor forward(torch::Tensor tokens) override;
  // Logits and the residual stream after block `index` (0-based, -1 = the last), (B, T, C).
  std::pair<torch::Tensor, torch::Tensor> forwardWithFeature(torch::Tensor tokens, int64_t index) override;
  // Incremental decoding (CausalLmImpl). Positions beyond the context are refused as
  // "positions 126..129 reach beyond the model's context of 128 (positions 0..127)".
  torch::Tensor forwardCached(const torch::Tensor& tokens, KvCache& cache) override;
  // An empty cache for this model: one layer per block, room for the whole context.
  KvCache newCache() const override { return KvCache(config_.layers, config_.context); }
  int64_t vocabSize() const override { return config_.vocab; }
  int64_t contextLength() const override { return config_.context; }
  int64_t hiddenCount() const override { return config_.layers; }
  // "GPT 4 layers x 256, 4 heads, context 128, vocab 256, dropout 0.1; 3257856 parameters"
  // (", gelu tanh" and ", layer norm eps 1e-06" appear when they are not the defaults)
  std::string summary() const override;
  // One full-context sequence: the linear layers (QKV, projection, MLP, head) times T, plus
  // the attention products QK^T and AV over the whole T x T square (the mask does not skip
  // work); embeddings, LayerNorm and softmax are not multiply-accumulates.
  int64_t forwardMacsPerSample() const override;
  // One full-context sequence: the widest of the MLP's (T, 4C), the logits (T, V) and the
  // attention scores (h, T, T).
  int64_t widestActivationPerSample() const override;

  const GptConfig& config() const { return config_; }
  // The head's weight (V, C): the token embedding's own tensor (weight tying, Press & Wolf 2017).
  const torch::Tensor& headWeight() const { return wte_->weight; }

 private:
  // Checks tokens and runs the model; `feature_block` >= 0 also returns the residual stream
  // after that block.
  std::pair<torch::Tensor, torch::Tensor> run(const torch::Tensor& tokens, int64_t feature_block);

  GptConfig config_;
  torch::nn::Embedding wte_{nullptr};  // (V, C), also the head
  torch::nn::Embedding wpe_{nullptr};  // (context, C)
  FastDropout drop_{nullptr};
  torch::nn::ModuleList h_;
  std::vector<Block> blocks_;  // h_'s blocks, typed
  torch::nn::LayerNorm ln_f_{nullptr};
  torch::Tensor causal_mask_;  // buffer (context, context): 0 on and below the diagonal, -inf above
};
TORCH_MODULE(Gpt);

// Builds a GPT with GPT-2's initialisation (see gpt.cpp). Throws ModelError for a bad config.
Model makeGpt(const GptConfig& config);

}  // namespace distill
