#include "core/tasks/lm/playground.h"

#include <torch/torch.h>

#include <chrono>

#include "core/models/eval_scope.h"
#include "core/store/run_store.h"
#include "core/tasks/lm/generate.h"
#include "core/tasks/lm/stored_model.h"
#include "core/text/utf8.h"

namespace distill {

namespace {

// Each model's probability of every completion token, [N], for `model` on [prompt | completion]:
// the logits at positions P-1 .. P+N-2 predict the completion's tokens.
std::vector<double> tokenProbabilities(CausalLmImpl& model, const std::vector<int64_t>& prompt,
                                       const std::vector<int64_t>& completion) {
  std::vector<double> probabilities;
  if (completion.empty()) return probabilities;
  torch::NoGradGuard no_grad;
  const EvalScope eval(model);
  std::vector<int64_t> sequence = prompt;
  sequence.insert(sequence.end(), completion.begin(), completion.end() - 1);  // the last token predicts nothing
  const auto device = model.parameters().empty() ? torch::Device(torch::kCPU) : model.parameters().front().device();
  const auto input = torch::tensor(sequence, torch::kInt64).unsqueeze(0).to(device);  // [1, P + N - 1]
  const auto p = static_cast<int64_t>(prompt.size()), n = static_cast<int64_t>(completion.size());
  const auto logits = model.forward(input).slice(1, p - 1, p + n - 1).squeeze(0);  // [N, V]
  const auto targets = torch::tensor(completion, torch::kInt64).to(device).unsqueeze(-1);
  const auto chosen = torch::softmax(logits.to(torch::kFloat32), -1).gather(-1, targets).squeeze(-1).to(torch::kCPU);
  const auto* data = chosen.contiguous().data_ptr<float>();
  probabilities.assign(data, data + n);
  return probabilities;
}

}  // namespace

PlaygroundResult completeWithBoth(const std::string& db_path, int64_t run_id, const std::string& prompt,
                                  const PlaygroundOptions& options) {
  SamplingOptions sampling;
  sampling.max_tokens = options.max_tokens;
  sampling.temperature = options.temperature;
  sampling.top_p = options.top_p;
  sampling.seed = options.seed;
  sampling.stop = options.stop;
  validateSamplingOptions(sampling);
  const auto stopped = [&] { return options.stop && options.stop->load(std::memory_order_relaxed); };  // before the models are loaded

  PlaygroundResult result;
  result.run_id = run_id;
  StoredLm teacher, student;
  {
    // Its own connection, closed before generating: a training run keeps writing meanwhile.
    RunStore store(db_path, RunStore::Mode::ReadOnly);
    if (const auto run = store.getRun(run_id)) result.run_name = run->name;
    teacher = loadStoredLm(store, run_id, "teacher");
    student = loadStoredLm(store, run_id, "student");
  }
  const Tokenizer& tokenizer = student.tokenizer;
  std::vector<int64_t> ids = tokenizer.encode(prompt);
  result.prompt = repairUtf8(tokenizer.decode(ids));
  result.prompt_changed = result.prompt != prompt && !tokenizer.isModel();
  if (ids.empty()) ids = {tokenizer.separator()};  // a document's start

  StoredLm* models[] = {&teacher, &student};
  for (int i = 0; i < 2; ++i) {
    if (stopped()) break;  // loading took the time, or the teacher's completion was stopped
    CausalLmImpl& writer = *models[i]->model;
    CausalLmImpl& other = *models[1 - i]->model;
    const auto start = std::chrono::steady_clock::now();
    PlaygroundCompletion completion;
    completion.role = i == 0 ? "teacher" : "student";
    completion.model = writer.summary();
    const std::vector<int64_t> generated = generate(writer, ids, sampling);
    const auto p = tokenProbabilities(writer, ids, generated);
    const auto q = tokenProbabilities(other, ids, generated);
    completion.text = repairUtf8(tokenizer.decode(generated));
    for (size_t k = 0; k < generated.size(); ++k)
      completion.tokens.push_back({repairUtf8(tokenizer.decode({generated[k]})), p[k], q[k]});
    const bool short_of_max = static_cast<int64_t>(generated.size()) < options.max_tokens;
    completion.stopped = short_of_max && stopped();
    completion.context_full = short_of_max && !completion.stopped;
    completion.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.completions.push_back(std::move(completion));
  }
  result.stopped = stopped();
  return result;
}

}  // namespace distill
