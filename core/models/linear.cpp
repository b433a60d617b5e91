#include "core/models/linear.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <sstream>

#include "core/config/config.h"
#include "core/runtime/runtime.h"

namespace distill {

namespace {

// oneDNN's C API (oneapi/dnnl/dnnl.h, stable since oneDNN 1.0), declared here because it is
// found at run time, not linked.
using DnnlSgemm = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
struct DnnlVersion {
  int major, minor, patch;
  const char* hash;
  unsigned cpu_runtime, gpu_runtime;
};
using DnnlVersionFn = const DnnlVersion* (*)();
using DnnlIsaFn = int (*)();
using OmpSetThreads = void (*)(int);
using OmpGetThreads = int (*)();

struct OneDnn {
  DnnlSgemm sgemm = nullptr;
  OmpSetThreads omp_set_num_threads = nullptr;
  OmpGetThreads omp_get_max_threads = nullptr;
  std::string description;
};

std::string isaName(int isa) {
  // dnnl_cpu_isa_t values of oneDNN 2.x (dnnl_types.h).
  switch (isa) {
    case 0x1: return "sse41";
    case 0x3: return "avx";
    case 0x7: return "avx2";
    case 0x407: return "avx2_vnni";
    case 0x27: return "avx512_core";
    case 0x67: return "avx512_core_vnni";
    case 0xe7: return "avx512_core_bf16";
    case 0x3e7: return "avx512_core_amx";
    default: {
      std::ostringstream out;
      out << "isa 0x" << std::hex << isa;
      return out.str();
    }
  }
}

const OneDnn& oneDnn() {
  static const OneDnn found = [] {
    OneDnn d;
    d.sgemm = reinterpret_cast<DnnlSgemm>(dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
    d.omp_set_num_threads = reinterpret_cast<OmpSetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    d.omp_get_max_threads = reinterpret_cast<OmpGetThreads>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
    if (!d.sgemm) return d;
    auto version = reinterpret_cast<DnnlVersionFn>(dlsym(RTLD_DEFAULT, "dnnl_version"));
    auto isa = reinterpret_cast<DnnlIsaFn>(dlsym(RTLD_DEFAULT, "dnnl_get_effective_cpu_isa"));
    d.description = "oneDNN";
    if (version) {
      const DnnlVersion* v = version();
      d.description += " " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
    }
    if (isa) d.description += " (" + isaName(isa()) + ")";
    return d;
  }();
  return found;
}

// The choice in force. Until a run selects one, auto with every core, so that every code path of
// a process (training, evaluation, fidelity, tests) multiplies the same way. The mutex guards
// `choice_state`; the hot path (every layer's forward) reads only the atomics.
std::mutex choice_mutex;
LinearGemmChoice choice_state;
std::atomic<bool> choice_made{false};
std::atomic<bool> use_onednn{false};
std::atomic<int> onednn_threads{1};

LinearGemmChoice resolve(const std::string& request, int threads) {
  if (request != "auto" && request != "onednn" && request != "blas")
    throw ConfigError({ConfigIssue{"gemm", "expected auto, onednn or blas, got '" + request + "'"}});
  const OneDnn& d = oneDnn();
  LinearGemmChoice c;
  c.threads = std::max(1, threads);
  if (request == "onednn" && !d.sgemm)
    throw ConfigError({ConfigIssue{"gemm", "onednn asked for, but this LibTorch does not expose oneDNN (use auto or blas)"}});
  c.onednn = request != "blas" && d.sgemm != nullptr;
  if (c.onednn) {
    c.description = d.description + ", " + std::to_string(c.threads) + " thread" + (c.threads == 1 ? "" : "s");
    if (request == "auto") c.description += " (auto)";
  } else {
    c.description = request == "blas" ? "LibTorch matmul (gemm: blas)" : "LibTorch matmul (auto: no oneDNN found)";
  }
  return c;
}

// Call with choice_mutex held.
void apply(const LinearGemmChoice& c) {
  choice_state = c;
  onednn_threads.store(c.threads);
  use_onednn.store(c.onednn);
  choice_made.store(true);
}

bool onednnSelected() {
  if (!choice_made.load()) {
    std::lock_guard<std::mutex> lock(choice_mutex);
    if (!choice_made.load()) apply(resolve("auto", cpuCores()));
  }
  return use_onednn.load();
}

// Sets the calling thread's OpenMP team size for one oneDNN call and restores it after (torch's
// own intra-op parallelism reads the same setting).
class OmpThreads {
 public:
  explicit OmpThreads(int wanted) {
    const OneDnn& d = oneDnn();
    if (!d.omp_set_num_threads || !d.omp_get_max_threads) return;
    previous_ = d.omp_get_max_threads();
    if (previous_ != wanted) d.omp_set_num_threads(wanted);
    else previous_ = 0;
  }
  ~OmpThreads() {
    if (previous_ > 0) oneDnn().omp_set_num_threads(previous_);
  }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int previous_ = 0;
};

// C (row-major, leading dimension ldc) = op(A) op(B); op(A): m x k, op(B): k x n.
void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           float* c, int64_t ldc) {
  OmpThreads threads(onednn_threads.load());
  const int status = oneDnn().sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0F, a, lda, b, ldb, 0.0F, c, ldc);
  TORCH_CHECK(status == 0, "oneDNN sgemm failed with status ", status, " (", m, "x", n, "x", k, ")");
}

bool fastPathApplies(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  auto cpuFloat = [](const torch::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && !t.is_sparse() && !t.is_mkldnn();
  };
  if (!x.defined() || !w.defined() || x.dim() < 1 || w.dim() != 2 || x.numel() == 0) return false;
  if (!cpuFloat(x) || !cpuFloat(w) || (b.defined() && (!cpuFloat(b) || b.dim() != 1))) return false;
  if (x.size(-1) != w.size(1) || (b.defined() && b.size(0) != w.size(0))) return false;
  return onednnSelected();
}

// Outputs at most this wide are computed transposed (y^T = w x^T): oneDNN's product with a narrow
// right-hand side (the 10 logits of a classifier) ran 6-12x slower than the transposed one.
constexpr int64_t kNarrowOutputs = 16;

// y = x w^T + b for contiguous 2-D x [m, k], w [n, k]; b [n] or undefined. The bias is added
// after the product: oneDNN 2.6.3's sgemm with beta = 1 and a single row (m = 1) returns wrong
// sums (seen here; tests/core/models/linear_test.cpp keeps a one-row case), while beta = 0 was
// exact on 2,000 shapes and transpositions.
torch::Tensor forwardProduct(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  const int64_t m = x.size(0), k = x.size(1), n = w.size(0);
  torch::Tensor y = torch::empty({m, n}, x.options());
  if (n <= kNarrowOutputs && m > n) {
    torch::Tensor yt = torch::empty({n, m}, x.options());
    sgemm(false, true, n, m, k, w.data_ptr<float>(), k, x.data_ptr<float>(), k, yt.data_ptr<float>(), m);
    if (b.defined())
      torch::add_out(y, yt.t(), b);
    else
      y.copy_(yt.t());
    return y;
  }
  sgemm(false, true, m, n, k, x.data_ptr<float>(), k, w.data_ptr<float>(), k, y.data_ptr<float>(), n);
  if (b.defined()) y.add_(b);
  return y;
}

class OneDnnLinearFunction : public torch::autograd::Function<OneDnnLinearFunction> {
 public:
  // `b`: the bias, or an empty tensor for none (autograd functions take no undefined inputs).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& b) {
    ctx->save_for_backward({x, w});
    const bool has_bias = b.numel() > 0;
    ctx->saved_data["has_bias"] = has_bias;
    return forwardProduct(x, w, has_bias ? b : torch::Tensor());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& w = saved[1];
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    const torch::Tensor dy = grads[0].contiguous();
    torch::Tensor dx, dw, db;
    if (torch::GradMode::is_enabled()) {
      // A higher-order gradient (create_graph): differentiable ops.
      if (ctx->needs_input_grad(0)) dx = dy.mm(w);
      if (ctx->needs_input_grad(1)) dw = dy.t().mm(x);
    } else {
      const int64_t m = x.size(0), k = x.size(1), n = w.size(0);
      if (ctx->needs_input_grad(0)) {
        dx = torch::empty({m, k}, x.options());
        sgemm(false, false, m, k, n, dy.data_ptr<float>(), n, w.data_ptr<float>(), k, dx.data_ptr<float>(), k);
      }
      if (ctx->needs_input_grad(1)) {
        dw = torch::empty({n, k}, w.options());
        sgemm(true, false, n, k, m, dy.data_ptr<float>(), n, x.data_ptr<float>(), k, dw.data_ptr<float>(), k);
      }
    }
    if (has_bias && ctx->needs_input_grad(2)) db = dy.sum(0);
    return {dx, dw, db};
  }
};

}  // namespace

LinearGemmChoice selectLinearGemm(const std::string& request, int threads) {
  LinearGemmChoice c = resolve(request, threads);
  std::lock_guard<std::mutex> lock(choice_mutex);
  apply(c);
  return c;
}

LinearGemmChoice currentLinearGemm() {
  onednnSelected();
  std::lock_guard<std::mutex> lock(choice_mutex);
  return choice_state;
}

std::string oneDnnDescription() { return oneDnn().description; }

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  if (!fastPathApplies(x, w, b)) return torch::linear(x, w, b);
  const bool flat = x.dim() == 2;
  const torch::Tensor x2 = (flat ? x : x.reshape({-1, x.size(-1)})).contiguous();
  const torch::Tensor wc = w.contiguous();
  const bool grad = torch::GradMode::is_enabled() &&
                    (x2.requires_grad() || wc.requires_grad() || (b.defined() && b.requires_grad()));
  torch::Tensor y = grad ? OneDnnLinearFunction::apply(x2, wc, b.defined() ? b : torch::empty({0}, x.options()))
                         : forwardProduct(x2, wc, b);
  if (flat) return y;
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = w.size(0);
  return y.reshape(shape);
}

void matmulInto(torch::Tensor& c, const torch::Tensor& a, bool transpose_a, const torch::Tensor& b,
                bool transpose_b) {
  const torch::Tensor opa = transpose_a ? a.t() : a, opb = transpose_b ? b.t() : b;
  const bool dense = a.is_contiguous() && b.is_contiguous() && c.is_contiguous() && a.device().is_cpu() &&
                     a.scalar_type() == torch::kFloat32 && b.scalar_type() == torch::kFloat32 &&
                     c.scalar_type() == torch::kFloat32;
  if (!dense || !onednnSelected()) {
    torch::mm_out(c, opa, opb);
    return;
  }
  TORCH_CHECK(opa.size(1) == opb.size(0) && c.size(0) == opa.size(0) && c.size(1) == opb.size(1),
              "matmulInto: shapes do not match");
  sgemm(transpose_a, transpose_b, opa.size(0), opb.size(1), opa.size(1), a.data_ptr<float>(), a.size(1),
        b.data_ptr<float>(), b.size(1), c.data_ptr<float>(), c.size(1));
}

}  // namespace distill
