#include "core/losses/loss.h"

namespace distill {

LossTerms MseLogitsLoss::compute(const LossInputs& in) const {
  return mixWithLabels(in, alpha_, [&] {
    // Mean over every element: positions and classes alike, so [N, L, C] equals [N*L, C].
    // The access mode is not consulted: config validation allows only white-box logits here.
    return (in.student_logits - in.teacher_logits.detach()).pow(2).mean();
  });
}

}  // namespace distill
