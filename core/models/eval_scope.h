// Eval mode for a scope: dropout off while a model is evaluated or a frozen teacher answers,
// the module's previous mode restored on exit (also on an exception). One helper for the
// evaluators, the step runner's teacher outputs and generation.
// Thread contract: like the module it holds, one thread at a time.
#pragma once

#include <torch/torch.h>

namespace distill {

class EvalScope {
 public:
  explicit EvalScope(torch::nn::Module& module) : module_(module), was_training_(module.is_training()) { module_.eval(); }
  ~EvalScope() { module_.train(was_training_); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

}  // namespace distill
