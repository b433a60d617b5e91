// Compiled with -ffp-contract=off (core/CMakeLists.txt): every fused multiply-add here is an
// explicit __builtin_fmaf, never one the compiler chose, or the roundings would differ from ATen's.
#include "core/train/fused_sgd.h"

#include <ATen/Parallel.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>

namespace distill {

namespace {

struct Coefficients {
  float momentum = 0.0f;
  float one_minus_dampening = 1.0f;
  float weight_decay = 0.0f;
  float minus_lr = 0.0f;
};

// ATen (1.13 and 2.x) computes SGD::step as, per element and in float:
//   d = g                          ; with weight decay: d = fma(wd, p, d)  (d_p.add(p, wd))
//   b = round(b * m)               (buf.mul_(m))
//   b = fma(1 - dampening, d, b)   (buf.add_(d_p, 1 - dampening); exact sum when the factor is 1)
//   d = b                          ; nesterov: d = fma(m, b, d)          (d_p.add(buf, m))
//   p = fma(-lr, d, p)             (p.add_(d_p, -lr))
// where "fma" is ATen's vectorised add-with-alpha, vec::fmadd, a single rounding.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DISTILL_FUSED_SGD 1
#define DISTILL_FMA_TARGET __attribute__((target("avx2,fma")))
#else
#define DISTILL_FUSED_SGD 0  // other CPUs: LibTorch's SGD::step
#define DISTILL_FMA_TARGET
#endif

template <bool kWeightDecay, bool kNesterov>
DISTILL_FMA_TARGET void update(float* __restrict param, const float* __restrict grad,
                                               float* __restrict buffer, int64_t n, Coefficients c) {
  for (int64_t i = 0; i < n; ++i) {
    float d = grad[i];
    if (kWeightDecay) d = __builtin_fmaf(c.weight_decay, param[i], d);
    float b = buffer[i] * c.momentum;
    b = __builtin_fmaf(c.one_minus_dampening, d, b);
    buffer[i] = b;
    d = kNesterov ? __builtin_fmaf(c.momentum, b, d) : b;
    param[i] = __builtin_fmaf(c.minus_lr, d, param[i]);
  }
}

template <bool kWeightDecay>
DISTILL_FMA_TARGET void updateWithoutMomentum(float* __restrict param, const float* __restrict grad,
                                                              int64_t n, Coefficients c) {
  for (int64_t i = 0; i < n; ++i) {
    float d = grad[i];
    if (kWeightDecay) d = __builtin_fmaf(c.weight_decay, param[i], d);
    param[i] = __builtin_fmaf(c.minus_lr, d, param[i]);
  }
}

bool cpuHasFma() {
#if DISTILL_FUSED_SGD
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
#else
  return false;
#endif
}

// The key of Optimizer::state_: LibTorch 1.13 uses the TensorImpl's address printed as a
// string (c10::guts::to_string), later versions the address itself.
template <typename Key>
Key stateKey(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream out;
    out << p.unsafeGetTensorImpl();
    return out.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

// Elements per task of the update (a parameter smaller than this stays on one thread).
constexpr int64_t kGrain = 1 << 15;

bool fusable(const torch::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.layout() == torch::kStrided &&
         t.is_contiguous() && !t.is_neg() && !t.is_conj();
}

}  // namespace

bool FusedSGD::available() { return cpuHasFma(); }

torch::Tensor FusedSGD::step(LossClosure closure) {
  last_step_fused_ = false;
  // As LibTorch's SGD: the closure (which computes the gradients) runs before they are read.
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  if (!cpuHasFma()) return fallBack(loss);
  using Key = typename std::decay_t<decltype(state_)>::key_type;

  // Everything must qualify, or the whole step is LibTorch's.
  struct Item {
    torch::Tensor param, buffer;  // the buffer is undefined without momentum
    const torch::optim::SGDOptions* options;
  };
  std::vector<Item> work;
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::SGDOptions&>(group.options());
    for (auto& p : group.params()) {
      const auto& grad = p.grad();
      if (!grad.defined()) continue;
      if (!fusable(p) || !fusable(grad) || grad.sizes() != p.sizes()) return fallBack(loss);
      torch::Tensor buffer;
      if (options.momentum() != 0) {
        const auto it = state_.find(stateKey<Key>(p));
        if (it == state_.end()) return fallBack(loss);  // first step: creates the buffers
        buffer = static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer();
        if (!fusable(buffer) || buffer.sizes() != p.sizes()) return fallBack(loss);
      }
      work.push_back({p, buffer, &options});
    }
  }

  last_step_fused_ = true;
  torch::NoGradGuard no_grad;
  for (auto& [param, buffer, options] : work) {
    Coefficients c;
    c.momentum = static_cast<float>(options->momentum());
    c.one_minus_dampening = static_cast<float>(1 - options->dampening());
    c.weight_decay = static_cast<float>(options->weight_decay());
    c.minus_lr = static_cast<float>(-1 * options->lr());
    const bool decay = options->weight_decay() != 0;
    float* w_all = param.data_ptr<float>();
    const float* g_all = param.grad().data_ptr<float>();
    float* b_all = buffer.defined() ? buffer.data_ptr<float>() : nullptr;
    const bool nesterov = options->nesterov();
    // Element-wise, so splitting a parameter across torch's intra-op threads changes no result.
    at::parallel_for(0, param.numel(), kGrain, [&](int64_t begin, int64_t end) {
      float* w = w_all + begin;
      const float* g = g_all + begin;
      const int64_t n = end - begin;
      if (b_all == nullptr) {
        decay ? updateWithoutMomentum<true>(w, g, n, c) : updateWithoutMomentum<false>(w, g, n, c);
      } else {
        float* b = b_all + begin;
        if (nesterov)
          decay ? update<true, true>(w, g, b, n, c) : update<false, true>(w, g, b, n, c);
        else
          decay ? update<true, false>(w, g, b, n, c) : update<false, false>(w, g, b, n, c);
      }
    });
    if (b_all != nullptr) buffer.unsafeGetTensorImpl()->bump_version();
    // In-place changes bump the version counter, as LibTorch's add_ does.
    param.unsafeGetTensorImpl()->bump_version();
  }
  return loss;
}

// LibTorch's step on gradients the closure (if any) has already computed.
torch::Tensor FusedSGD::fallBack(const torch::Tensor& loss) {
  torch::optim::SGD::step();
  return loss;
}

}  // namespace distill
