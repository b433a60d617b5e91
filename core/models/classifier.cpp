#include "core/models/classifier.h"

#include <sstream>

#include "core/errors.h"

namespace distill {

namespace {

torch::nn::AnyModule activation(const std::string& name) {
  if (name == "gelu") return torch::nn::AnyModule(torch::nn::GELU());
  if (name == "tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (name == "sigmoid") return torch::nn::AnyModule(torch::nn::Sigmoid());
  if (name == "leaky_relu") return torch::nn::AnyModule(torch::nn::LeakyReLU());
  if (name == "silu") return torch::nn::AnyModule(torch::nn::SiLU());
  return torch::nn::AnyModule(torch::nn::ReLU());
}

}  // namespace

ClassifierImpl::ClassifierImpl(const ModelConfig& config, const std::vector<int64_t>& input_shape, int64_t num_classes)
    : config_(config), num_classes_(num_classes) {
  TORCH_CHECK(!input_shape.empty(), "input shape must not be empty");
  int64_t features = 1;
  for (auto d : input_shape) features *= d;

  if (config.arch == "cnn") {
    TORCH_CHECK(input_shape.size() == 3, "a CNN needs image inputs [C, H, W]");
    int64_t channels = input_shape[0], height = input_shape[1], width = input_shape[2];
    for (auto out_channels : config.channels) {
      layers_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, out_channels, config.kernel)
                                               .padding(config.kernel / 2)));
      macs_per_sample_ += channels * out_channels * config.kernel * config.kernel * height * width;
      layers_->push_back(activation(config.activation));
      if (height >= 2 && width >= 2) {
        if (config.pool == "avg")
          layers_->push_back(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(/*kernel_size=*/2)));
        else
          layers_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(/*kernel_size=*/2)));
        height /= 2;
        width /= 2;
      }
      channels = out_channels;
    }
    features = channels * height * width;
  }
  layers_->push_back(torch::nn::Flatten());
  for (auto width : config.hidden) {
    layers_->push_back(torch::nn::Linear(features, width));
    macs_per_sample_ += features * width;
    layers_->push_back(activation(config.activation));
    if (config.dropout > 0) layers_->push_back(torch::nn::Dropout(config.dropout));
    features = width;
  }
  layers_->push_back(torch::nn::Linear(features, num_classes));
  macs_per_sample_ += features * num_classes;
  register_module("layers", layers_);
}

torch::Tensor ClassifierImpl::forward(torch::Tensor inputs) { return layers_->forward(inputs); }

int64_t ClassifierImpl::parameterCount() const {
  int64_t count = 0;
  for (const auto& p : parameters()) count += p.numel();
  return count;
}

std::string ClassifierImpl::summary() const {
  std::ostringstream out;
  const auto& c = config_;
  if (c.arch == "cnn") {
    out << "CNN conv";
    for (size_t i = 0; i < c.channels.size(); ++i) out << (i ? "-" : " ") << c.channels[i];
    out << " k" << c.kernel << " " << c.pool << "pool";
    if (!c.hidden.empty()) out << ", dense";
  } else {
    out << "MLP";
  }
  for (auto width : c.hidden) out << " " << width;
  out << " -> " << num_classes_ << ", " << c.activation;
  if (c.dropout > 0) out << ", dropout " << c.dropout;
  out << "; " << parameterCount() << " parameters";
  return out.str();
}

void saveWeights(Classifier& model, const std::string& path) {
  try {
    torch::save(model, path);
  } catch (const c10::Error& e) {
    throw ModelError(path + ": cannot write model weights (" + std::string(e.what_without_backtrace()) + ")");
  }
}

void loadWeights(Classifier& model, const std::string& path) {
  // torch::load replaces tensors by name without comparing shapes, so compare them here.
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected;
  for (const auto& item : model->named_parameters())
    expected.emplace_back(item.key(), item.value().sizes().vec());
  try {
    torch::load(model, path);
  } catch (const c10::Error& e) {
    throw ModelError(path + ": cannot load model weights for " + model->config().arch + " (" +
                     std::string(e.what_without_backtrace()).substr(0, 300) +
                     "); is the file a checkpoint of this architecture?");
  }
  const auto loaded = model->named_parameters();
  for (const auto& [name, shape] : expected) {
    const auto* tensor = loaded.find(name);
    if (!tensor || tensor->sizes().vec() != shape)
      throw ModelError(path + ": parameter '" + name + "' does not match the configured " + model->config().arch +
                       " architecture (the file holds another model)");
  }
}

}  // namespace distill
