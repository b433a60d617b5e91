#include "app/cli/samples_command.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <tuple>
#include <vector>

#include "app/cli/cli_common.h"
#include "core/config/config.h"
#include "core/errors.h"
#include "core/store/run_store.h"
#include "core/tasks/task_catalog.h"
#include "core/text/utf8.h"

namespace distill::cli {

namespace {

// Teacher before student, greedy before sampled: the order a reader compares them in.
int roleRank(const std::string& role) { return role == "teacher" ? 0 : role == "student" ? 1 : 2; }
int decodingRank(const std::string& decoding) { return decoding == "greedy" ? 0 : 1; }

nlohmann::json textJson(const GeneratedText& text) {
  // The per-token probabilities as JSON, not as a string of JSON; null when none were kept.
  nlohmann::json tokens = text.tokens_json.empty() ? nlohmann::json() : nlohmann::json::parse(text.tokens_json, nullptr, false);
  if (tokens.is_discarded()) tokens = text.tokens_json;
  return {{"phase", text.phase},       {"step", text.step},
          {"epoch", text.epoch},       {"wall_time", text.wall_time},
          {"purpose", text.purpose},   {"role", text.role},
          {"decoding", text.decoding}, {"prompt_index", text.prompt_index},
          {"prompt", text.prompt},     {"completion", text.completion},
          {"tokens", tokens}};
}

// "100, 200, 300" of the points with texts, phases named when the run has texts in both.
std::string pointList(const std::vector<GeneratedPoint>& points) {
  const bool both_phases = std::any_of(points.begin(), points.end(),
                                       [&](const GeneratedPoint& p) { return p.phase != points.front().phase; });
  std::string list;
  const size_t shown = std::min<size_t>(points.size(), 20);
  for (size_t i = 0; i < shown; ++i)
    list += (i ? ", " : "") + (both_phases ? points[i].phase + " " : std::string()) + std::to_string(points[i].step);
  if (shown < points.size()) list += fmt::format(", ... ({} in all)", points.size());
  return list;
}

// One evaluation (or training step): each prompt, then its completions one per line.
void printPoint(const std::vector<GeneratedText>& texts, const std::string& purpose) {
  const GeneratedText& first = texts.front();
  fmt::print("\n{} phase, step {} (epoch {:.2f})\n", first.phase, first.step, first.epoch);
  std::vector<const GeneratedText*> ordered;
  for (const auto& text : texts) ordered.push_back(&text);
  std::stable_sort(ordered.begin(), ordered.end(), [](const GeneratedText* a, const GeneratedText* b) {
    return std::make_tuple(a->prompt_index, roleRank(a->role), decodingRank(a->decoding)) <
           std::make_tuple(b->prompt_index, roleRank(b->role), decodingRank(b->decoding));
  });
  // Completions are shown on one line each: a newline in them is written \n (terminalText).
  const char* unit = purpose == "train" ? "row" : "prompt";
  for (size_t i = 0; i < ordered.size(); ++i) {
    const GeneratedText& text = *ordered[i];
    if (i == 0 || text.prompt_index != ordered[i - 1]->prompt_index || text.prompt != ordered[i - 1]->prompt)
      fmt::print("  {} {}: \"{}\"\n", unit, text.prompt_index, terminalText(text.prompt));
    fmt::print("    {:<8} {:<8} \"{}\"\n", text.role, text.decoding, terminalText(text.completion));
  }
}

}  // namespace

CLI::App* addSamplesCommand(CLI::App& app, SamplesArgs& args, std::string& db) {
  auto* command = app.add_subcommand(
      "samples", "show the texts a language-model run's models wrote: each evaluation's prompts with the teacher's "
                 "and student's completions");
  command->add_option("run", args.run, "run id (a run of task lm)")->required()->type_name("RUN");
  command->add_option("--purpose", args.purpose, "eval (default): the fixed prompts of each evaluation; train: generated "
                                                 "training sequences")
      ->check(CLI::IsMember({"eval", "train"}));
  auto* step = command->add_option("--step", args.step, "only the texts written at this step (of either phase)")->type_name("N");
  command->add_flag("--last", args.last, "only the texts of the last evaluation (or training step with texts)")->excludes(step);
  command->add_option("--role", args.role, "only the texts of this model: teacher or student")
      ->check(CLI::IsMember({"teacher", "student"}));
  command->add_flag("--json", args.json, "JSON output for scripts: one object per text, with its per-token probabilities");
  command->add_option("--db", db, "run database")->type_name("FILE");
  return command;
}

int samplesCommand(const SamplesArgs& args, const std::string& db) {
  RunStore store(existingDatabasePath(db));
  const int64_t run_id = parseRunId(args.run);
  const auto run = store.getRun(run_id);
  if (!run) throw StoreError("run " + std::to_string(run_id) + " not found in " + store.path());
  const std::string name = "run " + std::to_string(run_id);

  const std::vector<GeneratedPoint> points = store.generatedPoints(run_id, args.purpose);
  if (points.empty()) {
    const std::string task = taskOfRun(run->params);
    if (task != "lm") {
      const char* article = task.find_first_of("aeiou") == 0 ? "an" : "a";
      throw ConfigError({{"RUN", fmt::format("{} is {} {} run; only language-model runs (task: lm) store generated texts",
                                             name, article, task)}});
    }
    if (args.json) {
      fmt::print("[]\n");
    } else if (args.purpose == "train") {
      fmt::print("{} has no stored training texts (a run stores them when it trains on generated sequences)\n", name);
    } else {
      fmt::print("{} has no stored evaluation texts (it ended before its first evaluation, or a workbench that did not "
                 "keep them ran it)\n",
                 name);
    }
    return kExitOk;
  }

  GeneratedFilter filter;
  filter.purpose = args.purpose;
  filter.role = args.role;
  if (args.last) {
    filter.phase = points.back().phase;
    filter.step = points.back().step;
  } else if (args.step) {
    const bool found = std::any_of(points.begin(), points.end(), [&](const GeneratedPoint& p) { return p.step == *args.step; });
    if (!found)
      throw ConfigError({{"--step", fmt::format("{} has no {} texts at step {}; steps with texts: {}", name, args.purpose,
                                                *args.step, pointList(points))}});
    filter.step = args.step;
  }
  const std::vector<GeneratedText> texts = store.generatedTexts(run_id, filter);

  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& text : texts) out.push_back(textJson(text));
    // Stored texts are valid UTF-8 (the store repairs them); replace guards older rows.
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return kExitOk;
  }
  fmt::print("{}: {}\n", name, terminalText(run->name));
  if (texts.empty()) {
    fmt::print("no {} texts of the {}\n", args.purpose, args.role);  // only --role can leave none
    return kExitOk;
  }
  // Texts come in write order, so the texts of one point are together.
  size_t begin = 0;
  for (size_t i = 1; i <= texts.size(); ++i) {
    if (i < texts.size() && texts[i].phase == texts[begin].phase && texts[i].step == texts[begin].step) continue;
    printPoint(std::vector<GeneratedText>(texts.begin() + static_cast<std::ptrdiff_t>(begin),
                                          texts.begin() + static_cast<std::ptrdiff_t>(i)),
               args.purpose);
    begin = i;
  }
  return kExitOk;
}

}  // namespace distill::cli
