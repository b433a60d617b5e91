#include "core/models/torchscript_model.h"

#include <sstream>

#include "core/errors.h"
#include "core/runtime/file_io.h"

namespace distill {

namespace {
std::string shapeText(c10::IntArrayRef sizes) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < sizes.size(); ++i) out << (i ? ", " : "") << sizes[i];
  return out.str() + "]";
}

std::string sanitize(std::string name) {
  for (auto& c : name)
    if (c == '.') c = '_';
  return name;
}

// The reason in an error from forward(): the TorchScript interpreter puts a traceback of the
// module's source first and the error itself on the last line, which is what the user needs.
std::string failureReason(const std::string& text) {
  if (text.rfind("The following operation failed in the TorchScript interpreter", 0) != 0) return text.substr(0, 300);
  const auto end = text.find_last_not_of("\n ");
  const auto begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end + 1 - (begin == std::string::npos ? 0 : begin + 1));
}

// Two zero samples of `input_shape`; the output must be [2, num_classes].
TorchScriptProbe classifierProbe(const std::vector<int64_t>& input_shape, int64_t num_classes) {
  std::vector<int64_t> probe_shape{2};
  probe_shape.insert(probe_shape.end(), input_shape.begin(), input_shape.end());
  TorchScriptProbe probe;
  probe.inputs = torch::zeros(probe_shape);
  probe.inputs_words = "N x C x H x W floats, normalised";
  probe.check = [num_classes](const torch::Tensor& output) -> std::string {
    if (output.dim() == 2 && output.size(0) == 2 && output.size(1) == num_classes) return "";
    return "expected [N, " + std::to_string(num_classes) + "] logits for this dataset's " +
           std::to_string(num_classes) + " classes";
  };
  return probe;
}
}  // namespace

TorchScriptModelImpl::TorchScriptModelImpl(const std::string& path, const std::vector<int64_t>& input_shape,
                                           int64_t num_classes)
    : TorchScriptModelImpl(path, classifierProbe(input_shape, num_classes)) {}

TorchScriptModelImpl::TorchScriptModelImpl(const std::string& path, const TorchScriptProbe& probe) : path_(path) {
  try {
    module_ = torch::jit::load(path);
  } catch (const c10::Error& e) {
    throw ModelError(path + ": not a TorchScript file (save it in Python with torch.jit.script(model).save(path); " +
                     std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  } catch (const std::exception& e) {
    throw ModelError(path + ": cannot read TorchScript file (" + std::string(e.what()).substr(0, 200) + ")");
  }
  if (!module_.find_method("forward"))
    throw ModelError(path + ": the TorchScript module has no forward() method");
  if (probe.inspect) probe.inspect(module_);

  // Share the module's tensors with this nn::Module so that optimizers, .to(device) and
  // parameter counts see them.
  // Parameter slots are trainable by definition (a module saved from Python keeps
  // requires_grad, one built with torch::jit may not).
  for (const auto& p : module_.named_parameters(/*recurse=*/true))
    register_parameter(sanitize(p.name), p.value.requires_grad_(true), /*requires_grad=*/true);
  for (const auto& b : module_.named_buffers(/*recurse=*/true)) register_buffer(sanitize(b.name), b.value);

  torch::Tensor output;
  try {
    torch::NoGradGuard no_grad;
    module_.eval();
    auto result = module_.forward({probe.inputs});
    if (!result.isTensor())
      throw ModelError(path + ": forward() must return one tensor of logits, it returns " + result.tagKind());
    output = result.toTensor();
  } catch (const ModelError&) {
    throw;
  } catch (const std::exception& e) {  // c10::Error, or the interpreter's JITException
    std::string reason = e.what();
    if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) reason = c10_error->what_without_backtrace();
    throw ModelError(path + ": forward() fails on an input of shape " + shapeText(probe.inputs.sizes()) +
                     " (expected " + probe.inputs_words + "): " + failureReason(reason));
  }
  const std::string mismatch = probe.check(output);
  if (!mismatch.empty())
    throw ModelError(path + ": forward() returns shape " + shapeText(output.sizes()) + " for " +
                     shapeText(probe.inputs.sizes()) + " inputs; " + mismatch);
  if (output.dim() >= 1 && output.size(0) > 0) probe_output_per_sample_ = output.numel() / output.size(0);
  module_.train();
}

torch::Tensor TorchScriptModelImpl::forward(torch::Tensor inputs) { return module_.forward({inputs}).toTensor(); }

void TorchScriptModelImpl::train(bool on) {
  ModelImpl::train(on);
  module_.train(on);
}

std::string TorchScriptModelImpl::summary() const {
  return "TorchScript " + path_ + "; " + std::to_string(parameterCount()) + " parameters";
}

void TorchScriptModelImpl::saveCheckpoint(const std::string& path) {
  try {
    std::ostringstream bytes;
    module_.save(bytes);  // in memory: see core/runtime/file_io.h for why not to the file
    writeWholeFile(path, bytes.str());
  } catch (const c10::Error& e) {
    throw ModelError(path + ": cannot write TorchScript module (" + std::string(e.what_without_backtrace()) + ")");
  } catch (const std::runtime_error& e) {
    throw ModelError(std::string("cannot write TorchScript module: ") + e.what());
  }
}

void TorchScriptModelImpl::loadCheckpoint(const std::string& path) {
  torch::jit::script::Module loaded;
  try {
    loaded = torch::jit::load(path);
  } catch (const c10::Error& e) {
    throw ModelError(path + ": not a TorchScript file");
  }
  torch::NoGradGuard no_grad;
  auto source = loaded.named_parameters(true);
  for (const auto& p : module_.named_parameters(true)) {
    bool found = false;
    for (const auto& q : source) {
      if (q.name != p.name) continue;
      if (q.value.sizes() != p.value.sizes()) throw ModelError(path + ": parameter '" + p.name + "' has another shape");
      p.value.copy_(q.value);
      found = true;
    }
    if (!found) throw ModelError(path + ": parameter '" + p.name + "' is missing");
  }
}

}  // namespace distill
