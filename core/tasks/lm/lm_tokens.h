// How many tokens a stored language-model run has read by a training step, from its params
// (the flattened config): the compare view's "Tokens" axis, which lines up runs of different
// batch sizes or contexts where "Step" cannot.
//
// A step reads train.batch_size blocks of lm.context tokens (the global batch: data-parallel
// ranks share it), so tokens at step s = s x batch_size x context. Counted are the positions
// read, prompt positions of instruction documents included; a last partial batch of an epoch
// is counted as full, so the figure is nominal by at most one batch per epoch.
//
// Thread contract: pure functions; any thread. No torch here: the window includes it.
#pragma once

#include <map>
#include <stdexcept>
#include <string>

namespace distill {

// Tokens per training step of a run of task "lm"; 0 for a run of another task, or one whose
// params lack train.batch_size or lm.context or hold no positive whole number there.
inline double lmTokensPerStep(const std::map<std::string, std::string>& params) {
  auto text = [&](const char* key) -> std::string {
    auto it = params.find(key);
    return it == params.end() ? std::string() : it->second;
  };
  if (text("task") != "lm") return 0.0;
  auto positive = [](const std::string& value) -> double {
    try {
      size_t used = 0;
      const long long n = std::stoll(value, &used);
      return used == value.size() && n > 0 ? static_cast<double>(n) : 0.0;
    } catch (const std::exception&) {
      return 0.0;
    }
  };
  return positive(text("train.batch_size")) * positive(text("lm.context"));
}

}  // namespace distill
