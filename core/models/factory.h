// Builds the model a config asks for: a built-in architecture, or a TorchScript file.
#pragma once

#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/models/model.h"

namespace distill {

// `source` is "init"/"train" (the architecture in `config`) or "torchscript:<path>".
// Throws ModelError for a TorchScript file that cannot serve.
Model buildModel(const ModelConfig& config, const std::string& source, const std::vector<int64_t>& input_shape,
                 int64_t num_classes);

bool isTorchScriptSource(const std::string& source);
std::string torchScriptPath(const std::string& source);

}  // namespace distill
