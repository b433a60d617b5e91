#include "core/metrics/streaming.h"

#include <algorithm>
#include <cmath>

namespace distill {

namespace {

torch::Tensor zeroOn(const torch::Tensor& like, int64_t n = -1) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat64).device(like.device());
  return n < 0 ? torch::zeros({}, options) : torch::zeros({n}, options);
}

double read(const torch::Tensor& sum) { return sum.defined() ? sum.item<double>() : 0.0; }

}  // namespace

torch::Tensor keptRows(const torch::Tensor& tensor, const torch::Tensor& mask, bool has_class_dim) {
  const auto rows = has_class_dim ? tensor.reshape({-1, tensor.size(-1)}) : tensor.reshape({-1});
  if (!mask.defined()) return rows;
  return rows.index({mask.reshape({-1}).to(torch::kBool)});
}

PredictionSums::PredictionSums(int calibration_bins) : bins_(calibration_bins) {}

void PredictionSums::add(const torch::Tensor& logits, const torch::Tensor& targets, const torch::Tensor& mask) {
  const auto rows = keptRows(logits, mask, true).to(torch::kFloat64);
  const auto labels = keptRows(targets, mask, false).to(rows.device());
  if (!count_.defined()) {
    count_ = zeroOn(rows), correct_ = zeroOn(rows), cross_entropy_ = zeroOn(rows);
    bin_count_ = zeroOn(rows, bins_), bin_confidence_ = zeroOn(rows, bins_), bin_correct_ = zeroOn(rows, bins_);
  }
  if (rows.size(0) == 0) return;
  const auto log_probs = torch::log_softmax(rows, -1);
  const auto [confidence_log, prediction] = log_probs.max(-1);
  const auto correct = prediction.eq(labels).to(torch::kFloat64);
  count_ += static_cast<double>(rows.size(0));
  correct_ += correct.sum();
  cross_entropy_ -= log_probs.gather(1, labels.unsqueeze(1)).sum();
  // Bin b holds confidences in [b/B, (b+1)/B); a confidence of exactly 1 goes to the last bin.
  const auto confidence = confidence_log.exp();
  const auto bin = (confidence * bins_).floor().clamp(0, bins_ - 1).to(torch::kInt64);
  bin_count_.index_add_(0, bin, torch::ones_like(confidence));
  bin_confidence_.index_add_(0, bin, confidence);
  bin_correct_.index_add_(0, bin, correct);
}

int64_t PredictionSums::positions() const { return static_cast<int64_t>(read(count_)); }

double PredictionSums::accuracy() const {
  const double n = read(count_);
  return n > 0 ? read(correct_) / n : 0.0;
}

double PredictionSums::crossEntropy() const {
  const double n = read(count_);
  return n > 0 ? read(cross_entropy_) / n : 0.0;
}

double PredictionSums::calibrationError() const {
  const double n = read(count_);
  if (n <= 0) return 0.0;
  // ECE = sum_b (n_b / n) |acc_b - conf_b| = sum_b |correct_b - confidence_b| / n.
  return (bin_correct_ - bin_confidence_).abs().sum().item<double>() / n;
}

AgreementSums::AgreementSums(int64_t top_k) : k_(top_k) {}

void AgreementSums::add(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits,
                        const torch::Tensor& mask) {
  const auto teacher = keptRows(teacher_logits, mask, true).to(torch::kFloat64);
  const auto student = keptRows(student_logits, mask, true).to(torch::kFloat64).to(teacher.device());
  if (!count_.defined()) count_ = zeroOn(teacher), agree_ = zeroOn(teacher), kl_ = zeroOn(teacher),
                          overlap_ = zeroOn(teacher), js_ = zeroOn(teacher);
  if (teacher.size(0) == 0) return;
  count_ += static_cast<double>(teacher.size(0));
  agree_ += teacher.argmax(-1).eq(student.argmax(-1)).to(torch::kFloat64).sum();
  const auto log_p = torch::log_softmax(teacher, -1), log_q = torch::log_softmax(student, -1);
  const auto p = log_p.exp(), q = log_q.exp();
  // 0 * log 0 = 0: where p (or q) is 0 its term vanishes.
  kl_ += torch::where(p > 0, p * (log_p - log_q), torch::zeros_like(p)).sum();
  const auto log_m = ((p + q) * 0.5).clamp_min(1e-300).log();
  const auto kl_pm = torch::where(p > 0, p * (log_p - log_m), torch::zeros_like(p)).sum(-1);
  const auto kl_qm = torch::where(q > 0, q * (log_q - log_m), torch::zeros_like(q)).sum(-1);
  js_ += (0.5 * (kl_pm + kl_qm)).clamp_min(0.0).sum();
  const int64_t k = std::min(k_, teacher.size(1));
  if (k > 0) {
    const auto teacher_top = std::get<1>(teacher.topk(k, -1));
    const auto student_top = std::get<1>(student.topk(k, -1));
    // Membership masks [M, C]; their product counts the shared classes.
    const auto teacher_member = torch::zeros_like(teacher).scatter_(1, teacher_top, 1.0);
    const auto student_member = torch::zeros_like(teacher).scatter_(1, student_top, 1.0);
    overlap_ += (teacher_member * student_member).sum() / static_cast<double>(k);
  }
}

int64_t AgreementSums::positions() const { return static_cast<int64_t>(read(count_)); }

double AgreementSums::agreement() const {
  const double n = read(count_);
  return n > 0 ? read(agree_) / n : 0.0;
}
double AgreementSums::kl() const {
  const double n = read(count_);
  return n > 0 ? read(kl_) / n : 0.0;
}
double AgreementSums::topKOverlap() const {
  const double n = read(count_);
  return n > 0 ? read(overlap_) / n : 0.0;
}
double AgreementSums::js() const {
  const double n = read(count_);
  return n > 0 ? read(js_) / n : 0.0;
}

namespace {

// The sums as one float64 vector on the CPU, summed over the ranks, written back in place.
void reduceTogether(std::vector<torch::Tensor*> parts, const std::vector<int64_t>& sizes,
                    const std::function<void(torch::Tensor&)>& sum_over_ranks) {
  std::vector<torch::Tensor> flat;
  for (size_t k = 0; k < parts.size(); ++k)
    flat.push_back(parts[k]->defined() ? parts[k]->detach().to(torch::kCPU, torch::kFloat64).reshape({-1})
                                       : torch::zeros({sizes[k]}, torch::kFloat64));
  auto all = torch::cat(flat);
  sum_over_ranks(all);
  int64_t offset = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    auto values = all.slice(0, offset, offset + sizes[k]);
    offset += sizes[k];
    if (parts[k]->defined())
      parts[k]->copy_(values.reshape(parts[k]->sizes()));
    else
      *parts[k] = sizes[k] == 1 ? values.reshape({}).clone() : values.clone();
  }
}

}  // namespace

void PredictionSums::reduce(const std::function<void(torch::Tensor&)>& sum_over_ranks) {
  reduceTogether({&count_, &correct_, &cross_entropy_, &bin_count_, &bin_confidence_, &bin_correct_},
                 {1, 1, 1, bins_, bins_, bins_}, sum_over_ranks);
}

void AgreementSums::reduce(const std::function<void(torch::Tensor&)>& sum_over_ranks) {
  reduceTogether({&count_, &agree_, &kl_, &overlap_, &js_}, {1, 1, 1, 1, 1}, sum_over_ranks);
}

}  // namespace distill
