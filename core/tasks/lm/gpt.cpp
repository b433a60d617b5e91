#include "core/tasks/lm/gpt.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/errors.h"
#include "core/models/gradient_checkpoint.h"
#include "core/models/linear.h"
#include "core/tasks/lm/attention.h"

namespace distill {

namespace {

// Linear layers run through distill::linear (oneDNN's products where selected), as the
// classifier's do; the modules only hold the weights.
torch::Tensor project(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return linear(x, layer->weight, layer->bias);
}

void requireAtLeastOne(const char* field, int64_t value) {
  if (value < 1)
    throw ModelError(std::string(field) + ": " + std::to_string(value) + " is too small; it must be at least 1");
}

void validate(const GptConfig& c) {
  requireAtLeastOne("vocab", c.vocab);
  requireAtLeastOne("context", c.context);
  requireAtLeastOne("layers", c.layers);
  requireAtLeastOne("heads", c.heads);
  requireAtLeastOne("d_model", c.d_model);
  if (c.d_model % c.heads != 0)
    throw ModelError("heads: " + std::to_string(c.heads) + " does not divide d_model " + std::to_string(c.d_model));
  if (!(c.layer_norm_epsilon > 0.0)) {
    std::ostringstream message;
    message << "layer_norm_epsilon: " << c.layer_norm_epsilon << " must be above 0";
    throw ModelError(message.str());
  }
  if (!(c.dropout >= 0.0 && c.dropout < 1.0)) {
    std::ostringstream message;
    message << "dropout: " << c.dropout << " is not a probability in [0, 1)";
    throw ModelError(message.str());
  }
}

}  // namespace

CausalSelfAttentionImpl::CausalSelfAttentionImpl(int64_t d_model, int64_t heads, double dropout) : heads_(heads) {
  c_attn_ = register_module("c_attn", torch::nn::Linear(d_model, 3 * d_model));
  c_proj_ = register_module("c_proj", torch::nn::Linear(d_model, d_model));
  attn_dropout_ = register_module("attn_dropout", FastDropout(dropout));
  resid_dropout_ = register_module("resid_dropout", FastDropout(dropout));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& causal_mask) {
  const int64_t batch = x.size(0), time = x.size(1), channels = x.size(2);
  const int64_t head_size = channels / heads_;
  const auto qkv = project(c_attn_, x);         // (B, T, 3C)
  const auto parts = qkv.split(channels, 2);  // 3 x (B, T, C): q, k, v
  auto heads_first = [&](const torch::Tensor& t) {
    return t.view({batch, time, heads_, head_size}).transpose(1, 2);  // (B, T, C) -> (B, h, T, C/h)
  };
  const auto q = heads_first(parts[0]);  // (B, h, T, C/h)
  const auto k = heads_first(parts[1]);  // (B, h, T, C/h)
  const auto v = heads_first(parts[2]);  // (B, h, T, C/h)
  return attend(q, k, v, causal_mask);   // (B, T, C)
}

torch::Tensor CausalSelfAttentionImpl::forwardCached(const torch::Tensor& x, const torch::Tensor& causal_mask,
                                                     KvCache& cache, int64_t layer) {
  const int64_t batch = x.size(0), time = x.size(1), channels = x.size(2);
  const int64_t head_size = channels / heads_;
  const auto qkv = project(c_attn_, x);       // (B, T_new, 3C)
  const auto parts = qkv.split(channels, 2);  // 3 x (B, T_new, C): q, k, v
  auto heads_first = [&](const torch::Tensor& t) {
    return t.view({batch, time, heads_, head_size}).transpose(1, 2);  // (B, T_new, C) -> (B, h, T_new, C/h)
  };
  cache.append(layer, heads_first(parts[1]), heads_first(parts[2]));
  const auto q = heads_first(parts[0]);  // (B, h, T_new, C/h)
  const auto k = cache.keys(layer);      // (B, h, T_cached + T_new, C/h)
  const auto v = cache.values(layer);    // (B, h, T_cached + T_new, C/h)
  return attend(q, k, v, causal_mask);   // (B, T_new, C)
}

torch::Tensor CausalSelfAttentionImpl::attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                              const torch::Tensor& causal_mask) {
  const int64_t batch = q.size(0), time = q.size(2), channels = q.size(1) * q.size(3);
  // -inf added where a key lies after the query's position, then softmax: position t attends
  // to positions <= t only.
  const auto mixed = causalAttention(q, k, v, causal_mask, *attn_dropout_);               // (B, h, T_q, C/h)
  const auto merged = mixed.transpose(1, 2).contiguous().view({batch, time, channels});  // (B, T_q, C)
  return resid_dropout_->forward(project(c_proj_, merged));                              // (B, T_q, C)
}

MlpImpl::MlpImpl(int64_t d_model, double dropout, GeluKind gelu) : gelu_(gelu) {
  c_fc_ = register_module("c_fc", torch::nn::Linear(d_model, 4 * d_model));
  c_proj_ = register_module("c_proj", torch::nn::Linear(4 * d_model, d_model));
  dropout_ = register_module("dropout", FastDropout(dropout));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  const auto hidden = torch::gelu(project(c_fc_, x), gelu_ == GeluKind::Tanh ? "tanh" : "none");  // (B, T, 4C)
  return dropout_->forward(project(c_proj_, hidden));  // (B, T, C)
}

BlockImpl::BlockImpl(int64_t d_model, int64_t heads, double dropout, GeluKind gelu, double layer_norm_epsilon) {
  ln_1_ = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model}).eps(layer_norm_epsilon)));
  attn_ = register_module("attn", CausalSelfAttention(d_model, heads, dropout));
  ln_2_ = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model}).eps(layer_norm_epsilon)));
  mlp_ = register_module("mlp", Mlp(d_model, dropout, gelu));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& causal_mask) {
  auto residual = x + attn_->forward(ln_1_->forward(x), causal_mask);  // (B, T, C)
  return residual + mlp_->forward(ln_2_->forward(residual));           // (B, T, C)
}

torch::Tensor BlockImpl::forwardCached(const torch::Tensor& x, const torch::Tensor& causal_mask, KvCache& cache,
                                       int64_t layer) {
  auto residual = x + attn_->forwardCached(ln_1_->forward(x), causal_mask, cache, layer);  // (B, T_new, C)
  return residual + mlp_->forward(ln_2_->forward(residual));                               // (B, T_new, C)
}

GptImpl::GptImpl(const GptConfig& config) : config_(config) {
  validate(config_);
  const int64_t d = config_.d_model;
  wte_ = register_module("wte", torch::nn::Embedding(config_.vocab, d));
  wpe_ = register_module("wpe", torch::nn::Embedding(config_.context, d));
  drop_ = register_module("drop", FastDropout(config_.dropout));
  for (int64_t i = 0; i < config_.layers; ++i) {
    blocks_.emplace_back(d, config_.heads, config_.dropout, config_.gelu, config_.layer_norm_epsilon);
    h_->push_back(blocks_.back());
  }
  register_module("h", h_);
  ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(config_.layer_norm_epsilon)));
  // No head module: the head is wte's weight (tied), so it is one parameter, counted and
  // optimised once (a Linear sharing the tensor would be listed twice by parameters()).
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  causal_mask_ = register_buffer(
      "causal_mask", torch::triu(torch::full({config_.context, config_.context}, minus_infinity), /*diagonal=*/1));

  // GPT-2's initialisation: N(0, 0.02) for linear and embedding weights, zero biases, and the
  // projections that write into the residual stream at 0.02 / sqrt(2 L), so that the stream's
  // variance does not grow with depth (GPT-2 paper, section 2.3; nanoGPT's c_proj rule).
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* fc = module->as<torch::nn::LinearImpl>()) {
      torch::nn::init::normal_(fc->weight, /*mean=*/0.0, /*std=*/0.02);
      torch::nn::init::zeros_(fc->bias);
    } else if (auto* embedding = module->as<torch::nn::EmbeddingImpl>()) {
      torch::nn::init::normal_(embedding->weight, /*mean=*/0.0, /*std=*/0.02);
    }
  }
  const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(config_.layers));
  for (auto& block : blocks_) {
    torch::nn::init::normal_(block->attention()->residualProjection()->weight, /*mean=*/0.0, residual_std);
    torch::nn::init::normal_(block->mlp()->residualProjection()->weight, /*mean=*/0.0, residual_std);
  }
}

std::pair<torch::Tensor, torch::Tensor> GptImpl::run(const torch::Tensor& tokens, int64_t feature_block) {
  checkTokenShape(tokens);
  const int64_t time = tokens.size(1);
  checkSequenceLength(tokens, config_.context);
  checkTokenIds(tokens, config_.vocab);

  const auto positions = wpe_->weight.narrow(0, 0, time);                // (T, C)
  auto x = drop_->forward(wte_->forward(tokens) + positions);            // (B, T, C)
  const auto mask = causal_mask_.narrow(0, 0, time).narrow(1, 0, time);  // (T, T)
  torch::Tensor feature;
  const bool checkpointing = checkpointingBlocks();
  for (size_t i = 0; i < blocks_.size(); ++i) {
    Block block = blocks_[i];
    if (checkpointing)
      x = checkpointed([block, mask](const torch::Tensor& input) mutable { return block->forward(input, mask); }, x,
                       block->parameters());  // (B, T, C), recomputed in backward
    else
      x = block->forward(x, mask);  // (B, T, C)
    if (static_cast<int64_t>(i) == feature_block) feature = x;
  }
  const auto logits = linear(ln_f_->forward(x), wte_->weight, torch::Tensor());  // (B, T, V)
  if (feature.defined()) feature = floatLogits(feature, wte_->weight);
  return {floatLogits(logits, wte_->weight), feature};
}

torch::Tensor GptImpl::forward(torch::Tensor tokens) { return run(tokens, /*feature_block=*/-1).first; }

torch::Tensor GptImpl::forwardCached(const torch::Tensor& tokens, KvCache& cache) {
  checkTokenShape(tokens);
  checkCachedCall(tokens, cache, config_.layers, config_.context);
  const int64_t start = cache.length(), time = tokens.size(1);
  checkTokenIds(tokens, config_.vocab);
  cache.trim(start);  // layers that a failed call left ahead of the others

  const auto positions = wpe_->weight.narrow(0, start, time);                      // (T_new, C)
  auto x = drop_->forward(wte_->forward(tokens) + positions);                      // (B, T_new, C)
  const auto mask = causal_mask_.narrow(0, start, time).narrow(1, 0, start + time);  // (T_new, T_cached + T_new)
  for (size_t i = 0; i < blocks_.size(); ++i) x = blocks_[i]->forwardCached(x, mask, cache, static_cast<int64_t>(i));
  return floatLogits(linear(ln_f_->forward(x), wte_->weight, torch::Tensor()), wte_->weight);  // (B, T_new, V)
}

std::pair<torch::Tensor, torch::Tensor> GptImpl::forwardWithFeature(torch::Tensor tokens, int64_t index) {
  const int64_t count = hiddenCount();
  const int64_t resolved = index < 0 ? count + index : index;
  if (resolved < 0 || resolved >= count)
    throw ModelError("hidden layer " + std::to_string(index) + " does not exist (this GPT has " +
                     std::to_string(count) + " blocks)");
  return run(tokens, resolved);
}

std::string GptImpl::summary() const {
  const auto& c = config_;
  std::ostringstream out;
  out << "GPT " << c.layers << " layers x " << c.d_model << ", " << c.heads << " heads, context " << c.context
      << ", vocab " << c.vocab;
  if (c.dropout > 0) out << ", dropout " << c.dropout;
  if (c.gelu == GeluKind::Tanh) out << ", gelu tanh";
  if (c.layer_norm_epsilon != 1e-5) out << ", layer norm eps " << c.layer_norm_epsilon;
  out << "; " << parameterCount() << " parameters";
  return out.str();
}

int64_t GptImpl::forwardMacsPerSample() const {
  const int64_t t = config_.context, d = config_.d_model;
  // Per block: QKV 3d^2, projection d^2, MLP 8d^2 per position; QK^T and AV t*d each per position.
  const int64_t per_block = 12 * d * d * t + 2 * t * t * d;
  return config_.layers * per_block + t * d * config_.vocab;
}

int64_t GptImpl::widestActivationPerSample() const {
  const int64_t t = config_.context;
  return std::max({t * 4 * config_.d_model, t * config_.vocab, config_.heads * t * t});
}

Model makeGpt(const GptConfig& config) { return std::make_shared<GptImpl>(config); }

}  // namespace distill
