// Which library multiplies the linear layers' matrices on the CPU, for the whole process: LibTorch's
// matmul (its BLAS, OpenBLAS on Debian) or oneDNN's sgemm, the library LibTorch itself links for its
// MKL-DNN paths. It belongs to the compute environment (runtime), beside the thread settings that
// depend on it (applyThreadSettings); the layers (core/models/linear.h) only read the choice.
//
// oneDNN is looked up at run time (dlsym of `dnnl_sgemm` in the process's libraries), so nothing
// is needed to build: where LibTorch links libdnnl.so.2 (Debian, Ubuntu) it is used; where it does
// not export oneDNN (pip wheels link it statically, hidden), linear layers use LibTorch's own
// matmul. See core/models/linear.h for why, and BENCHMARKS.md, "Matrix products".
//
// Thread contract: selectLinearGemm() changes a process-wide setting; call it before training,
// as applyThreadSettings() does. The rest may be called from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace distill {

struct LinearGemmChoice {
  bool onednn = false;      // products through oneDNN's sgemm (otherwise LibTorch's matmul)
  int threads = 1;          // threads of a oneDNN product (OpenMP)
  std::string description;  // e.g. "oneDNN 2.6.3 (avx512_core_bf16), 2 threads"
};

// `request`: auto (oneDNN where available, else LibTorch) | onednn | blas. Throws ConfigError
// (key "gemm") for another word, or for onednn when this process has no oneDNN.
LinearGemmChoice selectLinearGemm(const std::string& request, int threads);

// The choice in force (auto with every core until selectLinearGemm() is called).
LinearGemmChoice currentLinearGemm();

// "oneDNN 2.6.3 (avx512_core_bf16)", or empty when oneDNN cannot be found in this process.
std::string oneDnnDescription();

// Whether products go through oneDNN now (the first call without a choice selects auto with
// every core, so that every code path of a process multiplies the same way).
bool oneDnnSelected();

// C (row-major, leading dimension ldc) = op(A) op(B), op(A): m x k, op(B): k x n, through
// oneDNN's sgemm on the chosen number of OpenMP threads. Only when oneDnnSelected().
void oneDnnSgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float* c, int64_t ldc);

}  // namespace distill
