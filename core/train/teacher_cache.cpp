#include "core/train/teacher_cache.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "core/metrics/metrics.h"

namespace distill {

namespace {

// A frozen teacher's logits on the whole training split are kept in memory only under this size.
constexpr double kLogitCacheBytes = 2.0 * (1 << 30);

std::string megabytes(double bytes) { return fmt::format("{:.0f} MB", bytes / 1e6); }

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

torch::Tensor rowRange(const TrainSplit& split, int64_t begin, int64_t end) {
  return torch::arange(begin, end, torch::TensorOptions().dtype(torch::kInt64).device(split.indexDevice()));
}

// The teacher as the cache depends on it: every weight and buffer, and the precision its
// forward pass runs in.
uint64_t teacherFingerprint(const ModelImpl& teacher, const Precision& precision) {
  Fingerprint fingerprint;
  for (const auto& p : teacher.named_parameters(/*recurse=*/true)) {
    fingerprint.add(p.key());
    fingerprint.add(p.value());
  }
  for (const auto& b : teacher.named_buffers(/*recurse=*/true)) {
    fingerprint.add(b.key());
    fingerprint.add(b.value());
  }
  fingerprint.add(precision.autocast ? std::string(c10::toString(precision.dtype)) : std::string("float32"));
  return fingerprint.value();
}

// The split's inputs in row order (the rows of a split with fixed inputs are the same at
// every draw).
uint64_t inputsFingerprint(TrainSplit& split, int64_t chunk) {
  Fingerprint fingerprint;
  fingerprint.add(split.size());
  for (int64_t begin = 0; begin < split.size(); begin += chunk)
    fingerprint.add(split.batch(rowRange(split, begin, std::min(begin + chunk, split.size()))).inputs);
  return fingerprint.value();
}

}  // namespace

std::string TeacherCachePlan::describe() const {
  if (kind == "off") return reason.empty() ? "off" : "off (" + reason + ")";
  if (kind == "logits") return "logits, in memory (exact; off above 2 GiB)";
  const std::string file = std::string(" in a memory-mapped file (") + kTeacherTopkFile + ")";
  if (approximate)
    return "topk, an approximation for logits access: the teacher's top " + std::to_string(k) +
           " log-probabilities per position" + file + ", the rest of its mass spread evenly over the other classes";
  return "topk: the teacher's top " + std::to_string(k) + " log-probabilities per position" + file + "; exact";
}

TeacherCachePlan planTeacherCache(const DistillConfig& config, const DistillationLoss& loss, const TrainSplit& split,
                                  bool student_phase) {
  TeacherCachePlan plan;
  if (!student_phase || config.teacher_cache == "off" || !loss.needsTeacher()) return plan;
  // Exact only when the teacher sees the same input at every epoch.
  if (loss.featureLayers()) {
    plan.reason = "the loss needs the teacher's features at every step";
    return plan;
  }
  if (!split.fixedInputs()) {
    plan.reason = "the inputs differ at every draw (augmented or generated)";
    return plan;
  }
  const bool topk_access = config.teacher_access == "topk";
  if (config.teacher_cache == "topk" || (config.teacher_cache == "auto" && topk_access)) {
    plan.kind = "topk";
    plan.k = std::max(config.teacher_cache_k, topk_access ? config.topk : int64_t{1});
    plan.approximate = config.teacher_access == "logits";
  } else {
    plan.kind = "logits";
  }
  return plan;
}

TeacherCache::TeacherCache(const TeacherCachePlan& plan, TrainSplit& split, ModelImpl& teacher, StepRunner& runner,
                           const Precision& precision, const std::string& folder, const Log& log) {
  if (plan.kind == "logits") cacheLogits(split, teacher, runner, log);
  if (plan.kind == "topk") cacheTopk(plan, split, teacher, runner, precision, folder, log);
}

// In chunks of evaluationChunk() rows: never one forward pass over the whole split, whose
// activations would dominate peak memory.
void TeacherCache::cacheLogits(TrainSplit& split, ModelImpl& teacher, StepRunner& runner, const Log& log) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t chunk = evaluationChunk(teacher);
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < split.size(); begin += chunk) {
    const int64_t end = std::min(begin + chunk, split.size());
    parts.push_back(runner.teacherOutputs(split.batch(rowRange(split, begin, end)).inputs));
    if (begin == 0) {
      const double bytes = static_cast<double>(parts.front().numel() * parts.front().element_size()) *
                           static_cast<double>(split.size()) / static_cast<double>(end);
      if (bytes > kLogitCacheBytes) {
        log("teacher-logit cache off: it would take " + std::to_string(std::lround(bytes / (1 << 20))) +
            " MiB; the teacher runs at every step (distill.teacher_cache: topk keeps its top-k log-probabilities "
            "in a file instead, an approximation for logits access)");
        return;
      }
    }
  }
  logits_ = torch::cat(parts, 0);
  log(fmt::format("cached the teacher's logits on {} training inputs: {} in memory, built in {:.1f} s", split.size(),
                  megabytes(static_cast<double>(logits_.numel() * logits_.element_size())), secondsSince(start)));
}

void TeacherCache::cacheTopk(const TeacherCachePlan& plan, TrainSplit& split, ModelImpl& teacher, StepRunner& runner,
                             const Precision& precision, const std::string& folder, const Log& log) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t chunk = evaluationChunk(teacher);
  const TopkCacheSource source{teacherFingerprint(teacher, precision), inputsFingerprint(split, chunk)};
  std::string path;
  if (!folder.empty()) {
    std::filesystem::create_directories(folder);
    path = (std::filesystem::path(folder) / kTeacherTopkFile).string();
    std::string reason;
    topk_ = TeacherTopkCache::open(path, split.size(), plan.k, source, reason);
    if (topk_) {
      log(fmt::format("reused the teacher's top-{} cache {} ({}, checked in {:.1f} s)", topk_->k(), path,
                      megabytes(static_cast<double>(topk_->fileBytes())), secondsSince(start)));
    } else if (reason != "there is none yet") {
      log("rebuilding the teacher's top-k cache " + path + ": " + reason);
    }
  }
  if (!topk_) {
    topk_ = TeacherTopkCache::build(path, split.size(), plan.k, source, chunk, [&](int64_t begin, int64_t end) {
      return runner.teacherOutputs(split.batch(rowRange(split, begin, end)).inputs);
    });
    const int64_t positions = split.size() * topk_->positionsPerRow();
    log(fmt::format("cached the teacher's top-{} log-probabilities on {} training inputs ({} positions) in {}: {} "
                    "({} bytes a position), built in {:.1f} s",
                    topk_->k(), split.size(), positions, path.empty() ? "a temporary file" : path,
                    megabytes(static_cast<double>(topk_->fileBytes())), 8 * topk_->k(), secondsSince(start)));
  }
  if (plan.approximate && topk_->k() == topk_->classes())
    log(fmt::format("logits access reads the teacher from its top-{} cache, which keeps every class: exact up to "
                    "rounding", topk_->k()));
  else if (plan.approximate)
    log(fmt::format("logits access reads the teacher from its top-{} cache: an approximation (its {} largest "
                    "probabilities per position, the rest of its mass spread evenly over the other {} classes; "
                    "the rest is {:.2f}% of its mass on average, KL(teacher || approximation) {:.4f} nats a "
                    "position at T = 1)",
                    topk_->k(), topk_->k(), topk_->classes() - topk_->k(), 100.0 * topk_->meanTailMass(),
                    topk_->meanSpreadKl()));
}

CachedTeacher TeacherCache::rows(const torch::Tensor& indices, const torch::Device& device) const {
  CachedTeacher cached;
  if (logits_.defined()) cached.logits = logits_.index_select(0, indices.to(logits_.device()));
  if (topk_) {
    auto [log_probs, classes] = topk_->rows(indices);
    cached.topk_log_probs = log_probs.to(device);
    cached.topk_indices = classes.to(device);
  }
  return cached;
}

}  // namespace distill
