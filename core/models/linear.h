// The matrix products of linear layers on the CPU: through LibTorch (its BLAS, OpenBLAS on
// Debian) or through oneDNN's sgemm, the library LibTorch itself links for its MKL-DNN paths.
//
// Why: on this project's machine (2 cores, AVX-512) oneDNN ran the Hinton MLPs' batch-128
// products 1.6-2x faster than OpenBLAS with the kernels the environment selects
// (OPENBLAS_CORETYPE=Haswell), and still ~15% faster than OpenBLAS's own AVX-512 kernels, because
// oneDNN generates its kernels for the CPU it runs on. See BENCHMARKS.md, "Matrix products".
//
// oneDNN is looked up at run time (dlsym of `dnnl_sgemm` in the process's libraries), so nothing
// is needed to build: where LibTorch links libdnnl.so.2 (Debian, Ubuntu) it is used; where it does
// not export oneDNN (pip wheels link it statically, hidden), linear layers use LibTorch's own
// matmul. The two give the same products up to float32 rounding, not bit for bit, so the choice
// is a setting (`gemm` in the config), printed and stored with every run.
//
// Thread contract: linear() and matmulInto() may be called from any thread; the choice of library
// is the runtime's (core/runtime/gemm.h).
#pragma once

#include <torch/torch.h>

#include <string>

#include "core/runtime/gemm.h"  // the choice of library (selectLinearGemm), kept by the runtime

namespace distill {

// y = x w^T + b, the product of torch::nn::Linear (w: [out, in], b: [out] or undefined), with
// autograd. Through oneDNN for float32 CPU tensors when selected; LibTorch's linear otherwise.
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b);

// c = op(a) op(b) for 2-D float32 tensors, through the library the linear layers use (for the
// benchmark's matrix-multiply rates). `c` must be contiguous and of the product's shape.
void matmulInto(torch::Tensor& c, const torch::Tensor& a, bool transpose_a, const torch::Tensor& b, bool transpose_b);

}  // namespace distill
