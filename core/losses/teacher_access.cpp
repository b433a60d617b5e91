#include "core/losses/loss.h"

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

TemperedDistributions temperedDistributions(const LossInputs& in, double temperature) {
  const int64_t classes = in.student_logits.size(-1);
  const auto student = in.student_logits.reshape({-1, classes});
  const auto teacher = in.teacher_logits.reshape({-1, classes}).detach();
  const auto student_log_probs = torch::log_softmax(student / temperature, -1);
  const auto& access = in.access;

  if (access.mode == "label") {
    const auto top1 = teacher.argmax(-1, /*keepdim=*/true);
    auto teacher_log_probs = torch::full_like(student_log_probs, kLogZero).scatter_(-1, top1, 0.0);
    return {teacher_log_probs, student_log_probs};
  }
  if (access.mode == "topk") {
    const int64_t k = std::min<int64_t>(access.k, classes);
    // What the API returns: the k largest probabilities at T = 1 (as log-probabilities).
    const auto api = torch::log_softmax(teacher, -1).topk(k, -1);
    const auto top_log_probs = std::get<0>(api);
    const auto top_classes = std::get<1>(api);
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
  return {torch::log_softmax(teacher / temperature, -1), student_log_probs};
}

}  // namespace distill
