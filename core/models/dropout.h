// Inverted dropout whose CPU mask costs a counter-based hash per pair of elements instead of
// ATen's serial Bernoulli draws. On this project's 2-core machine, ATen 1.13's CPU dropout of one
// 128x1200 activation took 1.5 ms (its `bernoulli_` draws two Mersenne-Twister words per element
// under the generator's lock), which was a quarter of the Hinton teacher's training step.
//
// Semantics are torch::nn::Dropout's: in training each element is kept with probability 1 - p
// and scaled by 1 / (1 - p), otherwise zeroed; in evaluation the layer is the identity; the
// gradient flows through the same mask. The mask is a deterministic function of one 64-bit word
// drawn from the default CPU generator per call, so `torch::manual_seed` reproduces a run. The
// stream differs from ATen's: a seed gives different masks than torch::nn::Dropout did.
// On CUDA, and for dtypes other than float32, it calls torch::dropout (ATen's fused kernels).
#pragma once

#include <torch/torch.h>

namespace distill {

struct FastDropoutOptions {
  /* implicit */ FastDropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT(google-explicit-constructor)
  TORCH_ARG(double, p);
};

class FastDropoutImpl : public torch::nn::Cloneable<FastDropoutImpl> {
 public:
  explicit FastDropoutImpl(const FastDropoutOptions& options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(torch::Tensor input);

  FastDropoutOptions options;
};
TORCH_MODULE(FastDropout);

}  // namespace distill
