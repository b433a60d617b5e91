// SGD with momentum whose update of a float32 CPU parameter is one pass over the parameter,
// its gradient and its momentum buffer, instead of LibTorch's three tensor operations (mul_,
// add_, add_), each a full pass over 2.4 million floats for the Hinton teacher.
//
// It computes exactly what torch::optim::SGD computes, bit for bit: the same roundings in the
// same order (a float multiply for the momentum, and a fused multiply-add wherever ATen's
// vectorised add with an alpha uses one), so a run is the same with either. Checked by
// tests/core/train/fused_sgd_test.cpp against torch::optim::SGD, and end to end by
// tests/core/train/optimised_loop_test.cpp. State, options and checkpoints are SGD's own.
// It falls back to torch::optim::SGD::step for a step whose parameters are not all contiguous
// float32 CPU tensors with dense gradients, for the first step (which creates the momentum
// buffers), and on CPUs without FMA instructions.
#pragma once

#include <torch/torch.h>

namespace distill {

class FusedSGD : public torch::optim::SGD {
 public:
  using torch::optim::SGD::SGD;
  torch::Tensor step(LossClosure closure = nullptr) override;

  // Whether this CPU runs the one-pass path (x86-64 with AVX2 and FMA).
  static bool available();
  // Whether the last step took the one-pass path (false: it was torch::optim::SGD::step).
  bool lastStepFused() const { return last_step_fused_; }

 private:
  torch::Tensor fallBack(const torch::Tensor& loss);
  bool last_step_fused_ = false;
};

}  // namespace distill
