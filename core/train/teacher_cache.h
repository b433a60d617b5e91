// What the student phase reads instead of running the frozen teacher at every step: the
// teacher's outputs on the training split, computed once, when the split's inputs are the same
// at every draw (TrainSplit::fixedInputs) and the loss reads no features. distill.teacher_cache
// picks the form:
//   logits  the outputs in memory on the training device; exact. Off when they would take
//           more than 2 GiB (a language model's [blocks, context, vocab]: 524 MB for
//           lm-fortunes, 103 GB at a 50,257-token vocabulary).
//   topk    the teacher's K = max(distill.teacher_cache_k, distill.topk) largest
//           log-probabilities per position in a memory-mapped file in the run's folder
//           (teacher_topk.bin, core/train/teacher_topk_cache.h), reused by a resumed run when its
//           teacher and inputs are the ones the file was made from, rebuilt otherwise. Exact for
//           topk access (k <= K) and label access; for logits access an approximation
//           (core/losses/loss.h: the remaining mass spread evenly over the other classes), which
//           the run's environment (`teacher_cache`) and log name.
//   auto    topk for topk access, logits otherwise: never an approximation.
//   off     none: the teacher runs at every step.
// The plan is made when the trainer is built, so that the environment records it before
// anything is trained; the cache itself is computed at the start of the student phase.
//
// Thread contract: the training thread only.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "core/config/config.h"
#include "core/losses/loss.h"
#include "core/models/model.h"
#include "core/tasks/task.h"
#include "core/train/step_runner.h"
#include "core/train/teacher_topk_cache.h"

namespace distill {

// The cache's file in a run's folder.
inline constexpr const char* kTeacherTopkFile = "teacher_topk.bin";

struct TeacherCachePlan {
  std::string kind = "off";  // off | logits | topk
  int64_t k = 0;             // topk: log-probabilities kept per position (at most the classes)
  bool approximate = false;  // topk read with logits access
  std::string reason;        // off: why, when the run would otherwise have had one (for the log)
  // One line for the run's environment (`teacher_cache`) and log: the form, and for topk
  // whether it is exact or an approximation.
  std::string describe() const;
};

// The plan of a run whose student phase trains with `loss` on `split` (student_phase false:
// none, e.g. a teacher-only run).
TeacherCachePlan planTeacherCache(const DistillConfig& config, const DistillationLoss& loss, const TrainSplit& split,
                                  bool student_phase);

class TeacherCache {
 public:
  using Log = std::function<void(const std::string&)>;
  // Computes the plan's cache of `teacher`'s outputs on `split` through `runner` (the same
  // forward pass and precision as a step): logits in memory, or the top-k file in `folder`
  // (reused when valid; empty folder: a temporary file). Says what it did through `log`.
  // Throws std::runtime_error when the file cannot be written.
  TeacherCache(const TeacherCachePlan& plan, TrainSplit& split, ModelImpl& teacher, StepRunner& runner,
               const Precision& precision, const std::string& folder, const Log& log);

  // The cached outputs of rows `indices`, on `device`; none when the cache is off (the
  // logits would not fit).
  CachedTeacher rows(const torch::Tensor& indices, const torch::Device& device) const;

 private:
  void cacheLogits(TrainSplit& split, ModelImpl& teacher, StepRunner& runner, const Log& log);
  void cacheTopk(const TeacherCachePlan& plan, TrainSplit& split, ModelImpl& teacher, StepRunner& runner,
                 const Precision& precision, const std::string& folder, const Log& log);

  torch::Tensor logits_;                    // logits: [rows, ..., C] on the training device
  std::unique_ptr<TeacherTopkCache> topk_;  // topk
};

}  // namespace distill
