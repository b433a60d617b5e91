#include "core/fidelity/fidelity.h"

#include <algorithm>
#include <stdexcept>

#include "core/metrics/metrics.h"

namespace distill {

namespace {

torch::Tensor flat(const torch::Tensor& logits) { return logits.reshape({-1, logits.size(-1)}).to(torch::kFloat64); }

torch::Tensor probabilities(const torch::Tensor& logits) { return torch::softmax(flat(logits), -1); }

void requireSameShape(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits) {
  if (teacher_logits.sizes() != student_logits.sizes())
    throw std::invalid_argument("fidelity: teacher logits " + c10::str(teacher_logits.sizes()) +
                                " and student logits " + c10::str(student_logits.sizes()) + " differ in shape");
}

std::vector<ClassProbability> topClasses(const torch::Tensor& probs_row, int64_t k) {
  const auto top = probs_row.topk(std::min<int64_t>(k, probs_row.size(0)));
  const auto values = std::get<0>(top);
  const auto labels = std::get<1>(top);
  std::vector<ClassProbability> result;
  for (int64_t i = 0; i < values.size(0); ++i)
    result.push_back({labels[i].item<int64_t>(), values[i].item<double>()});
  return result;
}

std::vector<float> toFloats(const torch::Tensor& row) {
  const auto contiguous = row.to(torch::kFloat32).contiguous();
  return std::vector<float>(contiguous.data_ptr<float>(), contiguous.data_ptr<float>() + contiguous.numel());
}

}  // namespace

torch::Tensor agreementMatrix(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits) {
  requireSameShape(teacher_logits, student_logits);
  const int64_t classes = teacher_logits.size(-1);
  const auto teacher_pred = flat(teacher_logits).argmax(-1).cpu();
  const auto student_pred = flat(student_logits).argmax(-1).cpu();
  return torch::bincount(teacher_pred * classes + student_pred, {}, classes * classes)
      .to(torch::kInt64)
      .reshape({classes, classes});
}

double topKOverlap(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits, int64_t k) {
  requireSameShape(teacher_logits, student_logits);
  const int64_t classes = teacher_logits.size(-1);
  k = std::min(k, classes);
  if (k <= 0) return 0.0;
  const auto teacher_top = std::get<1>(flat(teacher_logits).topk(k, -1));
  const auto student_top = std::get<1>(flat(student_logits).topk(k, -1));
  // Membership masks [N, C]; their product counts the shared classes.
  const auto teacher_mask = torch::zeros({teacher_top.size(0), classes}, torch::kFloat64).to(teacher_top.device())
                                .scatter_(1, teacher_top, 1.0);
  const auto student_mask = torch::zeros_like(teacher_mask).scatter_(1, student_top, 1.0);
  return (teacher_mask * student_mask).sum(1).div(static_cast<double>(k)).mean().item<double>();
}

double jsDivergence(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits) {
  requireSameShape(teacher_logits, student_logits);
  const auto log_p = torch::log_softmax(flat(teacher_logits), -1);
  const auto log_q = torch::log_softmax(flat(student_logits), -1);
  const auto p = log_p.exp(), q = log_q.exp();
  const auto log_m = ((p + q) * 0.5).clamp_min(1e-300).log();
  // 0 * log 0 = 0: where p (or q) is 0 its term vanishes.
  const auto kl_pm = torch::where(p > 0, p * (log_p - log_m), torch::zeros_like(p)).sum(-1);
  const auto kl_qm = torch::where(q > 0, q * (log_q - log_m), torch::zeros_like(q)).sum(-1);
  return (0.5 * (kl_pm + kl_qm)).clamp_min(0.0).mean().item<double>();
}

Calibration calibration(const torch::Tensor& logits, const torch::Tensor& targets, int bins) {
  if (bins <= 0) throw std::invalid_argument("calibration: bins must be positive, got " + std::to_string(bins));
  const auto probs = probabilities(logits).cpu();
  const auto [confidence, prediction] = probs.max(-1);
  const auto correct = prediction.eq(targets.reshape({-1}).cpu()).to(torch::kFloat64);
  const int64_t n = probs.size(0);
  // Bin b holds confidences in [b/B, (b+1)/B); a confidence of exactly 1 goes to the last bin.
  const auto bin_index = (confidence * bins).floor().clamp(0, bins - 1).to(torch::kInt64);
  const auto counts = torch::bincount(bin_index, {}, bins).to(torch::kFloat64);
  const auto confidence_sums = torch::bincount(bin_index, confidence, bins);
  const auto correct_sums = torch::bincount(bin_index, correct, bins);

  Calibration result;
  for (int b = 0; b < bins; ++b) {
    ReliabilityBin bin;
    bin.lower = static_cast<double>(b) / bins;
    bin.upper = static_cast<double>(b + 1) / bins;
    bin.count = counts[b].item<int64_t>();
    if (bin.count > 0) {
      bin.mean_confidence = confidence_sums[b].item<double>() / bin.count;
      bin.accuracy = correct_sums[b].item<double>() / bin.count;
      result.ece += static_cast<double>(bin.count) / n * std::abs(bin.accuracy - bin.mean_confidence);
    }
    result.bins.push_back(bin);
  }
  return result;
}

double expectedCalibrationError(const torch::Tensor& logits, const torch::Tensor& targets, int bins) {
  return calibration(logits, targets, bins).ece;
}

std::vector<int64_t> disagreementIndices(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits) {
  requireSameShape(teacher_logits, student_logits);
  const auto differs = flat(teacher_logits).argmax(-1).ne(flat(student_logits).argmax(-1)).cpu();
  const auto indices = differs.nonzero().reshape({-1}).to(torch::kInt64).contiguous();
  return std::vector<int64_t>(indices.data_ptr<int64_t>(), indices.data_ptr<int64_t>() + indices.numel());
}

FidelityAnalysis analyzeFidelity(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits,
                                 const torch::Tensor& targets, const std::vector<std::string>& class_names, int bins) {
  requireSameShape(teacher_logits, student_logits);
  const int64_t classes = teacher_logits.size(-1);
  const auto flat_targets = targets.reshape({-1}).cpu().to(torch::kInt64);
  const auto teacher = flat(teacher_logits).cpu();
  const auto student = flat(student_logits).cpu();
  if (flat_targets.size(0) != teacher.size(0))
    throw std::invalid_argument("fidelity: " + std::to_string(flat_targets.size(0)) + " targets for " +
                                std::to_string(teacher.size(0)) + " predictions");

  FidelityAnalysis result;
  result.samples = teacher.size(0);
  result.num_classes = classes;
  for (int64_t c = 0; c < classes; ++c)
    result.class_names.push_back(c < static_cast<int64_t>(class_names.size()) ? class_names[c] : std::to_string(c));

  const auto matrix = agreementMatrix(teacher, student).contiguous();
  result.agreement_matrix.assign(matrix.data_ptr<int64_t>(), matrix.data_ptr<int64_t>() + matrix.numel());

  if (result.samples > 0) {
    result.teacher_acc = accuracy(teacher, flat_targets);
    result.student_acc = accuracy(student, flat_targets);
    result.agreement = topOneAgreement(teacher, student);
    result.top5_overlap = topKOverlap(teacher, student, 5);
    result.kl = predictiveKl(teacher, student);
    result.js = jsDivergence(teacher, student);
  }
  result.teacher_calibration = calibration(teacher, flat_targets, bins);
  result.student_calibration = calibration(student, flat_targets, bins);

  const auto teacher_pred = teacher.argmax(-1);
  const auto student_pred = student.argmax(-1);
  const auto teacher_right = teacher_pred.eq(flat_targets).to(torch::kFloat64);
  const auto student_right = student_pred.eq(flat_targets).to(torch::kFloat64);
  const auto agree = teacher_pred.eq(student_pred).to(torch::kFloat64);
  const auto counts = torch::bincount(flat_targets, {}, classes).to(torch::kFloat64);
  const auto teacher_hits = torch::bincount(flat_targets, teacher_right, classes);
  const auto student_hits = torch::bincount(flat_targets, student_right, classes);
  const auto agreements = torch::bincount(flat_targets, agree, classes);
  for (int64_t c = 0; c < classes; ++c) {
    ClassFidelity row;
    row.name = result.class_names[c];
    row.count = counts[c].item<int64_t>();
    if (row.count > 0) {
      row.teacher_acc = teacher_hits[c].item<double>() / row.count;
      row.student_acc = student_hits[c].item<double>() / row.count;
      row.agreement = agreements[c].item<double>() / row.count;
    }
    result.per_class.push_back(row);
  }

  const auto teacher_probs = torch::softmax(teacher, -1);
  const auto student_probs = torch::softmax(student, -1);
  for (const int64_t index : disagreementIndices(teacher, student)) {
    Disagreement d;
    d.index = index;
    d.target = flat_targets[index].item<int64_t>();
    d.teacher_top = topClasses(teacher_probs[index], 3);
    d.student_top = topClasses(student_probs[index], 3);
    d.teacher_confidence = d.teacher_top.front().probability;
    d.teacher_probs = toFloats(teacher_probs[index]);
    d.student_probs = toFloats(student_probs[index]);
    result.disagreements.push_back(std::move(d));
  }
  std::stable_sort(result.disagreements.begin(), result.disagreements.end(),
                   [](const Disagreement& a, const Disagreement& b) { return a.teacher_confidence > b.teacher_confidence; });
  return result;
}

}  // namespace distill
