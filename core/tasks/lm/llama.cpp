#include "core/tasks/lm/llama.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/errors.h"
#include "core/models/gradient_checkpoint.h"
#include "core/models/linear.h"
#include "core/tasks/lm/attention.h"

namespace distill {

namespace {

constexpr double kPi = 3.14159265358979323846;

torch::Tensor project(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return linear(x, layer->weight, layer->bias);
}

torch::nn::Linear makeLinear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

std::string numberText(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

void requireAtLeastOne(const char* field, int64_t value) {
  if (value < 1)
    throw ModelError(std::string(field) + ": " + std::to_string(value) + " is too small; it must be at least 1");
}

void requirePositive(const char* field, double value) {
  if (!(value > 0.0) || !std::isfinite(value))
    throw ModelError(std::string(field) + ": " + numberText(value) + " must be a number above 0");
}

void validate(const LlamaConfig& c) {
  requireAtLeastOne("vocab", c.vocab);
  requireAtLeastOne("context", c.context);
  requireAtLeastOne("layers", c.layers);
  requireAtLeastOne("d_model", c.d_model);
  requireAtLeastOne("heads", c.heads);
  requireAtLeastOne("kv_heads", c.kv_heads);
  requireAtLeastOne("head_dim", c.head_dim);
  requireAtLeastOne("intermediate", c.intermediate);
  if (c.heads % c.kv_heads != 0)
    throw ModelError("kv_heads: " + std::to_string(c.kv_heads) + " does not divide heads " + std::to_string(c.heads));
  requirePositive("rms_norm_eps", c.rms_norm_eps);
  if (!(c.attention_dropout >= 0.0 && c.attention_dropout < 1.0))
    throw ModelError("attention_dropout: " + numberText(c.attention_dropout) + " is not a probability in [0, 1)");
}

}  // namespace

RmsNormImpl::RmsNormImpl(int64_t size, double eps) : eps_(eps) {
  weight_ = register_parameter("weight", torch::ones({size}));
}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
  const auto x32 = x.to(torch::kFloat);                                  // (..., C)
  const auto mean_square = x32.pow(2).mean(/*dim=*/-1, /*keepdim=*/true);  // (..., 1)
  return weight_ * (x32 * torch::rsqrt(mean_square + eps_)).to(x.scalar_type());
}

RotaryEmbedding::RotaryEmbedding(int64_t head_dim, double theta, const RopeScaling& scaling) {
  if (head_dim % 2 != 0)
    throw ModelError("head_dim: " + std::to_string(head_dim) + " is odd; rotary embeddings turn pairs of dimensions");
  requirePositive("rope_theta", theta);
  // theta^(-2i/d), i = 0 .. d/2 - 1, in double, rounded to float32 once at the end.
  auto inverse = 1.0 / torch::pow(theta, torch::arange(0, head_dim, 2, torch::kDouble) / static_cast<double>(head_dim));
  switch (scaling.kind) {
    case RopeScaling::Kind::None:
      break;
    case RopeScaling::Kind::Linear:
      requirePositive("rope_scaling.factor", scaling.factor);
      inverse = inverse / scaling.factor;
      break;
    case RopeScaling::Kind::Llama3: {
      requirePositive("rope_scaling.factor", scaling.factor);
      requirePositive("rope_scaling.low_freq_factor", scaling.low_freq_factor);
      requireAtLeastOne("rope_scaling.original_max_position_embeddings", scaling.original_max_position_embeddings);
      if (!(scaling.high_freq_factor > scaling.low_freq_factor))
        throw ModelError("rope_scaling.high_freq_factor: " + numberText(scaling.high_freq_factor) +
                         " must be above low_freq_factor " + numberText(scaling.low_freq_factor));
      const double old_context = static_cast<double>(scaling.original_max_position_embeddings);
      const double low_freq_wavelength = old_context / scaling.low_freq_factor;
      const double high_freq_wavelength = old_context / scaling.high_freq_factor;
      const auto wavelength = 2.0 * kPi / inverse;  // (d/2)
      // Long wavelengths (low frequencies) slowed by `factor`, short ones kept, the band between
      // blended: smooth = (old_context / wavelength - low) / (high - low).
      const auto slowed = torch::where(wavelength > low_freq_wavelength, inverse / scaling.factor, inverse);
      const auto smooth =
          (old_context / wavelength - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor);
      const auto blended = (1.0 - smooth) * slowed / scaling.factor + smooth * slowed;
      const auto medium = (wavelength >= high_freq_wavelength).logical_and(wavelength <= low_freq_wavelength);
      inverse = torch::where(medium, blended, slowed);
      break;
    }
  }
  inverse_frequencies_ = inverse.to(torch::kFloat);
}

std::pair<torch::Tensor, torch::Tensor> RotaryEmbedding::table(int64_t start, int64_t positions,
                                                               const torch::Device& device) const {
  const auto position = torch::arange(start, start + positions, torch::kFloat);  // (T)
  const auto angles = torch::outer(position, inverse_frequencies_);              // (T, d/2)
  const auto both_halves = torch::cat({angles, angles}, /*dim=*/-1);             // (T, d)
  return {both_halves.cos().to(device), both_halves.sin().to(device)};
}

torch::Tensor RotaryEmbedding::apply(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const auto first = x.narrow(-1, 0, half), second = x.narrow(-1, half, half);
  const auto rotated = torch::cat({-second, first}, /*dim=*/-1);  // rotate_half(x): (B, heads, T, d)
  return x * cos + rotated * sin;
}

LlamaAttentionImpl::LlamaAttentionImpl(const LlamaConfig& c)
    : heads_(c.heads), kv_heads_(c.kv_heads), head_dim_(c.head_dim) {
  q_proj_ = register_module("q_proj", makeLinear(c.d_model, c.heads * c.head_dim, c.qkv_bias));
  k_proj_ = register_module("k_proj", makeLinear(c.d_model, c.kv_heads * c.head_dim, c.qkv_bias));
  v_proj_ = register_module("v_proj", makeLinear(c.d_model, c.kv_heads * c.head_dim, c.qkv_bias));
  o_proj_ = register_module("o_proj", makeLinear(c.heads * c.head_dim, c.d_model, c.o_bias));
  attention_dropout_ = register_module("attention_dropout", FastDropout(c.attention_dropout));
}

torch::Tensor LlamaAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, const torch::Tensor& cos,
                                          const torch::Tensor& sin, KvCache* cache, int64_t layer) {
  const int64_t batch = x.size(0), time = x.size(1);
  auto heads_first = [&](const torch::Tensor& t, int64_t heads) {
    return t.view({batch, time, heads, head_dim_}).transpose(1, 2);  // (B, T, heads d) -> (B, heads, T, d)
  };
  const auto q = RotaryEmbedding::apply(heads_first(project(q_proj_, x), heads_), cos, sin);     // (B, h, T, d)
  auto k = RotaryEmbedding::apply(heads_first(project(k_proj_, x), kv_heads_), cos, sin);        // (B, h_kv, T, d)
  auto v = heads_first(project(v_proj_, x), kv_heads_);                                          // (B, h_kv, T, d)
  if (cache) {
    cache->append(layer, k, v);
    k = cache->keys(layer);    // (B, h_kv, T_cached + T, d)
    v = cache->values(layer);  // (B, h_kv, T_cached + T, d)
  }
  const auto mixed = causalAttention(q, k, v, mask, *attention_dropout_);             // (B, h, T, d)
  const auto merged = mixed.transpose(1, 2).contiguous().view({batch, time, heads_ * head_dim_});  // (B, T, h d)
  return project(o_proj_, merged);                                                    // (B, T, C)
}

LlamaMlpImpl::LlamaMlpImpl(const LlamaConfig& c) {
  gate_proj_ = register_module("gate_proj", makeLinear(c.d_model, c.intermediate, c.mlp_bias));
  up_proj_ = register_module("up_proj", makeLinear(c.d_model, c.intermediate, c.mlp_bias));
  down_proj_ = register_module("down_proj", makeLinear(c.intermediate, c.d_model, c.mlp_bias));
}

torch::Tensor LlamaMlpImpl::forward(const torch::Tensor& x) {
  const auto hidden = torch::silu(project(gate_proj_, x)) * project(up_proj_, x);  // (B, T, I)
  return project(down_proj_, hidden);                                              // (B, T, C)
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const LlamaConfig& c) {
  self_attn_ = register_module("self_attn", LlamaAttention(c));
  mlp_ = register_module("mlp", LlamaMlp(c));
  input_layernorm_ = register_module("input_layernorm", RmsNorm(c.d_model, c.rms_norm_eps));
  post_attention_layernorm_ = register_module("post_attention_layernorm", RmsNorm(c.d_model, c.rms_norm_eps));
}

torch::Tensor LlamaDecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, const torch::Tensor& cos,
                                             const torch::Tensor& sin, KvCache* cache, int64_t layer) {
  const auto residual = x + self_attn_->forward(input_layernorm_->forward(x), mask, cos, sin, cache, layer);  // (B, T, C)
  return residual + mlp_->forward(post_attention_layernorm_->forward(residual));                          // (B, T, C)
}

LlamaBodyImpl::LlamaBodyImpl(const LlamaConfig& c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab, c.d_model));
  for (int64_t i = 0; i < c.layers; ++i) {
    typed_layers.emplace_back(c);
    layers->push_back(typed_layers.back());
  }
  register_module("layers", layers);
  norm = register_module("norm", RmsNorm(c.d_model, c.rms_norm_eps));
}

LlamaImpl::LlamaImpl(const LlamaConfig& config)
    : config_((validate(config), config)), rotary_(config.head_dim, config.rope_theta, config.rope_scaling) {
  model_ = register_module("model", LlamaBody(config_));
  if (!config_.tie_word_embeddings)
    lm_head_ = register_module("lm_head", makeLinear(config_.d_model, config_.vocab, /*bias=*/false));

  // transformers' _init_weights: N(0, 0.02) for linear and embedding weights, zero biases; the
  // norms start at one (RmsNorm's constructor).
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* fc = module->as<torch::nn::LinearImpl>()) {
      torch::nn::init::normal_(fc->weight, /*mean=*/0.0, /*std=*/0.02);
      if (fc->bias.defined()) torch::nn::init::zeros_(fc->bias);
    } else if (auto* embedding = module->as<torch::nn::EmbeddingImpl>()) {
      torch::nn::init::normal_(embedding->weight, /*mean=*/0.0, /*std=*/0.02);
    }
  }
}

const torch::Tensor& LlamaImpl::headWeight() const {
  return config_.tie_word_embeddings ? model_->embed_tokens->weight : lm_head_->weight;
}

std::pair<torch::Tensor, torch::Tensor> LlamaImpl::run(const torch::Tensor& tokens, int64_t start, KvCache* cache,
                                                       int64_t feature_layer) {
  const int64_t time = tokens.size(1);
  const auto& embedding = model_->embed_tokens->weight;
  const auto device = embedding.device();
  // The tables in the weights' dtype, as transformers casts cos and sin to the states' dtype: a
  // model frozen in bfloat16 (freezeInDtype) then computes in bfloat16 throughout.
  const auto options = torch::TensorOptions().device(device).dtype(embedding.scalar_type());
  const auto table = rotary_.table(start, time, device);
  const auto cos = table.first.to(options.dtype()), sin = table.second.to(options.dtype());  // 2 x (T, d)
  const auto mask = causalMask(start, time, options);                                         // (T, start + T)
  auto x = model_->embed_tokens->forward(tokens);                                             // (B, T, C)
  torch::Tensor feature;
  const bool checkpointing = cache == nullptr && checkpointingBlocks();
  for (size_t i = 0; i < model_->typed_layers.size(); ++i) {
    LlamaDecoderLayer layer = model_->typed_layers[i];
    const auto index = static_cast<int64_t>(i);
    if (checkpointing)
      x = checkpointed(
          [layer, mask, cos, sin, index](const torch::Tensor& input) mutable {
            return layer->forward(input, mask, cos, sin, /*cache=*/nullptr, index);
          },
          x, layer->parameters());  // (B, T, C), recomputed in backward
    else
      x = layer->forward(x, mask, cos, sin, cache, index);  // (B, T, C)
    if (index == feature_layer) feature = x;
  }
  const auto logits = linear(model_->norm->forward(x), headWeight(), torch::Tensor());  // (B, T, V)
  if (feature.defined()) feature = floatLogits(feature, headWeight());
  return {floatLogits(logits, headWeight()), feature};
}

torch::Tensor LlamaImpl::forward(torch::Tensor tokens) {
  checkTokenShape(tokens);
  checkSequenceLength(tokens, config_.context);
  checkTokenIds(tokens, config_.vocab);
  return run(tokens, /*start=*/0, /*cache=*/nullptr, /*feature_layer=*/-1).first;
}

std::pair<torch::Tensor, torch::Tensor> LlamaImpl::forwardWithFeature(torch::Tensor tokens, int64_t index) {
  const int64_t count = hiddenCount();
  const int64_t resolved = index < 0 ? count + index : index;
  if (resolved < 0 || resolved >= count)
    throw ModelError("hidden layer " + std::to_string(index) + " does not exist (this " + familyName(config_.family) +
                     " has " + std::to_string(count) + " layers)");
  checkTokenShape(tokens);
  checkSequenceLength(tokens, config_.context);
  checkTokenIds(tokens, config_.vocab);
  return run(tokens, /*start=*/0, /*cache=*/nullptr, resolved);
}

torch::Tensor LlamaImpl::forwardCached(const torch::Tensor& tokens, KvCache& cache) {
  checkTokenShape(tokens);
  checkCachedCall(tokens, cache, config_.layers, config_.context);
  checkTokenIds(tokens, config_.vocab);
  const int64_t start = cache.length();
  cache.trim(start);  // layers that a failed call left ahead of the others
  return run(tokens, start, &cache, /*feature_layer=*/-1).first;
}

std::string LlamaImpl::summary() const {
  const auto& c = config_;
  std::ostringstream out;
  out << familyName(c.family) << " " << c.layers << " layers x " << c.d_model << ", " << c.heads << " heads";
  if (c.kv_heads != c.heads) out << " (" << c.kv_heads << " key/value)";
  out << " of " << c.head_dim << ", MLP " << c.intermediate << ", context " << c.context << ", vocab " << c.vocab
      << ", rope theta " << c.rope_theta;
  if (c.rope_scaling.kind == RopeScaling::Kind::Linear) out << " scaled linearly by " << c.rope_scaling.factor;
  if (c.rope_scaling.kind == RopeScaling::Kind::Llama3) out << " scaled as Llama 3 by " << c.rope_scaling.factor;
  out << (c.tie_word_embeddings ? ", tied head" : ", own head") << "; " << parameterCount() << " parameters";
  return out.str();
}

int64_t LlamaImpl::forwardMacsPerSample() const {
  const auto& c = config_;
  const int64_t t = c.context, q_width = c.heads * c.head_dim, kv_width = c.kv_heads * c.head_dim;
  // Per position and layer: q and o (C x h d each), k and v (C x h_kv d each), the MLP's three
  // (C x I); QK^T and AV over t keys per head.
  const int64_t per_layer = t * (2 * c.d_model * q_width + 2 * c.d_model * kv_width + 3 * c.d_model * c.intermediate) +
                            2 * t * t * q_width;
  return c.layers * per_layer + t * c.d_model * c.vocab;
}

int64_t LlamaImpl::widestActivationPerSample() const {
  const int64_t t = config_.context;
  return std::max({t * config_.intermediate, t * config_.vocab, config_.heads * t * t});
}

Model makeLlama(const LlamaConfig& config) { return std::make_shared<LlamaImpl>(config); }

std::string familyName(LlamaFamily family) {
  switch (family) {
    case LlamaFamily::Llama:
      return "Llama";
    case LlamaFamily::Qwen2:
      return "Qwen2";
    case LlamaFamily::Mistral:
      return "Mistral";
  }
  return "Llama";
}

}  // namespace distill
