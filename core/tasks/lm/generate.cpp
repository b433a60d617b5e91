#include "core/tasks/lm/generate.h"

#include <ATen/CPUGeneratorImpl.h>

#include <optional>
#include <sstream>
#include <string>

#include "core/config/config.h"
#include "core/tasks/lm/corpus.h"
#include "core/models/eval_scope.h"

namespace distill {

namespace {

std::string numberText(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// One token per row from next-token logits [B, V] on the CPU: [B] int64.
torch::Tensor sample(const torch::Tensor& logits, const SamplingOptions& options, at::Generator& generator) {
  if (options.temperature == 0.0) return logits.argmax(-1);
  const auto probabilities = torch::softmax(logits.to(torch::kDouble) / options.temperature, /*dim=*/-1);  // [B, V]
  if (options.top_p >= 1.0)
    return torch::multinomial(probabilities, 1, /*replacement=*/false, generator).squeeze(-1);
  // Nucleus: per row, the most likely tokens until their mass reaches top_p (the first always kept).
  const auto sorted = probabilities.sort(/*dim=*/-1, /*descending=*/true);
  const auto& sorted_probabilities = std::get<0>(sorted);                                  // [B, V], descending
  const auto& sorted_ids = std::get<1>(sorted);                                            // [B, V]
  const auto mass_before = sorted_probabilities.cumsum(-1) - sorted_probabilities;         // [B, V]
  const auto kept = sorted_probabilities.masked_fill(mass_before >= options.top_p, 0.0);  // [B, V]
  const auto choice = torch::multinomial(kept, 1, /*replacement=*/false, generator);     // [B, 1], renormalised
  return sorted_ids.gather(-1, choice).squeeze(-1);
}

}  // namespace

void validateSamplingOptions(const SamplingOptions& options) {
  std::vector<ConfigIssue> issues;
  if (options.max_tokens < 1)
    issues.push_back({"max_tokens", std::to_string(options.max_tokens) + " is too small; generate at least 1 token"});
  if (!(options.temperature >= 0.0))
    issues.push_back({"temperature", numberText(options.temperature) + " is negative; use 0 for greedy decoding"});
  if (!(options.top_p > 0.0 && options.top_p <= 1.0))
    issues.push_back({"top_p", numberText(options.top_p) + " is not in (0, 1]; 1 samples from the whole distribution"});
  if (!issues.empty()) throw ConfigError(issues);
}

torch::Tensor generateBatch(ModelImpl& model, int64_t context, const torch::Tensor& prompts,
                            const SamplingOptions& options, at::Generator& generator) {
  validateSamplingOptions(options);
  const int64_t prompt_length = prompts.size(1);
  if (prompt_length < 1 || prompt_length > context)
    throw ConfigError({{"prompt", "the prompt has " + std::to_string(prompt_length) +
                                      " tokens; the model's context is " + std::to_string(context)}});
  torch::NoGradGuard no_grad;
  EvalScope eval(model);
  auto* decoder = options.use_cache ? dynamic_cast<CausalLmImpl*>(&model) : nullptr;
  std::optional<KvCache> cache;
  if (decoder) cache.emplace(decoder->newCache());
  auto run = [&](const torch::Tensor& tokens) {
    return cache ? decoder->forwardCached(tokens, *cache) : model.forward(tokens);
  };
  auto lastLogits = [](const torch::Tensor& logits) {
    return logits.select(1, logits.size(1) - 1).to(torch::kCPU);  // [B, V]: the last position's
  };
  // Prefill: the whole prompt in one call; then one position per step against the cache, or
  // the whole sequence again without one.
  torch::Tensor sequence = prompts;
  auto logits = lastLogits(run(sequence));
  std::vector<torch::Tensor> generated;
  while (true) {
    if (options.stop && options.stop->load(std::memory_order_relaxed)) break;  // one token's time at most
    const auto token = sample(logits, options, generator).to(prompts.device()).unsqueeze(1);  // [B, 1]
    generated.push_back(token);
    if (static_cast<int64_t>(generated.size()) >= options.max_tokens) break;
    // The context is full: the token just drawn has no position to be fed back at.
    if (sequence.size(1) >= context) break;
    sequence = torch::cat({sequence, token}, 1);
    logits = lastLogits(run(cache ? token : sequence));
  }
  if (generated.empty()) return torch::empty({prompts.size(0), 0}, prompts.options());  // stopped before the first
  return torch::cat(generated, 1);
}

std::vector<int64_t> generate(CausalLmImpl& model, const std::vector<int64_t>& prompt, const SamplingOptions& options) {
  validateSamplingOptions(options);
  const std::vector<int64_t> sequence = prompt.empty() ? std::vector<int64_t>{Tokenizer::kSeparator} : prompt;
  const auto device = model.device();
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  const auto tokens = generateBatch(model, model.contextLength(),
                                    torch::tensor(sequence, torch::kLong).to(device).unsqueeze(0), options, generator)
                          .to(torch::kCPU);
  return std::vector<int64_t>(tokens.data_ptr<int64_t>(), tokens.data_ptr<int64_t>() + tokens.numel());
}

}  // namespace distill
