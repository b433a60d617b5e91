#include "core/tasks/lm/kv_cache.h"

#include <algorithm>
#include <string>

#include "core/errors.h"

namespace distill {

namespace {

std::string shapeText(const torch::Tensor& t) {
  std::string text = "(";
  for (int64_t i = 0; i < t.dim(); ++i) text += (i ? ", " : "") + std::to_string(t.size(i));
  return text + ")";
}

}  // namespace

KvCache::KvCache(int64_t layers, int64_t capacity) : capacity_(capacity) {
  if (layers < 1) throw ModelError("KV cache: layers " + std::to_string(layers) + " is below 1");
  if (capacity < 1) throw ModelError("KV cache: capacity " + std::to_string(capacity) + " is below 1");
  keys_.resize(static_cast<size_t>(layers));
  values_.resize(static_cast<size_t>(layers));
  lengths_.assign(static_cast<size_t>(layers), 0);
}

void KvCache::checkLayer(int64_t layer) const {
  if (layer < 0 || layer >= layers())
    throw ModelError("KV cache: layer " + std::to_string(layer) + " does not exist (it has " +
                     std::to_string(layers()) + " layers)");
}

void KvCache::append(int64_t layer, const torch::Tensor& keys, const torch::Tensor& values) {
  checkLayer(layer);
  if (keys.dim() != 4 || !keys.sizes().equals(values.sizes()))
    throw ModelError("KV cache: keys " + shapeText(keys) + " and values " + shapeText(values) +
                     " must both be (batch, heads, positions, d_head)");
  const auto i = static_cast<size_t>(layer);
  const int64_t added = keys.size(2);
  if (lengths_[i] + added > capacity_)
    throw ModelError("KV cache: " + std::to_string(lengths_[i]) + " cached + " + std::to_string(added) +
                     " new positions exceed its capacity of " + std::to_string(capacity_));
  auto& key_storage = keys_[i];
  auto& value_storage = values_[i];
  if (!key_storage.defined() || key_storage.size(0) != keys.size(0) || key_storage.size(1) != keys.size(1) ||
      key_storage.size(3) != keys.size(3) || key_storage.scalar_type() != keys.scalar_type() ||
      key_storage.device() != keys.device()) {
    if (lengths_[i] > 0)
      throw ModelError("KV cache: layer " + std::to_string(layer) + " holds (B, h, T, d_head) = " +
                       shapeText(keys_[i].narrow(2, 0, lengths_[i])) + "; new keys " + shapeText(keys) +
                       " do not continue it");
    // First use, or a sequence of another shape after reset(): (B, h, capacity, d_head).
    key_storage = torch::empty({keys.size(0), keys.size(1), capacity_, keys.size(3)}, keys.options());
    value_storage = torch::empty_like(key_storage);
  }
  key_storage.narrow(2, lengths_[i], added).copy_(keys);      // (B, h, T_new, d_head)
  value_storage.narrow(2, lengths_[i], added).copy_(values);  // (B, h, T_new, d_head)
  lengths_[i] += added;
}

torch::Tensor KvCache::keys(int64_t layer) const {
  checkLayer(layer);
  const auto i = static_cast<size_t>(layer);
  return keys_[i].defined() ? keys_[i].narrow(2, 0, lengths_[i]) : torch::Tensor();  // (B, h, T, d_head)
}

torch::Tensor KvCache::values(int64_t layer) const {
  checkLayer(layer);
  const auto i = static_cast<size_t>(layer);
  return values_[i].defined() ? values_[i].narrow(2, 0, lengths_[i]) : torch::Tensor();  // (B, h, T, d_head)
}

int64_t KvCache::length() const { return *std::min_element(lengths_.begin(), lengths_.end()); }

void KvCache::trim(int64_t length) {
  if (length < 0) throw ModelError("KV cache: cannot trim to " + std::to_string(length) + " positions");
  for (auto& cached : lengths_) cached = std::min(cached, length);
}

void KvCache::reset() { std::fill(lengths_.begin(), lengths_.end(), 0); }

}  // namespace distill
