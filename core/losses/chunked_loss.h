// A logit loss computed over row chunks, so that a language model's [positions x vocabulary]
// intermediates (log-softmaxes at T, their exponentials, the KL's products, cross-entropy's
// log-softmax, each as large as the logits) exist for one chunk of rows at a time instead of for
// the whole batch at once.
//
// Every logit loss of core/losses is a mean over rows of a per-row value (loss.h: positions are
// flattened to rows), so the loss of the whole batch is the sum over chunks of
// (rows in the chunk / rows) x the chunk's loss. Each chunk's gradient with respect to its
// student logits is taken at once (torch::autograd::grad) and kept in one [rows x classes]
// buffer, written over the student's logits; the returned total carries it into the student's
// backward pass. What stays whole: that buffer (and the teacher's logits, when given as logits):
// at a 50,000-token vocabulary 2 tensors of [positions x classes] where the unchunked loss kept
// about 8 alive until its backward.
//
// Losses with features or learned parts (FitNet) are not chunked: their parameters would need
// their own gradients. Thread contract: as DistillationLoss.
#pragma once

#include <cstdint>

#include "core/losses/loss.h"

namespace distill {

// Rows whose [rows x classes] student logits reach this many elements are computed in chunks
// (64 Mi elements: 256 MiB of float32), in chunks of 4 Mi. Below it, computeLoss() is loss.compute().
inline constexpr int64_t kChunkedLossElements = int64_t{1} << 26;

// loss.compute(inputs) with the same value and gradient, in chunks of `chunk_rows` rows
// (inputs' tensors flattened to rows; the teacher's logits or top k sliced alongside). Parts
// (LossTerms::parts) are not supported: a loss that has them is computed whole. The student's
// logits are overwritten by their gradient as the chunks go (one tensor less at the peak): read
// nothing from them afterwards (the step runner does not).
LossTerms computeInChunks(const DistillationLoss& loss, const LossInputs& inputs, int64_t chunk_rows);

// The loss as the step runner computes it: in chunks of about a sixteenth of `threshold` elements
// when the student's logits reach `threshold` and the loss has no features, else whole.
LossTerms computeLoss(const DistillationLoss& loss, const LossInputs& inputs,
                      int64_t threshold = kChunkedLossElements);

}  // namespace distill
