#include "core/models/torchscript_export.h"

#include <fmt/format.h>
#include <torch/version.h>

#include <sstream>
#include <variant>

#include "core/errors.h"
#include "core/models/dropout.h"
#include "core/models/torchscript_model.h"
#include "core/runtime/file_io.h"

namespace distill {

namespace {

// A TorchScript float literal: shortest round-trip digits, always with a '.' or an exponent
// (a bare "1" would be read as an int).
std::string floatLiteral(double value) {
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

// torch::nn's option variants: c10::variant (with c10::get_if) in LibTorch 1.x, an alias of
// std::variant from 2.0 on, where c10::get_if no longer exists.
template <typename T, typename Variant>
const T* variantIf(const Variant& value) {
#if TORCH_VERSION_MAJOR >= 2
  return std::get_if<T>(&value);
#else
  return c10::get_if<T>(&value);
#endif
}

template <size_t D>
std::string intList(const torch::ExpandingArray<D>& values) {
  std::string text = "[";
  for (size_t i = 0; i < D; ++i) text += (i ? ", " : "") + std::to_string((*values)[i]);
  return text + "]";
}

std::string boolLiteral(bool value) { return value ? "True" : "False"; }

// Builds the module: each layer becomes one or a few statements on the running tensor, and
// each weight a parameter (or buffer) named after its place in the native model, with dots
// as underscores ("layers.4.conv1.weight" -> layers_4_conv1_weight).
class ForwardWriter {
 public:
  explicit ForwardWriter(torch::jit::Module& module) : module_(module) {}

  // Emits `variable = layer(variable)` for one native layer.
  void layer(const std::string& name, const torch::nn::Module& module, const std::string& v) {
    if (const auto* flatten = module.as<torch::nn::Flatten>()) {
      const auto& o = flatten->options;
      line(fmt::format("{0} = torch.flatten({0}, {1}, {2})", v, o.start_dim(), o.end_dim()));
    } else if (const auto* linear = module.as<torch::nn::Linear>()) {
      line(fmt::format("{0} = torch.linear({0}, {1}, {2})", v, parameter(name + "_weight", linear->weight),
                       optionalParameter(name + "_bias", linear->bias)));
    } else if (const auto* conv = module.as<torch::nn::Conv2d>()) {
      conv2d(name, *conv, v);
    } else if (const auto* norm = module.as<torch::nn::BatchNorm2d>()) {
      batchNorm2d(name, *norm, v);
    } else if (const auto* pool = module.as<torch::nn::MaxPool2d>()) {
      const auto& o = pool->options;
      line(fmt::format("{0} = torch.max_pool2d({0}, {1}, {2}, {3}, {4}, {5})", v, intList(o.kernel_size()),
                       intList(o.stride()), intList(o.padding()), intList(o.dilation()), boolLiteral(o.ceil_mode())));
    } else if (const auto* pool = module.as<torch::nn::AvgPool2d>()) {
      const auto& o = pool->options;
      line(fmt::format("{0} = torch.avg_pool2d({0}, {1}, {2}, {3}, {4}, {5}, {6})", v, intList(o.kernel_size()),
                       intList(o.stride()), intList(o.padding()), boolLiteral(o.ceil_mode()),
                       boolLiteral(o.count_include_pad()),
                       o.divisor_override() ? std::to_string(*o.divisor_override()) : "None"));
    } else if (const auto* pool = module.as<torch::nn::AdaptiveAvgPool2d>()) {
      const auto& size = *pool->options.output_size();
      if (!size[0] || !size[1]) unsupported(name, "adaptive pooling that keeps a dimension");
      line(fmt::format("{0} = torch.adaptive_avg_pool2d({0}, [{1}, {2}])", v, *size[0], *size[1]));
    } else if (module.as<torch::nn::ReLU>()) {
      line(fmt::format("{0} = torch.relu({0})", v));
    } else if (const auto* gelu = module.as<torch::nn::GELU>()) {
      line(fmt::format("{0} = torch.gelu({0}, approximate=\"{1}\")", v, gelu->options.approximate()));
    } else if (module.as<torch::nn::Tanh>()) {
      line(fmt::format("{0} = torch.tanh({0})", v));
    } else if (module.as<torch::nn::Sigmoid>()) {
      line(fmt::format("{0} = torch.sigmoid({0})", v));
    } else if (const auto* leaky = module.as<torch::nn::LeakyReLU>()) {
      line(fmt::format("{0} = torch.leaky_relu({0}, {1})", v, floatLiteral(leaky->options.negative_slope())));
    } else if (module.as<torch::nn::SiLU>()) {
      line(fmt::format("{0} = torch.silu({0})", v));
    } else if (const auto* dropout = module.as<FastDropout>()) {
      line(fmt::format("{0} = torch.dropout({0}, {1}, self.training)", v, floatLiteral(dropout->options.p())));
    } else if (const auto* block = module.as<ResidualBlock>()) {
      residualBlock(name, *block, v);
    } else {
      unsupported(name, module.name());
    }
  }

  // The complete method once every layer is written.
  std::string source() const { return "def forward(self, x: Tensor) -> Tensor:\n" + body_ + "    return x\n"; }

 private:
  void line(const std::string& text, int indent = 1) { body_ += std::string(4 * indent, ' ') + text + "\n"; }

  [[noreturn]] static void unsupported(const std::string& name, const std::string& what) {
    throw ModelError("cannot export layer " + name + " (" + what + ") as TorchScript");
  }

  std::string parameter(const std::string& name, const torch::Tensor& value) {
    module_.register_parameter(name, value.detach().to(torch::kCPU).clone().requires_grad_(true), /*is_buffer=*/false);
    return "self." + name;
  }
  std::string buffer(const std::string& name, const torch::Tensor& value) {
    module_.register_buffer(name, value.detach().to(torch::kCPU).clone());
    return "self." + name;
  }
  std::string optionalParameter(const std::string& name, const torch::Tensor& value) {
    return value.defined() ? parameter(name, value) : "None";
  }

  void conv2d(const std::string& name, const torch::nn::Conv2dImpl& conv, const std::string& v) {
    const auto& o = conv.options;
    const auto* padding = variantIf<torch::ExpandingArray<2>>(o.padding());
    if (!padding) unsupported(name, "a convolution with 'same' or 'valid' padding");
    if (!variantIf<torch::enumtype::kZeros>(o.padding_mode())) unsupported(name, "a convolution with non-zero padding");
    line(fmt::format("{0} = torch.conv2d({0}, {1}, {2}, {3}, {4}, {5}, {6})", v, parameter(name + "_weight", conv.weight),
                     optionalParameter(name + "_bias", conv.bias), intList(o.stride()), intList(*padding),
                     intList(o.dilation()), o.groups()));
  }

  // Running statistics in eval mode; in train mode batch statistics, updating the running ones
  // with the same momentum (and the batch count) as torch::nn::BatchNorm2d.
  void batchNorm2d(const std::string& name, const torch::nn::BatchNorm2dImpl& norm, const std::string& v) {
    const auto& o = norm.options;
    if (!o.momentum()) unsupported(name, "batch norm with a cumulative moving average (momentum None)");
    const std::string weight = o.affine() ? parameter(name + "_weight", norm.weight) : "None";
    const std::string bias = o.affine() ? parameter(name + "_bias", norm.bias) : "None";
    std::string mean = "None", var = "None", use_batch_stats = "True";
    if (o.track_running_stats()) {
      mean = buffer(name + "_running_mean", norm.running_mean);
      var = buffer(name + "_running_var", norm.running_var);
      const std::string count = buffer(name + "_num_batches_tracked", norm.num_batches_tracked);
      use_batch_stats = "self.training";
      line("if self.training:");
      line(count + ".add_(1)", 2);
    }
    line(fmt::format("{0} = torch.batch_norm({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, False)", v, weight, bias, mean, var,
                     use_batch_stats, floatLiteral(*o.momentum()), floatLiteral(o.eps())));
  }

  void residualBlock(const std::string& name, const ResidualBlockImpl& block, const std::string& v) {
    const std::string shortcut = v + "_shortcut";
    line(fmt::format("{} = {}", shortcut, v));
    conv2d(name + "_conv1", *block.conv1(), v);
    batchNorm2d(name + "_bn1", *block.bn1(), v);
    line(fmt::format("{0} = torch.relu({0})", v));
    conv2d(name + "_conv2", *block.conv2(), v);
    batchNorm2d(name + "_bn2", *block.bn2(), v);
    size_t index = 0;
    for (const auto& child : block.shortcut()->children())
      layer(name + "_shortcut_" + std::to_string(index++), *child, shortcut);
    line(fmt::format("{0} = torch.relu({0} + {1})", v, shortcut));
  }

  torch::jit::Module& module_;
  std::string body_;
};

}  // namespace

torch::jit::Module toTorchScript(const ClassifierImpl& model) {
  torch::jit::Module module("DistillClassifier");
  // A module built from C++ has no `training` flag until one is registered (forward() reads
  // it for dropout and batch norm; Python's .train()/.eval() set it).
  module.register_attribute("training", c10::BoolType::get(), false);
  ForwardWriter writer(module);
  size_t index = 0;
  for (const auto& layer : model.layers()->children()) writer.layer("layers_" + std::to_string(index++), *layer, "x");
  try {
    module.define(writer.source());
  } catch (const std::exception& e) {  // a bug in the generator, not in the user's input
    throw ModelError(std::string("generated TorchScript does not compile: ") + e.what() + "\n" + writer.source());
  }
  module.eval();
  return module;
}

void exportTorchScript(ModelImpl& model, const std::string& path) {
  if (auto* classifier = dynamic_cast<ClassifierImpl*>(&model)) {
    auto module = toTorchScript(*classifier);
    try {
      std::ostringstream bytes;
      module.save(bytes);  // in memory: see core/runtime/file_io.h for why not to the file
      writeWholeFile(path, bytes.str());
    } catch (const c10::Error& e) {
      throw ModelError(path + ": cannot write TorchScript module (" + std::string(e.what_without_backtrace()).substr(0, 200) + ")");
    } catch (const std::exception& e) {
      throw ModelError(path + ": cannot write TorchScript module (" + std::string(e.what()).substr(0, 200) + ")");
    }
    return;
  }
  if (dynamic_cast<TorchScriptModelImpl*>(&model)) {
    model.eval();
    model.saveCheckpoint(path);  // already TorchScript
    return;
  }
  throw ModelError(path + ": this kind of model cannot be exported as TorchScript");
}

}  // namespace distill
