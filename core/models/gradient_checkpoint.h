// Gradient checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost";
// torch.utils.checkpoint): a block's forward pass runs without recording its graph and keeps only
// the block's input; backward runs the block again, this time with gradients on, and
// backpropagates through that second graph. A decoder then holds the activations of one block at
// a time in backward instead of those of every block, for a second forward pass of each block
// (about a third more compute per step).
//
// Hand-written because LibTorch's C++ API has no torch.utils.checkpoint (neither 1.13 nor 2.x):
// it is a torch::autograd::Function, as PyTorch's reentrant variant is.
//
// The second pass computes what the first computed, so the gradients are those of the plain
// block (tests/core/models/gradient_checkpoint_test.cpp: every parameter to 1e-6):
// - dropout: the default CPU generator's state (and the CUDA device's, for a CUDA input) is saved
//   before the first pass and put back around the second (PyTorch's preserve_rng_state), so the
//   masks are drawn again identically; the generators then continue where they were;
// - CUDA autocast: the second pass runs under the autocast state of the first (backward runs
//   after the step's autocast scope closed).
//
// Thread contract: checkpointed() on the thread that runs the model; its backward runs on the
// thread autograd runs it on, and takes each generator's lock while it swaps the state.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

namespace distill {

// One tensor to one tensor: a decoder block with its mask and rotary tables bound.
using CheckpointedBlock = std::function<torch::Tensor(const torch::Tensor&)>;

// block(input), with the block's activations recomputed in backward instead of kept. `parameters`:
// the tensors the block reads that may need gradients (its weights); they receive what
// block(input) with its graph would have given them. The block must be a function of `input`,
// `parameters` and the random generators only. With gradients off (NoGradGuard), or when neither
// input nor any parameter requires them, it is block(input).
torch::Tensor checkpointed(CheckpointedBlock block, const torch::Tensor& input,
                           const std::vector<torch::Tensor>& parameters);

}  // namespace distill
