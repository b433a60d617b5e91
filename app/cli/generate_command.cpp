#include "app/cli/generate_command.h"

#include <fmt/format.h>

#include <chrono>
#include <map>

#include "app/cli/cli_common.h"
#include "core/config/config.h"
#include "core/runtime/runtime.h"
#include "core/store/run_store.h"
#include "core/tasks/lm/generate.h"
#include "core/tasks/lm/stored_model.h"

namespace distill::cli {

namespace {

// The core names options as SamplingOptions does; the command line as its flags.
ConfigError withFlagNames(const ConfigError& error) {
  static const std::map<std::string, std::string> flags = {{"max_tokens", "--max-tokens"},
                                                           {"temperature", "--temperature"},
                                                           {"top_p", "--top-p"},
                                                           {"prompt", "--prompt"}};
  std::vector<ConfigIssue> issues;
  for (auto issue : error.issues()) {
    if (const auto it = flags.find(issue.key); it != flags.end()) issue.key = it->second;
    issues.push_back(issue);
  }
  return ConfigError(issues);
}

}  // namespace

CLI::App* addGenerateCommand(CLI::App& app, GenerateArgs& args, std::string& db) {
  auto* command = app.add_subcommand("generate", "continue a prompt with a language-model run's student (or teacher)");
  command->add_option("run", args.run, "run id (a run of task lm)")->required()->type_name("RUN");
  command->add_option("--role", args.role, "which model: student (default) or teacher")
      ->check(CLI::IsMember({"student", "teacher"}));
  command->add_option("-p,--prompt", args.prompt, "the text to continue (default: empty, the start of a document)")
      ->type_name("TEXT");
  command->add_option("-n,--max-tokens", args.max_tokens, "new tokens at most (default 128; fewer when the context fills)")
      ->type_name("N");
  command->add_option("-t,--temperature", args.temperature, "sampling temperature, 0 = greedy (default 1)")
      ->type_name("T");
  command->add_option("--top-p", args.top_p, "nucleus sampling: the smallest set of tokens with this mass, in (0, 1] (default 1)")
      ->type_name("P");
  command->add_option("--seed", args.seed, "seed of the sampler (default 0): the same seed gives the same text")
      ->type_name("S");
  command->add_flag("--no-cache", args.no_cache,
                    "re-run the whole sequence for every token instead of using the KV cache (the slow baseline)");
  command->add_option("--threads", args.threads,
                      "intra-op threads, as the config key (default 0: the workbench's choice; 1 decodes fastest on a "
                      "busy machine)")
      ->type_name("N")
      ->check(CLI::Range(0, 1024));
  command->add_option("--db", db, "run database")->type_name("FILE");
  return command;
}

int generateCommand(const GenerateArgs& args, const std::string& db) {
  SamplingOptions options;
  options.max_tokens = args.max_tokens;
  options.temperature = args.temperature;
  options.top_p = args.top_p;
  options.seed = args.seed;
  options.use_cache = !args.no_cache;
  try {
    validateSamplingOptions(options);  // before the model is loaded
  } catch (const ConfigError& e) {
    throw withFlagNames(e);
  }

  RunStore store(existingDatabasePath(db));
  const int64_t run_id = parseRunId(args.run);
  StoredLm stored = loadStoredLm(store, run_id, args.role);
  std::vector<int64_t> prompt = stored.tokenizer.encode(args.prompt);
  if (stored.tokenizer.decode(prompt) != args.prompt && !stored.tokenizer.isModel())
    fmt::print(stderr, "note: --prompt: characters the run's {} vocabulary lacks were left out\n",
               stored.tokenizer.kind());
  if (prompt.empty()) prompt = {stored.tokenizer.separator()};  // a document's start

  // The workbench's thread choice, as a run's (threads, gemm: auto): without it OpenBLAS's and
  // LibTorch's pools compete. A decode step is ~100 small ops, each an OpenMP region: on a busy
  // machine every region waits for a descheduled thread, so one thread can be much faster there.
  applyThreadSettings(args.threads);
  const auto start = std::chrono::steady_clock::now();
  std::vector<int64_t> generated;
  try {
    generated = distill::generate(*stored.model, prompt, options);
  } catch (const ConfigError& e) {
    throw withFlagNames(e);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::string text = args.prompt + stored.tokenizer.decode(generated);
  fmt::print("{}{}", text, text.empty() || text.back() != '\n' ? "\n" : "");
  std::fflush(stdout);
  const int64_t context = stored.model->contextLength();
  fmt::print(stderr, "{} of run {} ({}): {} tokens in {:.3f} s ({:.0f} tokens/s, {})\n", args.role, run_id,
             stored.model->summary(), generated.size(), seconds, seconds > 0 ? generated.size() / seconds : 0.0,
             options.use_cache ? "KV cache" : "no cache");
  if (static_cast<int64_t>(generated.size()) < options.max_tokens)
    fmt::print(stderr, "stopped after {} of {} tokens: the model's context of {} tokens is full\n",
               generated.size(), options.max_tokens, context);
  return kExitOk;
}

}  // namespace distill::cli
