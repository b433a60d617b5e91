#include "core/models/gradient_checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <mutex>
#include <optional>
#include <utility>

namespace distill {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The random generators a block may draw from: the CPU's (FastDropout's masks on the CPU) and,
// for a CUDA input, that device's (torch::dropout there).
std::vector<at::Generator> generatorsFor(const torch::Tensor& input) {
  std::vector<at::Generator> generators{at::detail::getDefaultCPUGenerator()};
  if (input.is_cuda()) generators.push_back(at::globalContext().defaultGenerator(input.device()));
  return generators;
}

// CUDA autocast's state (LibTorch 2.4 replaced the CUDA-specific calls by per-device-type ones).
struct AutocastState {
  bool enabled = false;
  at::ScalarType dtype = at::kHalf;

  static AutocastState current() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    return {at::autocast::is_autocast_enabled(at::kCUDA), at::autocast::get_autocast_dtype(at::kCUDA)};
#else
    return {at::autocast::is_enabled(), at::autocast::get_autocast_gpu_dtype()};
#endif
  }
  void apply() const {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, enabled);
    at::autocast::set_autocast_dtype(at::kCUDA, dtype);
#else
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
#endif
  }
};

// What backward needs besides the input: the block, its parameters, and the state the first pass
// ran in. Held by the autograd node (a capsule in its saved data) until the node is freed.
struct SavedBlock : torch::CustomClassHolder {
  CheckpointedBlock block;
  std::vector<torch::Tensor> parameters;
  std::vector<at::Generator> generators;
  std::vector<torch::Tensor> generator_states;  // generators' states before the first pass
  AutocastState autocast;
};

// The generators at the first pass's states for as long as it lives, then back where they were.
class ReplayedGenerators {
 public:
  explicit ReplayedGenerators(SavedBlock& saved) : saved_(saved) {
    for (size_t i = 0; i < saved_.generators.size(); ++i) {
      auto& generator = saved_.generators[i];
      std::lock_guard<std::mutex> lock(generator.mutex());
      now_.push_back(generator.get_state());
      generator.set_state(saved_.generator_states[i]);
    }
  }
  ~ReplayedGenerators() {
    for (size_t i = 0; i < saved_.generators.size(); ++i) {
      auto& generator = saved_.generators[i];
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(now_[i]);
    }
  }
  ReplayedGenerators(const ReplayedGenerators&) = delete;
  ReplayedGenerators& operator=(const ReplayedGenerators&) = delete;

 private:
  SavedBlock& saved_;
  std::vector<torch::Tensor> now_;
};

// Autocast as the first pass had it, for as long as it lives.
class ReplayedAutocast {
 public:
  explicit ReplayedAutocast(const AutocastState& first) : previous_(AutocastState::current()) {
    first.apply();
    if (first.enabled) at::autocast::increment_nesting();
    nested_ = first.enabled;
  }
  ~ReplayedAutocast() {
    // The weight casts are cached within one autocast region; the weights change after the step.
    if (nested_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    previous_.apply();
  }
  ReplayedAutocast(const ReplayedAutocast&) = delete;
  ReplayedAutocast& operator=(const ReplayedAutocast&) = delete;

 private:
  AutocastState previous_;
  bool nested_ = false;
};

// Inputs of apply(): input (edge 0), the parameters (edges 1 .. P), the saved block (not a
// variable). forward() runs with gradients off (Function::apply turns them off).
class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input, at::TensorList /*parameters*/,
                               c10::intrusive_ptr<SavedBlock> saved) {
    ctx->save_for_backward({input});
    auto output = saved->block(input);
    ctx->saved_data["block"] = c10::IValue::make_capsule(std::move(saved));
    return output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto input = ctx->get_saved_variables().at(0);
    const auto capsule = ctx->saved_data.at("block").toCapsule();
    auto& saved = *static_cast<SavedBlock*>(capsule.get());
    const size_t parameters = saved.parameters.size();

    // The second pass, with its graph: from a leaf copy of the input, so that its gradient
    // stops here and goes on through this node's edge.
    const auto leaf = input.detach().requires_grad_(ctx->needs_input_grad(0));
    torch::Tensor output;
    {
      torch::AutoGradMode grad_on(true);
      ReplayedGenerators generators(saved);
      ReplayedAutocast autocast(saved.autocast);
      output = saved.block(leaf);
    }
    std::vector<torch::Tensor> wanted;
    std::vector<size_t> slot;  // each wanted tensor's position among apply()'s inputs
    if (ctx->needs_input_grad(0)) {
      wanted.push_back(leaf);
      slot.push_back(0);
    }
    for (size_t i = 0; i < parameters; ++i) {
      if (!ctx->needs_input_grad(1 + i)) continue;
      wanted.push_back(saved.parameters[i]);
      slot.push_back(1 + i);
    }
    variable_list gradients(1 + parameters + 1);  // the last: the saved block's, never defined
    if (wanted.empty() || !output.requires_grad()) return gradients;
    const auto computed = torch::autograd::grad({output}, wanted, {grad_outputs.at(0)}, /*retain_graph=*/false,
                                                /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t k = 0; k < wanted.size(); ++k) gradients[slot[k]] = computed[k];
    return gradients;
  }
};

}  // namespace

torch::Tensor checkpointed(CheckpointedBlock block, const torch::Tensor& input,
                           const std::vector<torch::Tensor>& parameters) {
  bool needs_grad = input.requires_grad();
  for (const auto& p : parameters) needs_grad = needs_grad || p.requires_grad();
  if (!torch::GradMode::is_enabled() || !needs_grad) return block(input);

  auto saved = c10::make_intrusive<SavedBlock>();
  saved->block = std::move(block);
  saved->parameters = parameters;
  saved->generators = generatorsFor(input);
  for (auto& generator : saved->generators) {
    std::lock_guard<std::mutex> lock(generator.mutex());
    saved->generator_states.push_back(generator.get_state());
  }
  saved->autocast = AutocastState::current();
  return CheckpointFunction::apply(input, at::TensorList(parameters), std::move(saved));
}

}  // namespace distill
