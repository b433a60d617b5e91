#include "core/models/factory.h"

#include "core/models/classifier.h"
#include "core/models/torchscript_model.h"

namespace distill {

bool isTorchScriptSource(const std::string& source) { return source.rfind("torchscript:", 0) == 0; }

std::string torchScriptPath(const std::string& source) { return source.substr(std::string("torchscript:").size()); }

Model buildModel(const ModelConfig& config, const std::string& source, const std::vector<int64_t>& input_shape,
                 int64_t num_classes) {
  if (isTorchScriptSource(source))
    return std::make_shared<TorchScriptModelImpl>(torchScriptPath(source), input_shape, num_classes);
  return std::make_shared<ClassifierImpl>(config, input_shape, num_classes);
}

}  // namespace distill
