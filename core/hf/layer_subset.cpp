#include "core/hf/layer_subset.h"

#include <torch/torch.h>

#include <map>
#include <regex>
#include <string>

#include "core/errors.h"
#include "core/hf/hf_config.h"
#include "core/hf/hf_weights.h"

namespace distill {

std::vector<int64_t> keptBlocks(int64_t layers, int64_t k) {
  if (k < 1) throw ModelError("keep every k-th block: k must be at least 1, got " + std::to_string(k));
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < layers; i += k) kept.push_back(i);
  return kept;
}

Model keepEveryKthBlock(const ModelImpl& teacher, int64_t k) {
  HfConfig config = hfConfigOf(teacher);  // throws ModelError for models it cannot describe
  config.num_hidden_layers = static_cast<int64_t>(keptBlocks(config.num_hidden_layers, k).size());
  Model student = buildHfModel(config);
  copyEveryKthBlock(teacher, k, *student);
  return student;
}

void copyEveryKthBlock(const ModelImpl& teacher, int64_t k, ModelImpl& student) {
  const std::vector<int64_t> kept = keptBlocks(hfConfigOf(teacher).num_hidden_layers, k);
  // A block's parameters are named "<prefix>.<index>.<rest>": h.3.attn.c_attn.weight (the GPT),
  // model.layers.3.self_attn.q_proj.weight (the Llama family). Student block i is teacher block
  // kept[i]; every other name is the same in both.
  const std::regex block(R"(^((?:.*\.)?(?:h|layers))\.(\d+)\.(.*)$)");
  std::map<std::string, torch::Tensor> source;
  for (const auto& item : teacher.named_parameters(/*recurse=*/true)) source.emplace(item.key(), item.value());
  torch::NoGradGuard no_grad;
  for (auto& item : student.named_parameters(/*recurse=*/true)) {
    std::string name = item.key();
    std::smatch m;
    if (std::regex_match(name, m, block)) {
      const auto index = static_cast<size_t>(std::stoll(m[2].str()));
      if (index >= kept.size())
        throw ModelError("keep every k-th block: the student (" + student.summary() + ") has a block " +
                         std::to_string(index) + " (" + name + "), but every " + std::to_string(k) +
                         "-th block of the teacher (" + teacher.summary() + ") makes " + std::to_string(kept.size()));
      name = m[1].str() + "." + std::to_string(kept[index]) + "." + m[3].str();
    }
    const auto it = source.find(name);
    if (it == source.end())
      throw ModelError("keep every k-th block: the teacher (" + teacher.summary() + ") has no parameter " + name);
    if (!it->second.sizes().equals(item.value().sizes()))
      throw ModelError("keep every k-th block: parameter " + name + " differs in shape between teacher and student");
    item.value().copy_(it->second.detach().to(item.value().device(), item.value().scalar_type()));
  }
}

}  // namespace distill
