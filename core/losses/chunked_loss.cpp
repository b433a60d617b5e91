#include "core/losses/chunked_loss.h"

#include <algorithm>

namespace distill {

namespace {

// The total of the whole batch as the loss's value, with the gradient computed chunk by chunk:
// backward multiplies the kept [rows x classes] gradient by the incoming one.
class ChunkedTotal : public torch::autograd::Function<ChunkedTotal> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& student_logits,
                               const torch::Tensor& value, const torch::Tensor& gradient) {
    ctx->save_for_backward({gradient});
    ctx->saved_data["shape"] = student_logits.sizes().vec();
    return value.clone();
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto gradient = ctx->get_saved_variables()[0];
    const auto shape = ctx->saved_data["shape"].toIntVector();
    // In place: the buffer is needed by nothing else, and a product would be one more
    // [rows x classes] tensor at the peak.
    gradient.mul_(grad_outputs[0]);
    return {gradient.reshape(shape), torch::Tensor(), torch::Tensor()};
  }
};

torch::Tensor rows(const torch::Tensor& t, int64_t width) { return t.defined() ? t.reshape({-1, width}) : t; }

}  // namespace

LossTerms computeInChunks(const DistillationLoss& loss, const LossInputs& in, int64_t chunk_rows) {
  const int64_t classes = in.student_logits.size(-1);
  const auto student = in.student_logits.reshape({-1, classes});
  const int64_t total_rows = student.size(0);
  const int64_t k = in.teacher_topk_log_probs.defined() ? in.teacher_topk_log_probs.size(-1) : 0;
  const auto teacher = rows(in.teacher_logits, classes);
  const auto topk_log_probs = rows(in.teacher_topk_log_probs, k);
  const auto topk_indices = rows(in.teacher_topk_indices, k);
  const auto targets = in.targets.reshape({-1});
  chunk_rows = std::max<int64_t>(1, chunk_rows);

  // The gradient is written over the student's logits, chunk by chunk, once a chunk's loss is
  // computed: its logits are read by nothing after that (a linear head's backward reads its
  // input and weight, not its output; a node that saved them would make backward() refuse the
  // modified tensor, loudly). One [rows x classes] tensor less at the peak.
  auto gradient = student.is_contiguous() ? student.detach() : student.detach().contiguous();
  // Sums in float64; the total comes back in the dtype the loss computes in.
  auto scalar = torch::zeros({}, student.options().dtype(torch::kFloat64).requires_grad(false));
  torch::Tensor value = scalar.clone(), kd = scalar.clone(), ce = scalar.clone();
  auto total_dtype = student.scalar_type();
  for (int64_t begin = 0; begin < total_rows; begin += chunk_rows) {
    const int64_t end = std::min(begin + chunk_rows, total_rows);
    LossInputs chunk = in;
    chunk.student_logits = gradient.slice(0, begin, end).detach().requires_grad_(true);
    if (teacher.defined()) chunk.teacher_logits = teacher.slice(0, begin, end);
    if (topk_log_probs.defined()) {
      chunk.teacher_topk_log_probs = topk_log_probs.slice(0, begin, end);
      chunk.teacher_topk_indices = topk_indices.slice(0, begin, end);
    }
    chunk.targets = targets.slice(0, begin, end);
    const LossTerms terms = loss.compute(chunk);
    // The batch's loss is the mean over its rows: each chunk weighs by its share of them.
    const double weight = static_cast<double>(end - begin) / static_cast<double>(total_rows);
    const auto weighted = terms.total * weight;
    const auto chunk_gradient = torch::autograd::grad({weighted}, {chunk.student_logits})[0];
    gradient.slice(0, begin, end).copy_(chunk_gradient);
    total_dtype = terms.total.scalar_type();
    value += weighted.detach().to(torch::kFloat64);
    if (terms.kd.defined()) kd += terms.kd.detach().to(torch::kFloat64) * weight;
    if (terms.ce.defined()) ce += terms.ce.detach().to(torch::kFloat64) * weight;
  }
  LossTerms result;
  result.total = ChunkedTotal::apply(in.student_logits, value.to(total_dtype), gradient);
  result.kd = kd.to(total_dtype);
  result.ce = ce.to(total_dtype);
  return result;
}

LossTerms computeLoss(const DistillationLoss& loss, const LossInputs& in, int64_t threshold) {
  const int64_t classes = in.student_logits.size(-1);
  if (loss.featureLayers() || !loss.parameters().empty() || in.student_logits.numel() < threshold ||
      classes <= 0 || !in.student_logits.requires_grad())
    return loss.compute(in);
  const int64_t chunk_rows = std::max<int64_t>(1, (threshold / 16) / classes);
  return computeInChunks(loss, in, chunk_rows);
}

}  // namespace distill
