#include "core/losses/loss.h"

namespace distill {

LossTerms MseLogitsLoss::compute(const LossInputs& in) const {
  LossTerms terms;
  terms.ce = labelCrossEntropy(in.student_logits, in.targets);
  if (alpha_ > 0.0) {
    // Mean over every element: positions and classes alike, so [N, L, C] equals [N*L, C].
    // The access mode is not consulted: config validation allows only white-box logits here.
    terms.kd = (in.student_logits - in.teacher_logits.detach()).pow(2).mean();
    terms.total = alpha_ * terms.kd + (1.0 - alpha_) * terms.ce;
  } else {
    terms.kd = torch::zeros({}, in.student_logits.options());
    terms.total = terms.ce;
  }
  return terms;
}

}  // namespace distill
