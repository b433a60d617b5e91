#include "core/models/classifier.h"

#include <algorithm>
#include <sstream>

#include "core/errors.h"
#include "core/models/dropout.h"
#include "core/models/linear.h"

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

ResidualBlockImpl::ResidualBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride) {
  conv1_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, /*kernel_size=*/3)
                                                          .stride(stride)
                                                          .padding(1)
                                                          .bias(false)));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(out_channels));
  conv2_ = register_module(
      "conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(out_channels, out_channels, /*kernel_size=*/3).padding(1).bias(false)));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(out_channels));
  if (stride != 1 || in_channels != out_channels) {
    shortcut_->push_back(
        torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, /*kernel_size=*/1).stride(stride).bias(false)));
    shortcut_->push_back(torch::nn::BatchNorm2d(out_channels));
  }
  register_module("shortcut", shortcut_);
}

torch::Tensor ResidualBlockImpl::forward(torch::Tensor x) {
  auto out = torch::relu(bn1_->forward(conv1_->forward(x)));
  out = bn2_->forward(conv2_->forward(out));
  return torch::relu(out + (shortcut_->is_empty() ? x : shortcut_->forward(x)));
}

ClassifierImpl::ClassifierImpl(const ModelConfig& config, const std::vector<int64_t>& input_shape, int64_t num_classes)
    : config_(config), num_classes_(num_classes) {
  TORCH_CHECK(!input_shape.empty(), "input shape must not be empty");
  int64_t features = 1;
  for (auto d : input_shape) features *= d;
  widest_ = features;

  if (config.arch == "cnn") {
    TORCH_CHECK(input_shape.size() == 3, "a CNN needs image inputs [C, H, W]");
    int64_t channels = input_shape[0], height = input_shape[1], width = input_shape[2];
    for (auto out_channels : config.channels) {
      layers_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, out_channels, config.kernel)
                                               .padding(config.kernel / 2)));
      macs_per_sample_ += channels * out_channels * config.kernel * config.kernel * height * width;
      widest_ = std::max(widest_, out_channels * height * width);  // before pooling
      layers_->push_back(activation(config.activation));
      if (height >= 2 && width >= 2) {
        if (config.pool == "avg")
          layers_->push_back(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(/*kernel_size=*/2)));
        else
          layers_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(/*kernel_size=*/2)));
        height /= 2;
        width /= 2;
      }
      addHidden();
      channels = out_channels;
    }
    features = channels * height * width;
  } else if (config.arch == "resnet") {
    TORCH_CHECK(input_shape.size() == 3, "a ResNet needs image inputs [C, H, W]");
    int64_t channels = config.channels.front(), height = input_shape[1], width = input_shape[2];
    // Stem: one 3x3 convolution at full resolution (the CIFAR variant: no 7x7 conv, no max-pool).
    layers_->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(input_shape[0], channels, /*kernel_size=*/3).padding(1).bias(false)));
    layers_->push_back(torch::nn::BatchNorm2d(channels));
    layers_->push_back(torch::nn::ReLU());
    macs_per_sample_ += input_shape[0] * channels * 9 * height * width;
    widest_ = std::max(widest_, channels * height * width);
    for (size_t stage = 0; stage < config.channels.size(); ++stage) {
      const int64_t out_channels = config.channels[stage];
      for (int64_t block = 0; block < config.blocks; ++block) {
        const int64_t stride = (stage > 0 && block == 0 && height >= 2) ? 2 : 1;
        layers_->push_back(ResidualBlock(channels, out_channels, stride));
        height /= stride;
        width /= stride;
        macs_per_sample_ += (channels * out_channels + out_channels * out_channels) * 9 * height * width;
        widest_ = std::max(widest_, out_channels * height * width);
        if (stride != 1 || channels != out_channels) macs_per_sample_ += channels * out_channels * height * width;
        channels = out_channels;
      }
      addHidden();
    }
    layers_->push_back(torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    features = channels;
  }
  layers_->push_back(torch::nn::Flatten());
  for (auto width : config.hidden) {
    layers_->push_back(torch::nn::Linear(features, width));
    macs_per_sample_ += features * width;
    widest_ = std::max(widest_, width);
    layers_->push_back(activation(config.activation));
    if (config.dropout > 0) layers_->push_back(FastDropout(config.dropout));
    addHidden();
    features = width;
  }
  layers_->push_back(torch::nn::Linear(features, num_classes));
  macs_per_sample_ += features * num_classes;
  register_module("layers", layers_);
}

namespace {

// One layer: linear layers through distill::linear (oneDNN's products where selected), the rest
// as they are.
torch::Tensor applyLayer(torch::nn::AnyModule& layer, const torch::Tensor& x) {
  if (auto* fc = layer.ptr()->as<torch::nn::LinearImpl>()) return linear(x, fc->weight, fc->bias);
  return layer.forward(x);
}

}  // namespace

torch::Tensor ClassifierImpl::forward(torch::Tensor inputs) {
  torch::Tensor x = std::move(inputs);
  for (auto& layer : *layers_) x = applyLayer(layer, x);
  return x;
}

std::pair<torch::Tensor, torch::Tensor> ClassifierImpl::forwardWithFeature(torch::Tensor inputs, int64_t index) {
  const int64_t count = hiddenCount();
  const int64_t resolved = index < 0 ? count + index : index;
  if (resolved < 0 || resolved >= count)
    throw ModelError("hidden layer " + std::to_string(index) + " does not exist (this " + config_.arch + " has " +
                     std::to_string(count) + " hidden representations)");
  const size_t end = hidden_ends_[static_cast<size_t>(resolved)];
  torch::Tensor x = inputs, feature;
  size_t position = 0;
  for (auto& layer : *layers_) {
    x = applyLayer(layer, x);
    if (++position == end) feature = x;
  }
  return {x, feature};
}

std::string ClassifierImpl::summary() const {
  std::ostringstream out;
  const auto& c = config_;
  if (c.arch == "resnet") {
    out << "ResNet stages";
    for (size_t i = 0; i < c.channels.size(); ++i) out << (i ? "-" : " ") << c.channels[i];
    out << " x" << c.blocks << " blocks";
    if (!c.hidden.empty()) out << ", dense";
  } else if (c.arch == "cnn") {
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

void saveWeights(Classifier& model, const std::string& path) { model->saveCheckpoint(path); }

void loadWeights(Classifier& model, const std::string& path) { model->loadCheckpoint(path); }

}  // namespace distill
