#include "core/runtime/gemm.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
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

}  // namespace

bool oneDnnSelected() {
  if (!choice_made.load()) {
    std::lock_guard<std::mutex> lock(choice_mutex);
    if (!choice_made.load()) apply(resolve("auto", cpuCores()));
  }
  return use_onednn.load();
}

// C (row-major, leading dimension ldc) = op(A) op(B); op(A): m x k, op(B): k x n.
void oneDnnSgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           float* c, int64_t ldc) {
  OmpThreads threads(onednn_threads.load());
  const int status = oneDnn().sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0F, a, lda, b, ldb, 0.0F, c, ldc);
  TORCH_CHECK(status == 0, "oneDNN sgemm failed with status ", status, " (", m, "x", n, "x", k, ")");
}

LinearGemmChoice selectLinearGemm(const std::string& request, int threads) {
  LinearGemmChoice c = resolve(request, threads);
  std::lock_guard<std::mutex> lock(choice_mutex);
  apply(c);
  return c;
}

LinearGemmChoice currentLinearGemm() {
  oneDnnSelected();
  std::lock_guard<std::mutex> lock(choice_mutex);
  return choice_state;
}

std::string oneDnnDescription() { return oneDnn().description; }

}  // namespace distill
