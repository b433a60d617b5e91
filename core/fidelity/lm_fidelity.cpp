#include "core/fidelity/lm_fidelity.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <tuple>

#include "core/text/utf8.h"

namespace distill {

namespace {

constexpr int kDecades = 6;  // buckets of 10^-(d+1) .. 10^-d for d < kDecades, then "below", "unseen"

std::string shapeOf(const torch::Tensor& t) {
  std::string text = "[";
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? ", " : "") + std::to_string(t.size(d));
  return text + "]";
}

// "10%", "1%", "0.1%", ..., "0.0001%": 10^-d as a percentage.
std::string percentOfDecade(int d) {
  if (d <= 2) return std::to_string(static_cast<int>(std::lround(std::pow(10.0, 2 - d)))) + "%";
  return "0." + std::string(static_cast<size_t>(d - 3), '0') + "1%";
}

LmBucket bucketWithMeans(LmBucket bucket, const std::array<double, 5>& sums) {
  bucket.count = static_cast<int64_t>(sums[0]);
  if (sums[0] > 0) {
    bucket.agreement = sums[1] / sums[0];
    bucket.kl = sums[2] / sums[0];
    bucket.teacher_acc = sums[3] / sums[0];
    bucket.student_acc = sums[4] / sums[0];
  }
  return bucket;
}

Calibration calibrationOf(const std::vector<std::array<double, 3>>& bins) {
  Calibration c;
  double total = 0.0, gap = 0.0;
  for (const auto& b : bins) total += b[0];
  const int n = static_cast<int>(bins.size());
  for (int i = 0; i < n; ++i) {
    const auto& b = bins[static_cast<size_t>(i)];
    ReliabilityBin bin;
    bin.lower = static_cast<double>(i) / n;
    bin.upper = static_cast<double>(i + 1) / n;
    bin.count = static_cast<int64_t>(b[0]);
    if (b[0] > 0) {
      bin.mean_confidence = b[1] / b[0];
      bin.accuracy = b[2] / b[0];
    }
    gap += std::abs(b[2] - b[1]);  // n_b |acc_b - conf_b|
    c.bins.push_back(bin);
  }
  c.ece = total > 0 ? gap / total : 0.0;
  return c;
}

}  // namespace

FrequencyBuckets frequencyBuckets(const std::vector<int64_t>& counts) {
  FrequencyBuckets f;
  for (int64_t c : counts) f.total += c;
  for (int d = 0; d < kDecades; ++d) {
    LmBucket b;
    b.lower = std::pow(10.0, -(d + 1));
    b.upper = d == 0 ? 1.0 : std::pow(10.0, -d);
    b.label = d == 0 ? ">=10%" : percentOfDecade(d + 1) + "-" + percentOfDecade(d);
    f.buckets.push_back(b);
  }
  LmBucket below;
  below.lower = 0.0;
  below.upper = std::pow(10.0, -kDecades);
  below.label = "<" + percentOfDecade(kDecades);
  f.buckets.push_back(below);
  LmBucket unseen;
  unseen.label = "unseen";
  f.buckets.push_back(unseen);

  f.bucket_of_token.resize(counts.size());
  for (size_t token = 0; token < counts.size(); ++token) {
    int bucket = kDecades + 1;  // unseen
    if (counts[token] > 0) {
      const double share = static_cast<double>(counts[token]) / static_cast<double>(f.total);
      bucket = 0;
      while (bucket < kDecades && share < f.buckets[static_cast<size_t>(bucket)].lower) ++bucket;
    }
    f.bucket_of_token[token] = bucket;
    ++f.buckets[static_cast<size_t>(bucket)].token_types;
  }
  return f;
}

std::vector<int64_t> tokenCounts(const std::vector<std::string>& documents, const Tokenizer& tokenizer) {
  std::vector<int64_t> counts(static_cast<size_t>(tokenizer.vocabSize()), 0);
  for (const auto& document : documents) {
    for (int64_t token : tokenizer.encode(document))
      if (token >= 0 && token < tokenizer.vocabSize()) ++counts[static_cast<size_t>(token)];
    ++counts[static_cast<size_t>(tokenizer.separator())];
  }
  return counts;
}

std::string displayTokenText(const Tokenizer& tokenizer, int64_t token) {
  if (token < 0 || token >= tokenizer.vocabSize()) return fmt::format("<padding {}>", token);
  if (token == tokenizer.separator()) return "<sep>";
  if (tokenizer.kind() == "byte" && token >= 0x80 && token < 0x100) return fmt::format("<0x{:02X}>", token);
  const std::string text = tokenizer.decode({token});
  if (text == " ") return "\xE2\x90\xA3";   // ␣
  if (text == "\n") return "\xE2\x86\xB5";  // ↵
  if (text == "\t") return "\xE2\x87\xA5";  // ⇥
  return escapeControlChars(text);
}

LmFidelitySums::LmFidelitySums(int64_t context, FrequencyBuckets frequency, int64_t keep)
    : context_(context), frequency_(std::move(frequency)), keep_(std::max<int64_t>(0, keep)) {
  if (context_ < 1) throw std::invalid_argument("LM fidelity: the context must be at least 1 token, got " +
                                                std::to_string(context_));
  position_.assign(static_cast<size_t>(context_), {});
  confidence_.assign(kLmCalibrationBins, {});
  frequency_sums_.assign(frequency_.buckets.size(), {});
  teacher_bins_.assign(kLmCalibrationBins, {});
  student_bins_.assign(kLmCalibrationBins, {});
}

void LmFidelitySums::add(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits,
                         const torch::Tensor& inputs, const torch::Tensor& targets, const torch::Tensor& mask,
                         const std::vector<int64_t>& block_ids) {
  if (teacher_logits.dim() != 3)
    throw std::invalid_argument("LM fidelity: teacher logits must be [blocks, positions, vocab], got " +
                                shapeOf(teacher_logits));
  if (!student_logits.sizes().equals(teacher_logits.sizes()))
    throw std::invalid_argument("LM fidelity: student logits " + shapeOf(student_logits) +
                                " differ from the teacher's " + shapeOf(teacher_logits));
  const int64_t blocks = teacher_logits.size(0), length = teacher_logits.size(1), vocab = teacher_logits.size(2);
  for (const auto& [name, tensor] : {std::pair{"inputs", &inputs}, std::pair{"targets", &targets}})
    if (tensor->dim() != 2 || tensor->size(0) != blocks || tensor->size(1) != length)
      throw std::invalid_argument(std::string("LM fidelity: ") + name + " must be [" + std::to_string(blocks) + ", " +
                                  std::to_string(length) + "] like the logits, got " + shapeOf(*tensor));
  if (mask.defined() && (mask.dim() != 2 || mask.size(0) != blocks || mask.size(1) != length))
    throw std::invalid_argument("LM fidelity: the mask must be [" + std::to_string(blocks) + ", " +
                                std::to_string(length) + "], got " + shapeOf(mask));
  if (length > context_)
    throw std::invalid_argument("LM fidelity: blocks of " + std::to_string(length) +
                                " positions are longer than the context of " + std::to_string(context_));
  const auto tokens = static_cast<int64_t>(frequency_.bucket_of_token.size());
  if (tokens > vocab)  // more rows than tokens: padding
    throw std::invalid_argument("LM fidelity: the token frequencies cover " + std::to_string(tokens) +
                                " tokens, more than the logits' " + std::to_string(vocab));
  if (!block_ids.empty() && static_cast<int64_t>(block_ids.size()) != blocks)
    throw std::invalid_argument("LM fidelity: " + std::to_string(block_ids.size()) + " block ids for " +
                                std::to_string(blocks) + " blocks");
  vocab_ = vocab;
  torch::NoGradGuard no_grad;

  const auto kept_rows = mask.defined() ? mask.to(torch::kCPU).reshape({-1}).to(torch::kBool).nonzero().squeeze(1)
                                        : torch::arange(blocks * length);
  const auto rows = [&](const torch::Tensor& t, bool has_vocab) {
    const auto flat = has_vocab ? t.to(torch::kCPU).reshape({-1, vocab}) : t.to(torch::kCPU).reshape({-1});
    return flat.index_select(0, kept_rows);
  };
  const auto log_p = torch::log_softmax(rows(teacher_logits, true).to(torch::kFloat32), -1);
  const auto log_q = torch::log_softmax(rows(student_logits, true).to(torch::kFloat32), -1);
  const auto target = rows(targets, false).to(torch::kInt64);
  if (target.numel() > 0 && (target.min().item<int64_t>() < 0 || target.max().item<int64_t>() >= tokens))
    throw std::invalid_argument("LM fidelity: targets hold ids " + std::to_string(target.min().item<int64_t>()) +
                                ".." + std::to_string(target.max().item<int64_t>()) + ", beyond the " +
                                std::to_string(tokens) + " tokens of the frequencies");
  const auto p = log_p.exp();
  const auto kl = (p * (log_p - log_q)).sum(-1).to(torch::kFloat64).contiguous();
  const int64_t k = std::min<int64_t>(kLmTopTokens, vocab);
  const auto [teacher_top_p, teacher_top] = p.topk(k, -1);
  const auto [student_top_log, student_top] = log_q.topk(k, -1);
  const auto student_top_p = student_top_log.exp();
  const auto teacher_pred = teacher_top.select(1, 0), student_pred = student_top.select(1, 0);
  const auto teacher_conf = teacher_top_p.select(1, 0).to(torch::kFloat64).contiguous();
  const auto student_conf = student_top_p.select(1, 0).to(torch::kFloat64).contiguous();
  const auto agree = teacher_pred.eq(student_pred).contiguous();
  const auto teacher_ok = teacher_pred.eq(target).contiguous(), student_ok = student_pred.eq(target).contiguous();
  const auto teacher_ce = (-log_p.gather(1, target.unsqueeze(1)).squeeze(1)).to(torch::kFloat64).sum().item<double>();
  const auto student_ce = (-log_q.gather(1, target.unsqueeze(1)).squeeze(1)).to(torch::kFloat64).sum().item<double>();
  const auto overlap = teacher_top.unsqueeze(2).eq(student_top.unsqueeze(1)).sum({1, 2}).to(torch::kFloat64);
  teacher_ce_ += teacher_ce;
  student_ce_ += student_ce;
  overlap_ += overlap.sum().item<double>() / static_cast<double>(k);

  const int64_t n = kept_rows.size(0);
  const auto row_of = kept_rows.contiguous();
  const int64_t* row = row_of.data_ptr<int64_t>();
  const int64_t* target_at = target.data_ptr<int64_t>();
  const double* kl_at = kl.data_ptr<double>();
  const double* tconf = teacher_conf.data_ptr<double>();
  const double* sconf = student_conf.data_ptr<double>();
  const bool* agree_at = agree.data_ptr<bool>();
  const bool* tok = teacher_ok.data_ptr<bool>();
  const bool* sok = student_ok.data_ptr<bool>();
  const auto bin = [](double confidence) {
    return std::clamp(static_cast<int>(std::floor(confidence * kLmCalibrationBins)), 0, kLmCalibrationBins - 1);
  };
  std::vector<int64_t> disagreeing;
  for (int64_t i = 0; i < n; ++i) {
    const std::array<double, 5> one = {1.0, agree_at[i] ? 1.0 : 0.0, kl_at[i], tok[i] ? 1.0 : 0.0, sok[i] ? 1.0 : 0.0};
    const auto add_to = [&](std::array<double, 5>& sums) {
      for (size_t j = 0; j < one.size(); ++j) sums[j] += one[j];
    };
    add_to(position_[static_cast<size_t>(row[i] % length)]);
    add_to(confidence_[static_cast<size_t>(bin(tconf[i]))]);
    const int64_t t = target_at[i];
    add_to(frequency_sums_[static_cast<size_t>(frequency_.bucket_of_token.at(static_cast<size_t>(t)))]);
    auto& tb = teacher_bins_[static_cast<size_t>(bin(tconf[i]))];
    tb[0] += 1, tb[1] += tconf[i], tb[2] += one[3];
    auto& sb = student_bins_[static_cast<size_t>(bin(sconf[i]))];
    sb[0] += 1, sb[1] += sconf[i], sb[2] += one[4];
    if (!agree_at[i]) disagreeing.push_back(i);
  }
  disagreements_ += static_cast<int64_t>(disagreeing.size());

  // This chunk's candidates: its disagreements of largest KL (ties: the earlier position).
  const auto larger = [&](int64_t a, int64_t b) { return kl_at[a] != kl_at[b] ? kl_at[a] > kl_at[b] : a < b; };
  const size_t take = std::min<size_t>(disagreeing.size(), static_cast<size_t>(keep_));
  std::partial_sort(disagreeing.begin(), disagreeing.begin() + static_cast<std::ptrdiff_t>(take), disagreeing.end(),
                    larger);
  const auto cpu_inputs = inputs.to(torch::kCPU).to(torch::kInt64).contiguous();
  const auto cpu_targets = targets.to(torch::kCPU).to(torch::kInt64).contiguous();
  const auto input_at = cpu_inputs.accessor<int64_t, 2>();
  const auto next_at = cpu_targets.accessor<int64_t, 2>();
  const auto teacher_top_c = teacher_top.contiguous(), student_top_c = student_top.contiguous();
  const auto teacher_top_pc = teacher_top_p.to(torch::kFloat64).contiguous();
  const auto student_top_pc = student_top_p.to(torch::kFloat64).contiguous();
  for (size_t c = 0; c < take; ++c) {
    const int64_t i = disagreeing[c];
    const int64_t b = row[i] / length, position = row[i] % length;
    Kept kept;
    LmDisagreement& d = kept.entry;
    d.block = block_ids.empty() ? blocks_added_ + b : block_ids[static_cast<size_t>(b)];
    d.position = position;
    d.kl = kl_at[i];
    d.teacher_confidence = tconf[i];
    d.target = target_at[i];
    for (int64_t j = 0; j < k; ++j) {
      d.teacher_top.push_back({teacher_top_c[i][j].item<int64_t>(), "", teacher_top_pc[i][j].item<double>()});
      d.student_top.push_back({student_top_c[i][j].item<int64_t>(), "", student_top_pc[i][j].item<double>()});
    }
    for (int64_t j = std::max<int64_t>(0, position - kLmContextBefore + 1); j <= position; ++j)
      kept.before.push_back(input_at[b][j]);
    for (int64_t j = position + 1; j < std::min(length, position + 1 + kLmContextAfter); ++j)
      kept.after.push_back(next_at[b][j]);
    kept_.push_back(std::move(kept));
  }
  blocks_added_ += blocks;
  std::sort(kept_.begin(), kept_.end(), [](const Kept& a, const Kept& b) {
    return std::tie(b.entry.kl, a.entry.block, a.entry.position) < std::tie(a.entry.kl, b.entry.block, b.entry.position);
  });
  if (static_cast<int64_t>(kept_.size()) > keep_) kept_.resize(static_cast<size_t>(keep_));
}

LmFidelityAnalysis LmFidelitySums::result(const Tokenizer& tokenizer) const {
  LmFidelityAnalysis a;
  a.tokenizer = tokenizer.kind();
  a.tokenizer_vocab = tokenizer.vocabSize();
  a.vocab = vocab_ > 0 ? vocab_ : a.tokenizer_vocab;
  a.context = context_;
  std::array<double, 5> total{};
  for (const auto& sums : position_)
    for (size_t j = 0; j < total.size(); ++j) total[j] += sums[j];
  a.tokens = static_cast<int64_t>(total[0]);
  if (total[0] > 0) {
    a.agreement = total[1] / total[0];
    a.kl = total[2] / total[0];
    a.teacher_acc = total[3] / total[0];
    a.student_acc = total[4] / total[0];
    a.teacher_ce = teacher_ce_ / total[0];
    a.student_ce = student_ce_ / total[0];
    a.top5_overlap = overlap_ / total[0];
  }

  const int64_t buckets = std::min<int64_t>(context_, kLmPositionBuckets);
  for (int64_t b = 0; b < buckets; ++b) {
    const int64_t lower = b * context_ / buckets, upper = (b + 1) * context_ / buckets;
    std::array<double, 5> sums{};
    for (int64_t position = lower; position < upper; ++position)
      for (size_t j = 0; j < sums.size(); ++j) sums[j] += position_[static_cast<size_t>(position)][j];
    LmBucket bucket;
    bucket.label = upper - lower == 1 ? std::to_string(lower) : std::to_string(lower) + "-" + std::to_string(upper - 1);
    bucket.lower = static_cast<double>(lower);
    bucket.upper = static_cast<double>(upper);
    a.by_position.push_back(bucketWithMeans(bucket, sums));
  }
  for (int b = 0; b < kLmCalibrationBins; ++b) {
    LmBucket bucket;
    bucket.lower = static_cast<double>(b) / kLmCalibrationBins;
    bucket.upper = static_cast<double>(b + 1) / kLmCalibrationBins;
    bucket.label = fmt::format("{:.1f}-{:.1f}", bucket.lower, bucket.upper);
    a.by_confidence.push_back(bucketWithMeans(bucket, confidence_[static_cast<size_t>(b)]));
  }
  for (size_t b = 0; b < frequency_.buckets.size(); ++b)
    if (frequency_sums_[b][0] > 0) a.by_frequency.push_back(bucketWithMeans(frequency_.buckets[b], frequency_sums_[b]));
  a.teacher_calibration = calibrationOf(teacher_bins_);
  a.student_calibration = calibrationOf(student_bins_);

  a.disagreement_count = disagreements_;
  for (const Kept& kept : kept_) {
    LmDisagreement d = kept.entry;
    d.before = tokenizer.decode(kept.before);
    d.token = tokenizer.decode({d.target});
    d.after = tokenizer.decode(kept.after);
    for (auto* top : {&d.teacher_top, &d.student_top})
      for (auto& entry : *top) entry.text = displayTokenText(tokenizer, entry.token);
    a.disagreements.push_back(std::move(d));
  }
  return a;
}

}  // namespace distill
