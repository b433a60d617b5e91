// Text generation with a decoder language model (CausalLmImpl: the task's GPT, GPT-2 or a Llama
// loaded from Hugging Face): the prompt is run once (the prefill),
// then one token at a time is sampled and fed back (the decode), each step through the model's
// KV cache (core/tasks/lm/kv_cache.h), so a step costs one position's work. With use_cache off
// every step re-runs the whole sequence: the baseline the cache is measured against, and a check
// that both give the same tokens.
//
// Sampling: temperature 0 takes the most likely token (greedy); otherwise the logits are divided
// by the temperature and a token is drawn from the smallest set of most likely tokens whose
// probability reaches top_p (nucleus sampling, Holtzman et al. 2020, "The Curious Case of Neural
// Text Degeneration"), with a torch::Generator of its own seeded from `seed`, so a seed gives
// the same text whatever else the process draws.
//
// Usage:
//   SamplingOptions options;
//   options.temperature = 0.8;
//   options.top_p = 0.95;
//   const auto tokens = generate(*model, tokenizer.encode("the cat"), options);
//   std::cout << tokenizer.decode(tokens);
//
// Thread contract: one thread at a time per model (the model is put in eval mode for the call
// and put back as it was).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "core/tasks/lm/causal_lm.h"

namespace distill {

struct SamplingOptions {
  int64_t max_tokens = 128;  // new tokens at most (>= 1)
  double temperature = 1.0;  // >= 0; 0 = greedy
  double top_p = 1.0;        // in (0, 1]; 1 = the whole distribution
  uint64_t seed = 0;         // of the sampler's own generator
  bool use_cache = true;     // false: re-run the whole sequence at every step (the baseline)
  // Cancellation (the window's Stop): set by any thread, it is read before each token is drawn,
  // and the tokens drawn so far come back (none when it was set before the first). Not owned.
  const std::atomic<bool>* stop = nullptr;
};

// Throws ConfigError naming the option (max_tokens, temperature, top_p) for a value outside its
// range.
void validateSamplingOptions(const SamplingOptions& options);

// The tokens generated after `prompt` (the prompt itself is not repeated). An empty prompt
// starts from the separator token (Tokenizer::kSeparator, 0: a document's start). Generation
// stops after options.max_tokens tokens, or earlier when the context is full: the prompt and the
// tokens fed back hold at most context positions, so at most context - prompt + 1 tokens come
// back (the window does not slide; the caller sees fewer tokens than asked), or when
// options.stop is set (fewer again, possibly none). Runs on the
// model's device. Throws ConfigError for bad options and for a prompt longer than the context
// (key prompt: "the prompt has 300 tokens; the model's context is 128"), ModelError for
// token ids outside the vocabulary.
std::vector<int64_t> generate(CausalLmImpl& model, const std::vector<int64_t>& prompt, const SamplingOptions& options);

// The completions of a batch of prompts of one length: `prompts` int64 [B, P] on the model's
// device, returns [B, N] with N = options.max_tokens, or fewer when the context fills (as
// generate()). Rows are sampled independently from `generator` (a CPU generator; the draws are
// made on the CPU, so a seed gives the same text on any device). A CausalLmImpl decodes through
// its KV cache; any other language model (a TorchScript one) re-runs the sequence at each step.
// options.seed is not used: the caller's generator is. Throws as generate().
torch::Tensor generateBatch(ModelImpl& model, int64_t context, const torch::Tensor& prompts,
                            const SamplingOptions& options, at::Generator& generator);

}  // namespace distill
