// Distillation losses. Each method lives in its own file in core/losses/ with a test beside
// it in tests/core/losses/, and is selected by `distill.method` through makeLoss() in
// registry.cpp (one line per method).
//
// Logits may carry leading dimensions ([B, C] for images, [B, L, C] for sequences): losses
// average over every position. A task's mask (padding, prompts) is applied before a loss sees
// the logits: the trainer passes only the positions that count, flattened to [M, C], so every
// loss is masked without handling masks itself. Thread contract: used from the training
// thread; stateless after construction, except a loss with learned parts (FitNet's hint
// regressor), whose state the trainer saves and restores through save() and load().
#pragma once

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/config/config.h"
#include "core/losses/methods.h"

namespace distill {

// What the student may see of the teacher (distill.teacher_access), the black-box setting:
// white-box logits, an API's top-k probabilities, or only its top-1 label.
struct TeacherAccess {
  std::string mode = "logits";  // logits | topk | label
  int64_t k = 5;                // topk: how many probabilities the "API" returns
  bool renormalize = false;     // topk: renormalise over the k classes instead of a tail bucket
};

struct LossInputs {
  torch::Tensor student_logits;  // [N, C] or [N, L, C], requires grad
  torch::Tensor teacher_logits;  // same shape, no grad; undefined when !needsTeacher() or given as top k
  // The teacher as its top k instead of its logits (the trainer's top-k cache,
  // core/train/teacher_cache.h): its K largest log-probabilities at T = 1 per position in
  // descending order (float32) and their classes (int64), [N, K] or [N, L, K]; undefined
  // otherwise. temperedDistributions() reads them in every access mode without the teacher's
  // [positions x classes] logits: exactly for topk (k <= K) and label, approximately for logits.
  torch::Tensor teacher_topk_log_probs;
  torch::Tensor teacher_topk_indices;
  torch::Tensor targets;         // class indices, [N] or [N, L]
  double epoch = 0.0;            // fractional epoch of the student phase (for warm-ups)
  TeacherAccess access;
  // Hidden representations, for a loss that asks for them (featureLayers()): the student's
  // (with grad) and the teacher's (without), per sample. Undefined otherwise.
  torch::Tensor student_features;
  torch::Tensor teacher_features;
};

// The total to minimise and its parts, as logged under train/student_loss, train/kd_loss and
// train/ce_loss (kd = the teacher-matching term before weighting, ce = cross-entropy with the
// labels).
struct LossTerms {
  torch::Tensor total;
  torch::Tensor kd;
  torch::Tensor ce;
  // Further parts, logged under their metric keys (FitNet's train/hint_loss).
  std::vector<std::pair<const char*, torch::Tensor>> parts;
};

// The hidden layers a feature-based loss reads, by forwardWithFeature() index.
struct FeatureLayers {
  int64_t student = -1;
  int64_t teacher = -1;
};

class DistillationLoss {
 public:
  virtual ~DistillationLoss() = default;
  virtual LossTerms compute(const LossInputs& inputs) const = 0;
  // False when the teacher's output does not enter the loss (e.g. alpha = 0), so the trainer
  // can skip the teacher's forward pass.
  virtual bool needsTeacher() const = 0;

  // ---- losses with features or learned parts (FitNet); the defaults fit logit losses.
  // The hidden layers to pass in LossInputs' features; none: logits only.
  virtual std::optional<FeatureLayers> featureLayers() const { return std::nullopt; }
  // Called once before the student phase with both models' features on a probe batch, so
  // that a loss can size its learned parts (before the optimizer is built).
  virtual void prepare(const torch::Tensor& student_features, const torch::Tensor& teacher_features) {}
  // Parameters the loss learns, trained with the student's by the same optimizer.
  virtual std::vector<torch::Tensor> parameters() const { return {}; }
  virtual void to(const torch::Device& device) {}
  // The learned parts, in and out of a run's training state (resume).
  virtual void save(torch::serialize::OutputArchive& state) const {}
  virtual void load(torch::serialize::InputArchive& state) {}
};

std::unique_ptr<DistillationLoss> makeLoss(const DistillConfig& config);

// Teacher and student log-probabilities at temperature T over the same outcomes, flattened
// to [M, K], after applying the teacher access mode (core/losses/teacher_access.cpp):
//   logits: log_softmax(t/T) and log_softmax(s/T) over the C classes (K = C).
//   topk:   the teacher's k largest probabilities p_i (at T = 1, as an API returns them),
//           tempered as p_i^(1/T). With a tail bucket (default) K = k + 1: the teacher's
//           remaining mass is one outcome, and the student's matching outcome is the sum of
//           its tempered probabilities outside the teacher's top k. Renormalised: K = C, the
//           teacher's distribution is its top k renormalised; other classes get probability 0
//           (log-probability -1e4, finite so that 0 * log 0 terms stay 0 and gradients finite).
//   label:  the teacher's top-1 class with probability 1 (others as above), K = C.
// When the teacher comes as its top K (LossInputs::teacher_topk_*), topk and label access read
// the first k (or 1) of those, the same numbers topkLogProbs() gives from the logits, so the
// loss is the same; logits access becomes an approximation over the C classes: the K cached
// probabilities in place and the teacher's remaining mass spread evenly over the other C - K
// classes (the maximum-entropy distribution with those top K), tempered as p^(1/T). With
// K = C that is the teacher's exact distribution. Spread evenly rather than one tail bucket:
// the result is still a distribution over the vocabulary, so every loss keeps its definition
// and gradient on every student logit, and the setting differs from topk access (which is the
// tail bucket). What it costs: the student's tail is pulled towards uniform by the tail's mass
// (a label smoothing of the tail), and at T > 1 the tempered tail is overstated (sum_i p_i^(1/T)
// over the tail is largest when the p_i are equal). docs/performance.md has the numbers.
struct TemperedDistributions {
  torch::Tensor teacher_log_probs;
  torch::Tensor student_log_probs;
};
TemperedDistributions temperedDistributions(const LossInputs& inputs, double temperature);

// The k largest log-probabilities at T = 1 of each row of `logits` ([M, C]), in descending
// order, and their classes: what an API returns, and what the top-k cache keeps (the cache
// passes float32 logits, so that it keeps the numbers the loss computes from them).
std::pair<torch::Tensor, torch::Tensor> topkLogProbs(const torch::Tensor& logits, int64_t k);

// Mean over positions of KL(P || Q) given log P and log Q ([M, K]).
torch::Tensor klFromLogProbs(const torch::Tensor& log_p, const torch::Tensor& log_q);

// Mean cross-entropy of the student's logits with the labels.
torch::Tensor labelCrossEntropy(const torch::Tensor& student_logits, const torch::Tensor& targets);

// The mix every teacher-matching method shares with the labels:
//   total = alpha * term + (1 - alpha) * CE(s, y)
// `term()` (the teacher-matching term, reported as `kd`) is evaluated only when alpha > 0,
// since the teacher's logits are absent otherwise (needsTeacher() is false).
template <typename Term>
LossTerms mixWithLabels(const LossInputs& in, double alpha, Term term) {
  LossTerms terms;
  terms.ce = labelCrossEntropy(in.student_logits, in.targets);
  if (alpha > 0.0) {
    terms.kd = term();
    terms.total = alpha * terms.kd + (1.0 - alpha) * terms.ce;
  } else {
    terms.kd = torch::zeros({}, in.student_logits.options());
    terms.total = terms.ce;
  }
  return terms;
}

// Mean over positions of KL(softmax(teacher/T) || softmax(student/T)) (no T^2 factor),
// white-box; used by the metrics.
torch::Tensor softKlDivergence(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits,
                               double temperature);

// Hinton, Vinyals & Dean (2015), "Distilling the Knowledge in a Neural Network":
//   loss = alpha * T^2 * KL(P_t^T || P_s^T) + (1 - alpha) * CE(s, y)
// The T^2 factor keeps the soft term's gradient scale independent of T.
class HintonKdLoss : public DistillationLoss {
 public:
  HintonKdLoss(double temperature, double alpha) : temperature_(temperature), alpha_(alpha) {}
  LossTerms compute(const LossInputs& inputs) const override;
  bool needsTeacher() const override { return alpha_ > 0.0; }

 private:
  double temperature_;
  double alpha_;
};

// Reverse KL, the mode-seeking direction (e.g. Gu et al. 2024, "MiniLLM: Knowledge
// Distillation of Large Language Models", ICLR):
//   loss = alpha * T^2 * KL(P_s^T || P_t^T) + (1 - alpha) * CE(s, y)
// T^2 for the same reason as in kd: near P_s = P_t both KL directions equal half the
// chi-square distance, so the gradient shrinks as 1/T^2 in either direction.
class ReverseKlLoss : public DistillationLoss {
 public:
  ReverseKlLoss(double temperature, double alpha) : temperature_(temperature), alpha_(alpha) {}
  LossTerms compute(const LossInputs& inputs) const override;
  bool needsTeacher() const override { return alpha_ > 0.0; }

 private:
  double temperature_;
  double alpha_;
};

// Generalised (skew) Jensen-Shannon divergence, normalised so that its endpoints are the two
// KL directions (Huszar 2015, "How (not) to train your generative model"; Agarwal et al.
// 2024, "On-Policy Distillation of Language Models", ICLR). With M = beta P_t + (1-beta) P_s:
//   JSD_beta = beta KL(P_t || M) + (1 - beta) KL(P_s || M)
//   D_beta   = JSD_beta / (beta (1 - beta))  for 0 < beta < 1,
//   D_0 = KL(P_t || P_s) (forward, = kd),   D_1 = KL(P_s || P_t) (reverse)
//   loss = alpha * T^2 * D_beta + (1 - alpha) * CE(s, y)
// See jsd.cpp for why the normalisation makes D continuous in beta.
class JsdLoss : public DistillationLoss {
 public:
  JsdLoss(double temperature, double alpha, double beta) : temperature_(temperature), alpha_(alpha), beta_(beta) {}
  LossTerms compute(const LossInputs& inputs) const override;
  bool needsTeacher() const override { return alpha_ > 0.0; }

 private:
  // D_beta = JSD_beta / (beta (1 - beta)) at T, before the T^2 factor.
  torch::Tensor divergence(const LossInputs& inputs) const;
  double temperature_;
  double alpha_;
  double beta_;
};

// Skew KL and skew reverse KL (Ko et al. 2024, "DistiLLM: Towards Streamlined Distillation for
// Large Language Models", ICML). The student's distribution is mixed into the KL's second
// argument with weight 1 - lambda, which bounds the log-ratio by -log(lambda) (a student that
// gives a teacher's token probability 0 costs at most log(1/lambda) per unit of mass, not
// infinity), so the gradient stays finite where plain KL's explodes:
//   skew_kl:         SKL  = KL(P_t || lambda P_t + (1 - lambda) P_s)
//   skew_reverse_kl: SRKL = KL(P_s || lambda P_s + (1 - lambda) P_t)
//   loss = alpha * T^2 * SKL (or SRKL) + (1 - alpha) * CE(s, y),   lambda = distill.skew (0.1)
// lambda = 0 is kd (or reverse_kl); as lambda -> 1 the term vanishes. Near P_s = P_t the term is
// (1 - lambda)^2 times half the chi-square distance, so T^2 is the right scale here too.
class SkewKlLoss : public DistillationLoss {
 public:
  SkewKlLoss(double temperature, double alpha, double skew, bool reverse)
      : temperature_(temperature), alpha_(alpha), skew_(skew), reverse_(reverse) {}
  LossTerms compute(const LossInputs& inputs) const override;
  bool needsTeacher() const override { return alpha_ > 0.0; }

 private:
  torch::Tensor logMixture(const torch::Tensor& log_p, const torch::Tensor& log_q) const;
  double temperature_;
  double alpha_;
  double skew_;
  bool reverse_;
};

// Total variation distance between the tempered distributions (Wen et al. 2023,
// "f-Divergence Minimization for Sequence-Level Knowledge Distillation", ACL):
//   TVD  = 1/2 sum_i |P_t,i - P_s,i|
//   loss = alpha * T * TVD + (1 - alpha) * CE(s, y)
// T (not T^2): |.| does not flatten near P_s = P_t as a KL does, so the gradient shrinks only
// by the softmax's 1/T.
class TvdLoss : public DistillationLoss {
 public:
  TvdLoss(double temperature, double alpha) : temperature_(temperature), alpha_(alpha) {}
  LossTerms compute(const LossInputs& inputs) const override;
  bool needsTeacher() const override { return alpha_ > 0.0; }

 private:
  double temperature_;
  double alpha_;
};

// Logit regression (Ba & Caruana 2014, "Do Deep Nets Really Need to be Deep?"; Kim et al.
// 2021, "Comparing Kullback-Leibler Divergence and Mean Squared Error Loss in Knowledge
// Distillation", IJCAI):
//   loss = alpha * 1/2 mean_{positions, classes} (s - t)^2 + (1 - alpha) * CE(s, y)
// No temperature: it is the T -> infinity limit of T^2 KL for zero-mean logits (Hinton et al.
// 2015, section 2.1: dC/dz_i -> (z_i - v_i) / (N T^2) over N classes, hence 1/(2N) sum). The
// 1/2 is that limit, and it matters: without it the term and its curvature were twice the
// limit's, and SGD at the default lr 0.05 diverged on confident teachers. Needs white-box logits.
class MseLogitsLoss : public DistillationLoss {
 public:
  explicit MseLogitsLoss(double alpha) : alpha_(alpha) {}
  LossTerms compute(const LossInputs& inputs) const override;
  bool needsTeacher() const override { return alpha_ > 0.0; }

 private:
  double alpha_;
};

// Decoupled Knowledge Distillation (Zhao et al. 2022, "Decoupled Knowledge Distillation",
// CVPR). KD splits into a target-class part and a non-target part,
//   KL(P_t || P_s) = TCKD + (1 - p_t,y) NCKD,
// where TCKD is the KL between the binary (target, rest) distributions and NCKD the KL between
// the distributions over the non-target classes renormalised, both at T. DKD weights them
// freely:
//   kd    = T^2 (dkd_alpha TCKD + dkd_beta NCKD)
//   loss  = CE(s, y) + warm * kd,   warm = min(epoch / warmup_epochs, 1)  (1 if no warm-up)
// as in the authors' code (mdistiller): CE at full weight, distill.alpha unused. Needs the
// ground-truth targets and white-box logits (methodNeedsWhiteBoxLogits).
class DkdLoss : public DistillationLoss {
 public:
  DkdLoss(double temperature, double dkd_alpha, double dkd_beta, double warmup_epochs)
      : temperature_(temperature), dkd_alpha_(dkd_alpha), dkd_beta_(dkd_beta), warmup_epochs_(warmup_epochs) {}
  LossTerms compute(const LossInputs& inputs) const override;
  bool needsTeacher() const override { return dkd_alpha_ > 0.0 || dkd_beta_ > 0.0; }
  // The warm-up factor at a fractional student epoch.
  double warmup(double epoch) const;

 private:
  double temperature_;
  double dkd_alpha_;
  double dkd_beta_;
  double warmup_epochs_;
};

}  // namespace distill
