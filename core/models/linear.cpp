#include "core/models/linear.h"

#include <cstdint>

namespace distill {

namespace {

// The products go through oneDnnSgemm() (core/runtime/gemm.h), which finds oneDNN and holds the
// process's choice; this file shapes the layers' products into calls.
bool fastPathApplies(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  auto cpuFloat = [](const torch::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && !t.is_sparse() && !t.is_mkldnn();
  };
  if (!x.defined() || !w.defined() || x.dim() < 1 || w.dim() != 2 || x.numel() == 0) return false;
  if (!cpuFloat(x) || !cpuFloat(w) || (b.defined() && (!cpuFloat(b) || b.dim() != 1))) return false;
  if (x.size(-1) != w.size(1) || (b.defined() && b.size(0) != w.size(0))) return false;
  return oneDnnSelected();
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
    oneDnnSgemm(false, true, n, m, k, w.data_ptr<float>(), k, x.data_ptr<float>(), k, yt.data_ptr<float>(), m);
    if (b.defined())
      torch::add_out(y, yt.t(), b);
    else
      y.copy_(yt.t());
    return y;
  }
  oneDnnSgemm(false, true, m, n, k, x.data_ptr<float>(), k, w.data_ptr<float>(), k, y.data_ptr<float>(), n);
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
        oneDnnSgemm(false, false, m, k, n, dy.data_ptr<float>(), n, w.data_ptr<float>(), k, dx.data_ptr<float>(), k);
      }
      if (ctx->needs_input_grad(1)) {
        dw = torch::empty({n, k}, w.options());
        oneDnnSgemm(true, false, n, k, m, dy.data_ptr<float>(), n, x.data_ptr<float>(), k, dw.data_ptr<float>(), k);
      }
    }
    if (has_bias && ctx->needs_input_grad(2)) db = dy.sum(0);
    return {dx, dw, db};
  }
};

}  // namespace

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
  if (!dense || !oneDnnSelected()) {
    torch::mm_out(c, opa, opb);
    return;
  }
  TORCH_CHECK(opa.size(1) == opb.size(0) && c.size(0) == opa.size(0) && c.size(1) == opb.size(1),
              "matmulInto: shapes do not match");
  oneDnnSgemm(transpose_a, transpose_b, opa.size(0), opb.size(1), opa.size(1), a.data_ptr<float>(), a.size(1),
        b.data_ptr<float>(), b.size(1), c.data_ptr<float>(), c.size(1));
}

}  // namespace distill
