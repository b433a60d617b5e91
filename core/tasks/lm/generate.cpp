#include "core/tasks/lm/generate.h"

#include <ATen/CPUGeneratorImpl.h>

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

// One token from next-token logits (V) on the CPU.
int64_t sample(const torch::Tensor& logits, const SamplingOptions& options, at::Generator& generator) {
  if (options.temperature == 0.0) return logits.argmax().item<int64_t>();
  const auto probabilities = torch::softmax(logits.to(torch::kDouble) / options.temperature, /*dim=*/0);  // (V)
  if (options.top_p >= 1.0) return torch::multinomial(probabilities, 1, /*replacement=*/false, generator).item<int64_t>();
  // Nucleus: the most likely tokens until their mass reaches top_p (the first always kept).
  const auto sorted = probabilities.sort(/*dim=*/0, /*descending=*/true);
  const auto& sorted_probabilities = std::get<0>(sorted);                         // (V), descending
  const auto& sorted_ids = std::get<1>(sorted);                                   // (V)
  const auto mass_before = sorted_probabilities.cumsum(0) - sorted_probabilities;  // (V)
  const auto kept = sorted_probabilities.masked_fill(mass_before >= options.top_p, 0.0);  // (V)
  const auto choice = torch::multinomial(kept, 1, /*replacement=*/false, generator);  // renormalised by multinomial
  return sorted_ids.index_select(0, choice).item<int64_t>();
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

std::vector<int64_t> generate(GptImpl& model, const std::vector<int64_t>& prompt, const SamplingOptions& options) {
  validateSamplingOptions(options);
  const int64_t context = model.config().context;
  std::vector<int64_t> sequence = prompt.empty() ? std::vector<int64_t>{Tokenizer::kSeparator} : prompt;
  if (static_cast<int64_t>(sequence.size()) > context)
    throw ConfigError({{"prompt", "the prompt has " + std::to_string(sequence.size()) +
                                      " tokens; the model's context is " + std::to_string(context)}});

  torch::NoGradGuard no_grad;
  EvalScope eval(model);
  const auto device = model.headWeight().device();
  auto tokensOf = [&](const std::vector<int64_t>& ids) {
    return torch::tensor(ids, torch::kLong).to(device).unsqueeze(0);  // (1, T)
  };
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  KvCache cache = model.newCache();
  auto nextLogits = [&](const torch::Tensor& logits) {
    return logits[0][logits.size(1) - 1].to(torch::kCPU);  // (V): the last position's
  };

  // Prefill: the whole prompt in one call.
  auto logits = nextLogits(options.use_cache ? model.forwardCached(tokensOf(sequence), cache)
                                             : model.forward(tokensOf(sequence)));
  std::vector<int64_t> generated;
  while (true) {
    const int64_t token = sample(logits, options, generator);
    generated.push_back(token);
    if (static_cast<int64_t>(generated.size()) >= options.max_tokens) break;
    // The context is full: the token just drawn has no position to be fed back at.
    if (static_cast<int64_t>(sequence.size()) >= context) break;
    sequence.push_back(token);
    // Decode: one new position against the cache, or the whole sequence again.
    logits = nextLogits(options.use_cache ? model.forwardCached(tokensOf({token}), cache)
                                          : model.forward(tokensOf(sequence)));
  }
  return generated;
}

}  // namespace distill
