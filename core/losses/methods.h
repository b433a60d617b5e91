// The names `distill.method` accepts, without LibTorch's headers (config validation and the
// GUI use it). Implemented in registry.cpp beside makeLoss().
#pragma once

#include <string>
#include <vector>

namespace distill {

std::vector<std::string> lossMethods();
// Methods that need the teacher's white-box logits (no topk/label access).
bool methodNeedsWhiteBoxLogits(const std::string& method);

}  // namespace distill
