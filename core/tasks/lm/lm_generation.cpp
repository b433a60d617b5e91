#include "core/tasks/lm/lm_generation.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>

#include "core/models/eval_scope.h"
#include "core/tasks/lm/generate.h"
#include "core/text/utf8.h"

namespace distill {

namespace {

// Sampling as the config sets it for generated training text.
SamplingOptions trainingSampling(const GenerationConfig& generation) {
  SamplingOptions options;
  options.max_tokens = generation.new_tokens;
  options.temperature = generation.temperature;
  options.top_p = generation.top_p;
  return options;
}

std::string tokensText(const Tokenizer& tokenizer, const torch::Tensor& row) {
  const auto cpu = row.to(torch::kCPU).contiguous();
  return repairUtf8(tokenizer.decode(std::vector<int64_t>(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel())));
}

// The JSON string literal of UTF-8 text.
std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string probabilityText(double p) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", p);
  return buffer;
}

// Each model's probability of every completion token: [B, N] for `model` on [prompt | completion].
torch::Tensor completionProbabilities(ModelImpl& model, const torch::Tensor& prompts, const torch::Tensor& completions) {
  torch::NoGradGuard no_grad;
  const EvalScope eval(model);
  const auto sequence = torch::cat({prompts, completions}, 1);
  const int64_t p = prompts.size(1), n = completions.size(1);
  // The logits at positions p-1 .. p+n-2 predict the completion's tokens.
  const auto logits = model.forward(sequence.slice(1, 0, p + n - 1)).slice(1, p - 1, p + n - 1);
  return torch::softmax(logits.to(torch::kFloat32), -1).gather(-1, completions.unsqueeze(-1)).squeeze(-1);
}

// Targets that count in a generated batch [prompt | completion] (targets = sequence shifted by
// one): those predicting a completion token, up to and including a first separator.
torch::Tensor completionMask(const torch::Tensor& completions, int64_t prompt_length, int64_t separator) {
  const auto separators = (completions == separator).to(torch::kInt64);
  // A completion token counts when no separator came before it within the completion.
  const auto before = separators.cumsum(1) - separators;
  const auto in_completion = before == 0;  // [B, N]
  const auto prompt_targets = torch::zeros({completions.size(0), prompt_length - 1},
                                           torch::TensorOptions().dtype(torch::kBool).device(completions.device()));
  return torch::cat({prompt_targets, in_completion}, 1);  // [B, P - 1 + N]
}

class GeneratingSplit : public TrainSplit {
 public:
  GeneratingSplit(std::unique_ptr<TrainSplit> corpus, const GenerationConfig& generation, const Tokenizer& tokenizer,
                  int64_t context, uint64_t seed)
      : corpus_(std::move(corpus)),
        generation_(generation),
        tokenizer_(tokenizer),
        context_(context),
        generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

  int64_t size() const override { return corpus_->size(); }
  torch::Device indexDevice() const override { return corpus_->indexDevice(); }
  bool fixedInputs() const override { return false; }
  void attachModels(ModelImpl* teacher, ModelImpl* student) override {
    teacher_ = teacher;
    student_ = student;
  }

  Batch batch(const torch::Tensor& indices) override {
    Batch corpus_batch = corpus_->batch(indices);
    if (!student_) return corpus_batch;  // the teacher phase learns the corpus
    double draw = 0.0;
    {
      std::lock_guard<std::mutex> lock(generator_.mutex());
      draw = at::check_generator<at::CPUGeneratorImpl>(generator_)->random() / 4294967296.0;  // [0, 1)
    }
    const bool on_policy = student_ && draw < generation_.on_policy;
    if (!on_policy && !generation_.sequence_kd) return corpus_batch;  // GKD's off-policy batch: the corpus
    ModelImpl* writer = on_policy ? student_ : teacher_;
    const std::string role = on_policy ? "student" : "teacher";

    const int64_t prompt_length = std::min(generation_.prompt_tokens, corpus_batch.inputs.size(1));
    const auto prompts = corpus_batch.inputs.slice(1, 0, prompt_length);
    const auto completions = generateBatch(*writer, context_, prompts, trainingSampling(generation_), generator_);
    const auto sequence = torch::cat({prompts, completions}, 1);

    Batch batch;
    batch.inputs = sequence.slice(1, 0, sequence.size(1) - 1);
    batch.targets = sequence.slice(1, 1, sequence.size(1));
    batch.mask = completionMask(completions, prompt_length, tokenizer_.separator());
    batch.units = batch.mask.sum().item<int64_t>();
    for (int64_t row = 0; row < prompts.size(0); ++row) {
      GeneratedText text;
      text.purpose = "train";
      text.role = role;
      text.decoding = generation_.temperature == 0.0 ? "greedy" : "sampled";
      text.prompt_index = row;
      text.prompt = tokensText(tokenizer_, prompts[row]);
      text.completion = tokensText(tokenizer_, completions[row]);
      batch.texts.push_back(std::move(text));
    }
    return batch;
  }

  // The corpus split's state, and this split's generator: a resumed run draws the same
  // batches on-policy and samples the same text.
  void save(torch::serialize::OutputArchive& state) const override {
    corpus_->save(state);
    std::lock_guard<std::mutex> lock(generator_.mutex());
    state.write("generation_rng", generator_.get_state());
  }
  void load(torch::serialize::InputArchive& state) override {
    corpus_->load(state);
    torch::Tensor saved;
    state.read("generation_rng", saved);
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_state(saved);
  }

 private:
  std::unique_ptr<TrainSplit> corpus_;
  GenerationConfig generation_;
  Tokenizer tokenizer_;
  int64_t context_;
  mutable at::Generator generator_;
  ModelImpl* teacher_ = nullptr;
  ModelImpl* student_ = nullptr;
};

}  // namespace

bool trainsOnGeneratedText(const GenerationConfig& generation) {
  return generation.sequence_kd || generation.on_policy > 0.0;
}

std::unique_ptr<TrainSplit> makeGeneratingSplit(std::unique_ptr<TrainSplit> corpus, const GenerationConfig& generation,
                                                const Tokenizer& tokenizer, int64_t context, uint64_t seed) {
  return std::make_unique<GeneratingSplit>(std::move(corpus), generation, tokenizer, context, seed);
}

std::vector<torch::Tensor> evaluationPrompts(const std::vector<std::string>& texts, const Tokenizer& tokenizer,
                                             int64_t length, int64_t count, bool whole) {
  std::vector<std::vector<int64_t>> usable;
  for (const auto& text : texts) {
    auto tokens = tokenizer.encode(text);
    const auto n = static_cast<int64_t>(tokens.size());
    if (whole ? (n >= 1 && n <= length) : n >= length) {
      if (!whole) tokens.resize(static_cast<size_t>(length));
      usable.push_back(std::move(tokens));
    }
  }
  const int64_t k = std::min<int64_t>(count, static_cast<int64_t>(usable.size()));
  std::vector<torch::Tensor> prompts;
  for (int64_t i = 0; i < k; ++i)
    prompts.push_back(torch::tensor(usable[static_cast<size_t>(i * static_cast<int64_t>(usable.size()) / k)], torch::kInt64));
  return prompts;
}

std::vector<GeneratedText> completePrompts(ModelImpl& writer, ModelImpl* other, const std::string& role,
                                           const std::vector<torch::Tensor>& prompts, const Tokenizer& tokenizer,
                                           const GenerationConfig& generation, int64_t context) {
  std::vector<GeneratedText> texts;
  if (prompts.empty()) return texts;
  const auto device = writer.parameters().empty() ? torch::Device(torch::kCPU) : writer.parameters().front().device();
  // Prompts of one length go as one batch (the usual case: all of them).
  std::map<int64_t, std::vector<size_t>> by_length;
  for (size_t i = 0; i < prompts.size(); ++i) by_length[prompts[i].size(0)].push_back(i);
  for (const bool greedy : {true, false}) {
    std::vector<GeneratedText> round(prompts.size());
    for (const auto& [length, rows] : by_length) {
      if (length >= context) continue;  // no position left to write at
      std::vector<torch::Tensor> group;
      for (const size_t i : rows) group.push_back(prompts[i]);
      const auto batch = torch::stack(group).to(device);
      SamplingOptions options = trainingSampling(generation);
      options.max_tokens = std::min(generation.new_tokens, context - length);
      options.temperature = greedy ? 0.0 : std::max(generation.temperature, 1e-6);
      // The same seed at every evaluation: sampled completions differ only because the model did.
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(20261206);
      const auto completions = generateBatch(writer, context, batch, options, generator);
      const auto p = completionProbabilities(writer, batch, completions).to(torch::kCPU);
      const auto q = other ? completionProbabilities(*other, batch, completions).to(torch::kCPU) : torch::Tensor();
      const auto tokens = completions.to(torch::kCPU);
      for (size_t r = 0; r < rows.size(); ++r) {
        const auto row = static_cast<int64_t>(r);
        GeneratedText& text = round[rows[r]];
        text.role = role;
        text.decoding = greedy ? "greedy" : "sampled";
        text.prompt_index = static_cast<int64_t>(rows[r]);
        text.prompt = tokensText(tokenizer, prompts[rows[r]]);
        text.completion = tokensText(tokenizer, tokens[row]);
        std::string json = "[";
        for (int64_t j = 0; j < tokens.size(1); ++j) {
          if (j) json += ",";
          json += "{\"t\":" + jsonString(repairUtf8(tokenizer.decode({tokens[row][j].item<int64_t>()}))) +
                  ",\"p\":" + probabilityText(p[row][j].item<double>());
          if (q.defined()) json += ",\"q\":" + probabilityText(q[row][j].item<double>());
          json += "}";
        }
        text.tokens_json = json + "]";
      }
    }
    for (auto& text : round)
      if (!text.role.empty()) texts.push_back(std::move(text));
  }
  return texts;
}

}  // namespace distill
