#include "core/models/model.h"

#include <sstream>

#include "core/errors.h"
#include "core/runtime/file_io.h"

namespace distill {

std::pair<torch::Tensor, torch::Tensor> ModelImpl::forwardWithFeature(torch::Tensor, int64_t) {
  throw ModelError("this model exposes no hidden representations for feature distillation");
}

int64_t ModelImpl::parameterCount() const {
  int64_t count = 0;
  for (const auto& p : parameters()) count += p.numel();
  return count;
}

void freezeInDtype(ModelImpl& model, torch::ScalarType dtype) {
  if (!c10::isFloatingType(dtype))
    throw ModelError(std::string("a model cannot compute in ") + c10::toString(dtype) + ", which is not floating point");
  if (dtype != torch::kFloat && !model.computesInWeightDtype())
    throw ModelError(model.summary() + ": this model computes in float32 only; it cannot run in " +
                     c10::toString(dtype));
  torch::NoGradGuard no_grad;
  model.eval();
  // Floating-point tensors only (Module::to(dtype) would cast integer buffers too).
  for (auto& parameter : model.parameters()) {
    parameter.set_requires_grad(false);
    if (parameter.is_floating_point()) parameter.set_data(parameter.to(dtype));
  }
  for (auto& buffer : model.buffers())
    if (buffer.is_floating_point()) buffer.set_data(buffer.to(dtype));
}

int64_t parameterBytes(const ModelImpl& model) {
  int64_t bytes = 0;
  for (const auto& p : model.parameters()) bytes += p.numel() * static_cast<int64_t>(p.element_size());
  return bytes;
}

void ModelImpl::saveCheckpoint(const std::string& path) {
  try {
    torch::serialize::OutputArchive archive;
    save(archive);
    std::ostringstream bytes;
    archive.save_to(bytes);  // in memory: see core/runtime/file_io.h for why not to the file
    writeWholeFile(path, bytes.str());
  } catch (const c10::Error& e) {
    throw ModelError(path + ": cannot write model weights (" + std::string(e.what_without_backtrace()) + ")");
  } catch (const std::runtime_error& e) {
    throw ModelError(std::string("cannot write model weights: ") + e.what());
  }
}

void ModelImpl::loadCheckpoint(const std::string& path) {
  // Module::load replaces tensors by name without comparing shapes, so compare them here.
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected;
  for (const auto& item : named_parameters()) expected.emplace_back(item.key(), item.value().sizes().vec());
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    load(archive);
  } catch (const c10::Error& e) {
    throw ModelError(path + ": cannot load model weights (" + std::string(e.what_without_backtrace()).substr(0, 300) +
                     "); is the file a checkpoint of this architecture?");
  }
  const auto loaded = named_parameters();
  for (const auto& [name, shape] : expected) {
    const auto* tensor = loaded.find(name);
    if (!tensor || tensor->sizes().vec() != shape)
      throw ModelError(path + ": parameter '" + name +
                       "' does not match the configured architecture (the file holds another model)");
  }
}

}  // namespace distill
