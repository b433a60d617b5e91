#include "core/losses/loss.h"

#include <stdexcept>
#include <string>

namespace distill {

namespace {
// log 0 stand-in: exp(-1e4) is exactly 0 in float32 and float64, and stays finite in sums.
constexpr double kLogZero = -1e4;
}  // namespace

torch::Tensor klFromLogProbs(const torch::Tensor& log_p, const torch::Tensor& log_q) {
  return (log_p.exp() * (log_p - log_q)).sum(-1).mean();
}

torch::Tensor labelCrossEntropy(const torch::Tensor& student_logits, const torch::Tensor& targets) {
  const int64_t classes = student_logits.size(-1);
  return torch::nn::functional::cross_entropy(student_logits.reshape({-1, classes}), targets.reshape({-1}));
}

torch::Tensor softKlDivergence(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits,
                               double temperature) {
  const int64_t classes = student_logits.size(-1);
  return klFromLogProbs(torch::log_softmax(teacher_logits.reshape({-1, classes}) / temperature, -1),
                        torch::log_softmax(student_logits.reshape({-1, classes}) / temperature, -1));
}

std::pair<torch::Tensor, torch::Tensor> topkLogProbs(const torch::Tensor& logits, int64_t k) {
  auto top = torch::log_softmax(logits, -1).topk(k, -1);
  return {std::get<0>(top), std::get<1>(top)};
}

namespace {

// The teacher's k largest log-probabilities at T = 1 and their classes, [M, k]: from its
// logits, or the first k of the top K it came as (sorted, so the same numbers).
std::pair<torch::Tensor, torch::Tensor> teacherTop(const LossInputs& in, int64_t k, int64_t classes) {
  if (in.teacher_logits.defined()) return topkLogProbs(in.teacher_logits.reshape({-1, classes}).detach(), k);
  const int64_t kept = in.teacher_topk_log_probs.size(-1);
  if (k > kept)
    throw std::invalid_argument("teacher access asks for the top " + std::to_string(k) + " but the teacher came as its top " +
                                std::to_string(kept));
  return {in.teacher_topk_log_probs.reshape({-1, kept}).slice(-1, 0, k),
          in.teacher_topk_indices.reshape({-1, kept}).slice(-1, 0, k)};
}

// Logits access from the top K (loss.h): log p over the C classes, the K in place and the
// rest of the mass spread evenly over the other C - K.
torch::Tensor spreadTail(const torch::Tensor& top_log_probs, const torch::Tensor& top_classes, int64_t classes,
                         const torch::TensorOptions& options) {
  const int64_t rows = top_log_probs.size(0), kept = top_log_probs.size(1);
  const auto top = top_log_probs.to(options.dtype());
  if (kept >= classes) return torch::empty({rows, classes}, options).scatter_(-1, top_classes, top);
  const auto tail = torch::log1p(-top.exp().sum(-1, /*keepdim=*/true).clamp_max(1.0 - 1e-7)) -
                    std::log(static_cast<double>(classes - kept));
  return tail.expand({rows, classes}).clone().scatter_(-1, top_classes, top);
}

}  // namespace

TemperedDistributions temperedDistributions(const LossInputs& in, double temperature) {
  const int64_t classes = in.student_logits.size(-1);
  const auto student = in.student_logits.reshape({-1, classes});
  const auto student_log_probs = torch::log_softmax(student / temperature, -1);
  const auto& access = in.access;
  const bool as_top_k = !in.teacher_logits.defined() && in.teacher_topk_log_probs.defined();

  if (access.mode == "label") {
    const auto top1 = as_top_k ? teacherTop(in, 1, classes).second
                               : in.teacher_logits.reshape({-1, classes}).detach().argmax(-1, /*keepdim=*/true);
    auto teacher_log_probs = torch::full_like(student_log_probs, kLogZero).scatter_(-1, top1, 0.0);
    return {teacher_log_probs, student_log_probs};
  }
  if (access.mode == "topk") {
    const int64_t k = std::min<int64_t>(access.k, classes);
    // What the API returns: the k largest probabilities at T = 1 (as log-probabilities).
    const auto [top_log_probs, top_classes] = teacherTop(in, k, classes);
    if (access.renormalize || k == classes) {
      const auto tempered = torch::log_softmax(top_log_probs / temperature, -1);
      auto teacher_log_probs = torch::full_like(student_log_probs, kLogZero).scatter_(-1, top_classes, tempered);
      return {teacher_log_probs, student_log_probs};
    }
    // Tail bucket. Teacher: tempered top-k p_i^(1/T) and the tail's mass tail^(1/T), renormalised.
    const auto tail = torch::log1p(-top_log_probs.exp().sum(-1, /*keepdim=*/true).clamp_max(1.0 - 1e-7));
    const auto teacher_log_probs = torch::log_softmax(torch::cat({top_log_probs, tail}, -1) / temperature, -1);
    // Student: its tempered probabilities at the teacher's top k, and the rest summed.
    const auto student_top = student_log_probs.gather(-1, top_classes);
    const auto student_tail = torch::log1p(-student_top.exp().sum(-1, /*keepdim=*/true).clamp_max(1.0 - 1e-7));
    return {teacher_log_probs, torch::cat({student_top, student_tail}, -1)};
  }
  if (as_top_k) {
    const int64_t kept = in.teacher_topk_log_probs.size(-1);
    const auto log_p = spreadTail(in.teacher_topk_log_probs.reshape({-1, kept}), in.teacher_topk_indices.reshape({-1, kept}),
                                  classes, student_log_probs.options());
    return {torch::log_softmax(log_p / temperature, -1), student_log_probs};
  }
  const auto teacher = in.teacher_logits.reshape({-1, classes}).detach();
  return {torch::log_softmax(teacher / temperature, -1), student_log_probs};
}

}  // namespace distill
