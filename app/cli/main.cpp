// `distill`: the headless front end over the core (runs, listing, inspection, comparison, export,
// model export as TorchScript, text generation from language-model runs and the texts they stored).
// Exit codes: 0 success, 1 failure during a run, 2 bad input, 130 stopped by Ctrl-C.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include <cctype>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "app/cli/bench_command.h"
#include "app/cli/cli_common.h"
#include "app/cli/chart_render.h"
#include "app/cli/comparison.h"
#include "app/cli/console_progress.h"
#include "app/cli/dist_command.h"
#include "app/cli/fidelity_commands.h"
#include "app/cli/generate_command.h"
#include "app/cli/samples_command.h"
#include "app/cli/sweep_command.h"
#include "app/cli/tokenize_command.h"
#include "core/config/config.h"
#include "core/config/config_keys.h"
#include "core/data/dataset.h"
#include "core/errors.h"
#include "core/fidelity/run_models.h"
#include "core/hf/hf_export.h"
#include "core/metrics/metric_keys.h"
#include "core/tasks/image/image_metrics.h"
#include "core/tasks/task_catalog.h"
#include "core/models/factory.h"
#include "core/models/torchscript_export.h"
#include "core/runtime/allocator.h"
#include "core/runtime/installation.h"
#include "core/runtime/runtime.h"
#include "core/store/run_query.h"
#include "core/store/run_store.h"
#include "core/tasks/lm/stored_model.h"
#include "core/tasks/lm/torchscript_lm.h"
#include "core/text/utf8.h"
#include "core/dist/distributed_run.h"
#include "core/train/experiment_runner.h"

namespace distill::cli {
namespace {

// Ctrl-C asks the trainer to stop between steps (the run is then stored as `stopped`);
// a second Ctrl-C ends the process at once.
RunControl* g_control = nullptr;
extern "C" void onInterrupt(int) {
  if (g_control && !g_control->stopRequested()) {
    g_control->requestStop();
    return;
  }
  std::_Exit(kExitStopped);
}

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({{"", "cannot read config file '" + path + "'"}});
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string fullPath(const std::string& db) { return db.empty() ? defaultDatabasePath() : db; }

// ---- run ---------------------------------------------------------------------------------

struct RunArgs {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string name;
  bool quiet = false;
  bool json = false;
  bool print_config = false;
  DistArgs dist;
};

int executeRun(ExperimentRunner& runner, ConsoleProgress& progress, RunControl& control, const std::string& db_path,
               bool quiet, bool json, DistGroup* group = nullptr);

// Rank 0 of a data-parallel run prepares the run as one process does; when it cannot, the other
// ranks are told so (they would otherwise wait for its plan).
template <typename Make>
std::unique_ptr<ExperimentRunner> prepareRun(DistGroup* group, Make make) {
  try {
    return make();
  } catch (const ConfigError& e) {
    std::string text;
    for (const auto& issue : e.issues()) text += (text.empty() ? "" : "; ") + issue.toString();
    if (group) publishRunRefusal(*group, text);
    throw;
  } catch (const std::exception& e) {
    if (group) publishRunRefusal(*group, e.what());
    throw;
  }
}

// JSON for scripts. A database written before names were checked (or by sqlite3 directly) may
// hold text that is not UTF-8: it is printed with U+FFFD in place of the bad bytes, so that
// one such row never makes the output of every other run fail.
std::string jsonText(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

int runCommand(const RunArgs& args, const std::string& db) {
  std::string config_path = args.config_path;  // a file, or a preset's name ("quick-smoke")
  if (!config_path.empty() && !std::filesystem::exists(config_path))
    if (auto preset = findPreset(config_path)) config_path = *preset;
  const std::string text = config_path.empty() ? std::string() : readText(config_path);
  ExperimentConfig config =
      parseConfigWithOverrides(text, args.overrides, config_path.empty() ? "default config" : config_path);
  if (!args.name.empty()) {
    // Refused here, not stored: JSON output must be valid UTF-8 (see core/text/utf8.h).
    if (!isValidUtf8(args.name)) throw ConfigError({{"--name", "the run name is " + describeInvalidUtf8(args.name)}});
    config.name = args.name;
  }
  if (args.print_config) {
    fmt::print("{}", toYaml(config));
    return kExitOk;
  }

  // One of several ranks (torchrun's or Slurm's variables, or started by --nproc): rank 0
  // records the run; the others follow it.
  auto group = joinFromEnvironment(args.dist, config.device.rfind("cuda", 0) == 0);
  if (group && group->rank() != 0) return followRank(*group);
  RunControl control;
  ConsoleProgress progress(args.quiet);
  const std::string db_path = fullPath(db);
  auto runner = prepareRun(group.get(), [&] { return std::make_unique<ExperimentRunner>(config, db_path, progress, control); });
  return executeRun(*runner, progress, control, db_path, args.quiet, args.json, group.get());
}

// `distill resume RUN`: continues an interrupted, stopped or failed run from its last epoch
// checkpoint, with its stored config.
int resumeCommand(const std::string& run_text, const std::string& db, bool quiet, bool json, bool take_over,
                  const DistArgs& dist) {
  const int64_t run_id = parseRunId(run_text);
  auto group = joinFromEnvironment(dist, false);
  if (group && group->rank() != 0) return followRank(*group);
  RunControl control;
  ConsoleProgress progress(quiet);
  const std::string db_path = fullPath(db);
  auto runner = prepareRun(group.get(), [&] {
    return std::make_unique<ExperimentRunner>(ResumeRun{run_id, take_over}, db_path, progress, control);
  });
  return executeRun(*runner, progress, control, db_path, quiet, json, group.get());
}

// Trains a prepared run with Ctrl-C handling and prints its result line.
int executeRun(ExperimentRunner& runner, ConsoleProgress& progress, RunControl& control, const std::string& db_path,
               bool quiet, bool json, DistGroup* group) {
  int64_t run_id = 0;
  if (group) {
    runner.setDataParallel(group);
    try {
      run_id = runner.createRun();
    } catch (const std::exception& e) {
      publishRunRefusal(*group, e.what());
      throw;
    }
    publishRunPlan(*group, runner, run_id);
  } else {
    run_id = runner.createRun();
  }
  if (!quiet) fmt::print(stderr, "run {} \"{}\" -> {}\n", run_id, describe(runner.config()), db_path);

  g_control = &control;
  std::signal(SIGINT, onInterrupt);
  std::signal(SIGTERM, onInterrupt);
  const RunResult result = runner.run();
  g_control = nullptr;
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  progress.finish();
  if (group) {
    // The others may be waiting for rank 0 (an evaluation): they end naming this error.
    if (result.outcome == RunOutcome::Failed) group->postError("rank 0: " + result.error);
    group->leave();
  }

  const char* status = statusName(runStatusOf(result.outcome));
  if (json) {
    nlohmann::json out = {{"run_id", run_id}, {"status", status}, {"error", result.error}, {"final", result.final}};
    fmt::print("{}\n", jsonText(out));
  } else {
    fmt::print("run {} {}: {}\n", run_id, status, headlineSummary(taskDisplay(runner.config().task), result.final));
  }
  if (result.outcome == RunOutcome::Failed) {
    fmt::print(stderr, "error: run {} failed: {}\n", run_id, result.error);
    return kExitRunFailed;
  }
  return result.outcome == RunOutcome::Stopped ? kExitStopped : kExitOk;
}

// ---- list / show -------------------------------------------------------------------------

nlohmann::json runJson(const RunRecord& run, bool full) {
  nlohmann::json out = {
      {"id", run.id},
      {"name", run.name},
      {"status", statusName(run.status)},
      {"created_at", run.created_at},
      {"finished_at", run.finished_at.empty() ? nlohmann::json() : nlohmann::json(run.finished_at)},
      {"duration_s", run.duration_s},
      {"error", run.error},
      {"notes", run.notes},
      {"starred", run.starred},
      {"tags", run.tags},
      {"teacher_run_id", run.teacher_run_id ? nlohmann::json(*run.teacher_run_id) : nlohmann::json()},
      {"final", run.final_metrics},
  };
  if (full) {
    out["config_yaml"] = run.config_yaml;
    out["params"] = run.params;
    out["environment"] = run.environment;
  }
  return out;
}

RunStore openForReading(const std::string& db) { return RunStore(existingDatabasePath(db)); }

int listCommand(const std::string& db, bool json, const std::string& filter) {
  RunStore store = openForReading(db);
  auto runs = store.listRuns();
  store.loadParams(runs);  // for the filter, and each run's task (its headline columns)
  if (!filter.empty()) {
    const auto fields = queryFields(runs);
    try {
      runs = RunQuery::parse(filter, &fields).filter(runs);
    } catch (const QueryError& e) {
      fmt::print(stderr, "error: --filter, {}\n{}\n", e.what(), e.pointAt(filter));
      return kExitBadInput;
    }
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& run : runs) out.push_back(runJson(run, false));
    fmt::print("{}\n", jsonText(out, 2));
    return kExitOk;
  }
  if (runs.empty()) {
    fmt::print("no runs in {}{}\n", store.path(), filter.empty() ? "" : " match the filter");
    return kExitOk;
  }
  fmt::print("{:>5}  {:<40}  {:<11}  {:<20}  {:>9}  {:>8}  {:>8}  {:>9}\n", "id", "name", "status", "created (UTC)",
             "duration", "student", "teacher", "agreement");
  for (const auto& run : runs) {
    // The run's task's headline metrics (the image task's accuracies for older runs).
    const TaskDisplay headlines = taskDisplay(taskOfRun(run.params));
    auto metric = [&](const std::string& key) {
      auto it = run.final_metrics.find(key);
      return it == run.final_metrics.end() ? std::string("-") : fmt::format("{:.4f}", it->second);
    };
    // Cut at a character boundary by terminal columns, control characters shown escaped.
    const std::string name = terminalText(run.name, 40);
    fmt::print("{:>5}  {}  {:<11}  {:<20}  {:>9}  {:>8}  {:>8}  {:>9}\n", run.id, name, statusName(run.status),
               run.created_at.substr(0, 19), run.finished_at.empty() ? "-" : formatDuration(run.duration_s),
               metric(headlines.student_quality), metric(headlines.teacher_quality), metric(headlines.agreement));
  }
  return kExitOk;
}

RunRecord requireRun(RunStore& store, int64_t id) {
  auto run = store.getRun(id);
  if (!run) throw StoreError("run " + std::to_string(id) + " not found in " + store.path());
  return *run;
}

int showCommand(const std::string& db, const std::string& run_text, bool json) {
  RunStore store = openForReading(db);
  const RunRecord run = requireRun(store, parseRunId(run_text));
  const auto checkpoints = store.checkpoints(run.id);
  if (json) {
    nlohmann::json out = runJson(run, true);
    out["metric_keys"] = store.metricKeys(run.id);
    out["checkpoints"] = nlohmann::json::array();
    for (const auto& c : checkpoints)
      out["checkpoints"].push_back({{"role", c.role}, {"path", c.path}, {"step", c.step}, {"epoch", c.epoch}});
    fmt::print("{}\n", jsonText(out, 2));
    return kExitOk;
  }
  fmt::print("run {}: {}\n", run.id, terminalText(run.name));
  fmt::print("  status    {}{}\n", statusName(run.status), run.error.empty() ? "" : " (" + terminalText(run.error) + ")");
  fmt::print("  created   {}\n", run.created_at);
  if (!run.finished_at.empty()) fmt::print("  finished  {} ({})\n", run.finished_at, formatDuration(run.duration_s));
  if (run.teacher_run_id) fmt::print("  teacher   from run {}\n", *run.teacher_run_id);
  if (!run.tags.empty()) {
    std::string tags;
    for (const auto& t : run.tags) tags += (tags.empty() ? "" : ", ") + terminalText(t);
    fmt::print("  tags      {}\n", tags);
  }
  std::istringstream notes(run.notes);  // lines kept, each shown safely for a terminal
  for (std::string line, label = "notes"; std::getline(notes, line); label.clear())
    fmt::print("  {:<9} {}\n", label, terminalText(line));
  fmt::print("final metrics:\n");
  for (const auto& [key, value] : run.final_metrics) fmt::print("  {:<22} {:.6g}\n", key, value);
  fmt::print("environment:\n");
  for (const auto& [key, value] : run.environment) fmt::print("  {:<22} {}\n", key, terminalText(value));
  if (!checkpoints.empty()) fmt::print("checkpoints:\n");
  for (const auto& c : checkpoints) fmt::print("  {:<8} step {:>6}  {}\n", c.role, c.step, c.path);
  fmt::print("config:\n");
  std::istringstream config(run.config_yaml);
  for (std::string line; std::getline(config, line);) fmt::print("  {}\n", terminalText(line));
  return kExitOk;
}

// ---- export ------------------------------------------------------------------------------

std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

ConfigError badOption(const std::string& option, const std::string& message) {
  return ConfigError(std::vector<ConfigIssue>{{option, message}});
}

// Options of the chart formats of `export` and of `report`.
struct ChartArgs {
  std::string x_axis = "step";
  double smoothing = 0.0;
  bool log_y = false;
  double width_in = 6.0, height_in = 3.6;
  int dpi = 300;
  std::string size_px;  // "WxH" for png
  std::string title;
};

std::vector<int64_t> parseRunIds(const std::vector<std::string>& texts) {
  std::vector<int64_t> ids;
  for (const auto& text : texts) ids.push_back(parseRunId(text));
  return ids;
}

int exportChart(const std::string& db, const std::vector<std::string>& run_texts, const std::string& format,
                const std::string& out_path, const std::vector<std::string>& metric_keys, const ChartArgs& chart) {
  if (!chartsAvailable()) {
    fmt::print(stderr,
               "error: --format {} needs the GUI build of distill (this one was built with DISTILL_BUILD_GUI=OFF, "
               "without Qt); --format csv and json, compare and report work here\n",
               format);
    return kExitBadInput;
  }
  if (metric_keys.size() != 1)
    throw ConfigError({{"--metric", "a " + format + " chart shows one metric: pass exactly one --metric KEY (e.g. --metric eval/agreement)"}});
  if (out_path.empty() || out_path == "-") throw ConfigError({{"--out", "a " + format + " chart needs --out FILE"}});
  if (chart.smoothing < 0.0 || chart.smoothing >= 1.0) throw badOption("--smoothing", "expected a weight in [0, 1)");
  RunStore store = openForReading(db);
  const Comparison comparison = loadComparison(store, parseRunIds(run_texts), metric_keys);
  XAxis x_axis;
  try {
    x_axis = xAxisFromName(chart.x_axis);
    checkXAxis(comparison, x_axis);
  } catch (const std::invalid_argument& e) {
    throw badOption("--x", e.what());
  }
  ChartRequest request = chartFor(comparison, metric_keys.front(), x_axis);
  request.format = format;
  request.smoothing = chart.smoothing;
  request.log_y = chart.log_y;
  request.width_in = chart.width_in;
  request.height_in = chart.height_in;
  request.dpi = chart.dpi;
  if (!chart.title.empty()) request.title = chart.title;
  if (!chart.size_px.empty()) {
    int w = 0, h = 0;
    char x = 0;
    std::istringstream in(chart.size_px);
    if (!(in >> w >> x >> h) || x != 'x' || w < 64 || h < 64 || w > 20000 || h > 20000)
      throw ConfigError({{"--size", "expected WIDTHxHEIGHT in pixels, e.g. 1800x1200, got '" + chart.size_px + "'"}});
    request.width_px = w, request.height_px = h;
  }
  if (request.dpi < 30 || request.dpi > 2400) throw badOption("--dpi", "expected 30..2400");
  writeChart(request, out_path);
  fmt::print(stderr, "wrote {} ({} run(s), {}, {})\n", out_path, comparison.runs.size(), metric_keys.front(), format);
  return kExitOk;
}

int exportCommand(const std::string& db, const std::vector<std::string>& run_texts, const std::string& format,
                  const std::string& out_path, const std::vector<std::string>& metric_keys, const ChartArgs& chart) {
  if (format == "png" || format == "pdf" || format == "svg")
    return exportChart(db, run_texts, format, out_path, metric_keys, chart);
  RunStore store = openForReading(db);
  std::vector<RunRecord> runs;
  for (const auto& text : run_texts) runs.push_back(requireRun(store, parseRunId(text)));
  auto selected = [&](int64_t run_id) {
    std::vector<MetricPoint> points;
    if (metric_keys.empty()) return store.metrics(run_id);
    for (const auto& key : metric_keys) {
      auto some = store.metrics(run_id, key);
      points.insert(points.end(), some.begin(), some.end());
    }
    return points;
  };

  std::string text;
  if (format == "csv") {
    text = "run,metric,step,epoch,wall_time,value\n";
    for (const auto& run : runs)
      for (const auto& p : selected(run.id))
        text += fmt::format("{},{},{},{},{},{}\n", run.id, csvField(p.key), p.step, p.epoch, p.wall_time, p.value);
  } else {
    nlohmann::json out = {{"runs", nlohmann::json::array()}};
    for (const auto& run : runs) {
      nlohmann::json entry = runJson(run, true);
      nlohmann::json metrics = nlohmann::json::object();
      for (const auto& p : selected(run.id)) {
        auto& series = metrics[p.key];
        series["step"].push_back(p.step);
        series["epoch"].push_back(p.epoch);
        series["wall_time"].push_back(p.wall_time);
        series["value"].push_back(p.value);
      }
      entry["metrics"] = metrics;
      out["runs"].push_back(entry);
    }
    text = jsonText(out, 1) + "\n";
  }
  if (out_path.empty() || out_path == "-") {
    fmt::print("{}", text);
    return kExitOk;
  }
  std::ofstream file(out_path, std::ios::binary);
  if (!file) throw ConfigError({{"--out", "cannot write '" + out_path + "'"}});
  file << text;
  file.close();
  if (!file) throw ConfigError({{"--out", "writing '" + out_path + "' failed (disk full?)"}});
  fmt::print(stderr, "wrote {} ({} run(s), {})\n", out_path, runs.size(), format);
  return kExitOk;
}

// ---- export-model ------------------------------------------------------------------------

// One sample's shape as the trainer records it in the environment ("[1, 28, 28]"); empty
// when the text is missing or malformed.
std::vector<int64_t> parseShape(const std::string& text) {
  std::vector<int64_t> shape;
  std::string digits;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits += c;
    } else if (!digits.empty()) {
      shape.push_back(std::stoll(digits));
      digits.clear();
    }
  }
  if (!digits.empty() || text.empty() || text.front() != '[' || text.back() != ']') return {};
  return shape;
}

struct ExportModelArgs {
  std::string run;
  std::string role = "student";
  std::string out;
  std::string format = "torchscript";  // torchscript | hf
  std::string dtype = "float32";       // hf: float32 | bfloat16 | float16
};

// `distill export-model RUN --format hf`: a language-model run's model as a Hugging Face folder
// with its tokenizer files (core/hf/hf_export.h).
int exportHfCommand(RunStore& store, const RunRecord& run, const ExportModelArgs& args,
                    const CheckpointRecord& checkpoint) {
  const std::string name = "run " + std::to_string(run.id);
  StoredLm stored = loadStoredLm(store, run.id, args.role);
  // The token ids transformers' generate() needs: the teacher's config.json as the run recorded
  // it, else the model's own.
  std::optional<HfConfig> source = stored.hf_config;
  if (const auto teacher = run.environment.find("teacher_hf_config"); teacher != run.environment.end())
    source = parseHfConfig(teacher->second, name + "'s environment (teacher_hf_config)");
  const torch::ScalarType dtype = args.dtype == "bfloat16" ? torch::kBFloat16
                                  : args.dtype == "float16" ? torch::kHalf
                                                            : torch::kFloat;
  const HfExportResult result = exportHfFolder(*stored.model, stored.tokenizer, source ? &*source : nullptr, args.out, dtype);
  std::string files;
  for (const auto& file : result.files) files += (files.empty() ? "" : ", ") + file;
  fmt::print(stderr, "wrote {} ({} of {}, epoch {}, step {}; {}; {}; {})\n", args.out, args.role, name, checkpoint.epoch,
             checkpoint.step, stored.model->summary(), args.dtype, files);
  if (!result.tokenizer_note.empty()) fmt::print(stderr, "note: {}\n", result.tokenizer_note);
  return kExitOk;
}

// `distill export-model RUN`: the run's stored teacher or student as a TorchScript file that
// Python loads with torch.jit.load (see core/models/torchscript_export.h), or with --format hf a
// Hugging Face folder (language models).
int exportModelCommand(const std::string& db, const ExportModelArgs& args) {
  const std::string& role = args.role;
  const std::string& out_path = args.out;
  RunStore store = openForReading(db);
  const RunRecord run = requireRun(store, parseRunId(args.run));
  const std::string name = "run " + std::to_string(run.id);
  const ExperimentConfig config = parseConfig(run.config_yaml, name);
  const std::string source = role == "teacher" ? config.teacher.source : config.student_source;
  if (args.format == "hf" && config.task != "lm")
    throw ConfigError({{"--format", "hf writes language models (config.json, model.safetensors); " + name + " is an " +
                                        config.task + " run: use --format torchscript"}});
  if (args.format != "hf" && args.dtype != "float32")
    throw ConfigError({{"--dtype", std::string("is for --format hf; TorchScript files are written in float32")}});

  std::optional<CheckpointRecord> checkpoint;
  for (const auto& c : store.checkpoints(run.id))
    if (c.role == role) checkpoint = c;
  if (!checkpoint) {
    std::string why = "it ended before the first " + role + " epoch did";
    if (role == "teacher" && source != "train")
      why = "the teacher was not trained in this run, it came from teacher.source '" + source + "'";
    throw ConfigError({{"RUN", name + " has no " + role + " checkpoint (" + why + ")"}});
  }
  if (args.format == "hf") return exportHfCommand(store, run, args, *checkpoint);
  if (config.task == "lm") {  // a GPT with its tokenizer (core/tasks/lm/torchscript_lm.h)
    const StoredLm stored = loadStoredLm(store, run.id, role);
    const auto* gpt = dynamic_cast<const GptImpl*>(stored.model.get());
    if (!gpt)
      throw ConfigError({{"RUN", name + "'s " + role + " is a " + stored.model->summary() +
                                     "; TorchScript export writes the task's GPT and GPT-2 only"}});
    exportTorchScript(*gpt, stored.tokenizer, out_path);
    fmt::print(stderr, "wrote {} ({} of {}, epoch {}, step {}; {}; {} tokens)\n", out_path, role, name,
               checkpoint->epoch, checkpoint->step, stored.model->summary(), stored.tokenizer.kind());
    return kExitOk;
  }
  // The input shape and class count the trainer recorded; runs stored before input_shape was
  // recorded read them from the dataset.
  auto environment = [&](const std::string& key) {
    const auto it = run.environment.find(key);
    return it == run.environment.end() ? std::string() : it->second;
  };
  std::vector<int64_t> input_shape = parseShape(environment("input_shape"));
  const std::string classes_text = environment("num_classes");
  int64_t num_classes = classes_text.empty() ? 0 : std::stoll(classes_text);
  if (input_shape.empty() || num_classes <= 0) {
    const DatasetSplits data = loadDataset(config.dataset);
    input_shape = data.input_shape;
    num_classes = data.num_classes;
  }

  // The same loading as the fidelity view's (its checkpoint checked to be this run's own).
  Model model = loadRunModel(store, run.id, role, input_shape, num_classes);
  model->eval();
  exportTorchScript(*model, out_path);
  fmt::print(stderr, "wrote {} ({} of {}, epoch {}, step {}; {})\n", out_path, role, name, checkpoint->epoch,
             checkpoint->step, model->summary());
  return kExitOk;
}

// ---- compare / report --------------------------------------------------------------------

int compareCommand(const std::string& db, const std::vector<std::string>& run_texts,
                   const std::vector<std::string>& metric_keys, bool all_params, bool json) {
  RunStore store = openForReading(db);
  const Comparison comparison = loadComparison(store, parseRunIds(run_texts), metric_keys);
  if (json)
    fmt::print("{}\n", jsonText(compareJson(comparison), 2));
  else
    fmt::print("{}", compareText(comparison, all_params));
  return kExitOk;
}

int reportCommand(const std::string& db, const std::vector<std::string>& run_texts,
                  const std::vector<std::string>& metric_keys, const std::string& out_path, const ChartArgs& chart) {
  if (chart.smoothing < 0.0 || chart.smoothing >= 1.0) throw badOption("--smoothing", "expected a weight in [0, 1)");
  ReportOptions options;
  try {
    options.x_axis = xAxisFromName(chart.x_axis);
  } catch (const std::invalid_argument& e) {
    throw badOption("--x", e.what());
  }
  options.smoothing = chart.smoothing;
  options.log_y = chart.log_y;
  RunStore store = openForReading(db);
  const Comparison comparison = loadComparison(store, parseRunIds(run_texts), metric_keys);
  try {
    checkXAxis(comparison, options.x_axis);
  } catch (const std::invalid_argument& e) {
    throw badOption("--x", e.what());
  }
  const std::string text = reportHtml(comparison, options);
  std::ofstream file(out_path, std::ios::binary);
  if (!file) throw ConfigError({{"--out", "cannot write '" + out_path + "'"}});
  file << text;
  file.close();
  if (!file) throw ConfigError({{"--out", "writing '" + out_path + "' failed (disk full?)"}});
  fmt::print(stderr, "wrote {} ({} run(s), {} metric(s){})\n", out_path, comparison.runs.size(),
             comparison.metric_keys.size(), chartsAvailable() ? "" : ", tables only: charts need the GUI build");
  return kExitOk;
}

// --markdown and --man print the key table that docs/config.md and the man page hold between
// their "config-keys" markers (tests/e2e/config_docs_test.cpp keeps them equal).
int configKeysCommand(bool markdown, bool man) {
  if (markdown) {
    fmt::print("{}", configKeysMarkdown());
    return kExitOk;
  }
  if (man) {
    fmt::print("{}", configKeysMan());
    return kExitOk;
  }
  const auto defaults = flatten(defaultConfig());
  for (const auto& key : configKeys()) fmt::print("{:<32} {}\n", key, defaults.at(key));
  return kExitOk;
}

int mainImpl(int argc, char** argv) {
  CLI::App app{"distill: knowledge-distillation runs from the command line (Distill Workbench)", "distill"};
  app.set_version_flag("-V,--version",
                       fmt::format("distill {} (LibTorch {}, SQLite {})", workbenchVersion(), torchVersion(), sqlite3_libversion()));
  app.require_subcommand(1);
  std::string db;
  app.add_option("--db", db, "run database (default: $DISTILL_WORKBENCH_DB or " + defaultDatabasePath() + ")")
      ->type_name("FILE");

  RunArgs run_args;
  auto* run = app.add_subcommand("run", "train a teacher, distil a student, store the run");
  run->add_option("config", run_args.config_path, "experiment file (YAML or JSON) or a preset's name (e.g. quick-smoke); default: the built-in Hinton setting")
      ->type_name("CONFIG");
  run->add_option("-s,--set", run_args.overrides, "override a config key, e.g. --set distill.temperature=2")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  run->add_option("-n,--name", run_args.name, "run name");
  run->add_option("--db", db, "run database")->type_name("FILE");
  run->add_flag("-q,--quiet", run_args.quiet, "print only the result line and errors");
  run->add_flag("--json", run_args.json, "print the result as JSON");
  run->add_flag("--print-config", run_args.print_config, "print the full validated config and exit");
  run->add_option("--nproc", run_args.dist.nproc,
                  "data-parallel: train with N processes on this machine (each its shard of every global batch; see "
                  "docs/distributed.md)")
      ->type_name("N")
      ->check(CLI::Range(1, 256));
  run->add_option("--dist-timeout", run_args.dist.timeout_s,
                  "data-parallel: seconds one collective may take before the run fails (default 30)")
      ->type_name("SECONDS");

  bool list_json = false;
  std::string list_filter;
  auto* list = app.add_subcommand("list", "list stored runs");
  list->add_flag("--json", list_json, "JSON output for scripts");
  list->add_option("-F,--filter", list_filter,
                   "only runs matching a query, e.g. \"agreement > 0.95 and distill.temperature = 4 and tag:baseline\"")
      ->type_name("QUERY");
  list->add_option("--db", db, "run database")->type_name("FILE");

  std::string show_run;
  bool show_json = false;
  auto* show = app.add_subcommand("show", "show one run: status, final metrics, environment, config");
  show->add_option("run", show_run, "run id")->required()->type_name("RUN");
  show->add_flag("--json", show_json, "JSON output for scripts");
  show->add_option("--db", db, "run database")->type_name("FILE");

  std::vector<std::string> export_runs, export_metrics;
  std::string export_format = "csv", export_out;
  ChartArgs chart_args;
  auto add_chart_options = [&](CLI::App* command) {
    command->add_option("--x", chart_args.x_axis,
                        "x axis: step, epoch, relative (seconds since start), wall, or tokens (tokens seen: "
                        "language-model runs)")
        ->check(CLI::IsMember({"step", "epoch", "relative", "wall", "tokens"}));
    command->add_option("--smoothing", chart_args.smoothing, "TensorBoard EMA weight in [0, 1) (raw curve drawn faint)")
        ->type_name("W");
    command->add_flag("--log-y", chart_args.log_y, "logarithmic y axis");
  };
  auto* exp = app.add_subcommand("export", "export metric points as CSV (long format) or JSON, or a chart as PNG, PDF or SVG");
  exp->add_option("runs", export_runs, "run ids")->required()->type_name("RUN...");
  exp->add_option("-f,--format", export_format, "csv, json, png, pdf or svg (charts: one --metric)")
      ->check(CLI::IsMember({"csv", "json", "png", "pdf", "svg"}));
  exp->add_option("-o,--out", export_out, "output file (default: standard output; charts need one)")->type_name("FILE");
  exp->add_option("-m,--metric", export_metrics, "only this metric key (repeatable)")->type_name("KEY");
  exp->add_option("--db", db, "run database")->type_name("FILE");
  add_chart_options(exp);
  exp->add_option("--width", chart_args.width_in, "chart width in inches (default 6)")->type_name("IN");
  exp->add_option("--height", chart_args.height_in, "chart height in inches (default 3.6)")->type_name("IN");
  exp->add_option("--dpi", chart_args.dpi, "png resolution (default 300)");
  exp->add_option("--size", chart_args.size_px, "png size in pixels, e.g. 1800x1200 (overrides --width/--height)")
      ->type_name("WxH");
  exp->add_option("--title", chart_args.title, "chart title (default: the metric's label)");

  std::vector<std::string> compare_runs, compare_metrics;
  bool compare_all = false, compare_json = false;
  auto* compare = app.add_subcommand("compare", "compare runs: config differences and final/best of every metric");
  compare->add_option("runs", compare_runs, "run ids (2 or more)")->required()->expected(2, 50)->type_name("RUN...");
  compare->add_option("-m,--metric", compare_metrics, "only this metric key (repeatable)")->type_name("KEY");
  compare->add_flag("-a,--all", compare_all, "every config key, not only those that differ");
  compare->add_flag("--json", compare_json, "JSON output for scripts");
  compare->add_option("--db", db, "run database")->type_name("FILE");

  std::vector<std::string> report_runs, report_metrics;
  std::string report_out;
  auto* report = app.add_subcommand("report", "write a comparison of runs as one self-contained HTML file");
  report->add_option("runs", report_runs, "run ids")->required()->expected(1, 50)->type_name("RUN...");
  report->add_option("-o,--out", report_out, "the HTML file")->required()->type_name("FILE");
  report->add_option("-m,--metric", report_metrics, "only this metric key (repeatable; default: every metric)")
      ->type_name("KEY");
  report->add_option("--db", db, "run database")->type_name("FILE");
  add_chart_options(report);

  std::string resume_run;
  bool resume_quiet = false, resume_json = false, resume_take_over = false;
  auto* resume = app.add_subcommand("resume", "continue an interrupted, stopped or failed run from its last epoch checkpoint");
  resume->add_option("run", resume_run, "run id")->required()->type_name("RUN");
  resume->add_flag("-q,--quiet", resume_quiet, "print only the result line and errors");
  resume->add_flag("--json", resume_json, "print the result as JSON");
  resume->add_flag("--take-over", resume_take_over,
                   "resume a run still marked running by a process this machine cannot see (another host, or an "
                   "older workbench without run locks); you assert that process is gone");
  resume->add_option("--db", db, "run database")->type_name("FILE");
  DistArgs resume_dist;
  resume->add_option("--nproc", resume_dist.nproc, "data-parallel: continue with N processes on this machine")
      ->type_name("N")
      ->check(CLI::Range(1, 256));
  resume->add_option("--dist-timeout", resume_dist.timeout_s,
                     "data-parallel: seconds one collective may take before the run fails (default 30)")
      ->type_name("SECONDS");

  ExportModelArgs export_model_args;
  auto* export_model = app.add_subcommand(
      "export-model", "write a run's trained student (or teacher) as TorchScript, or as a Hugging Face folder");
  export_model->add_option("run", export_model_args.run, "run id")->required()->type_name("RUN");
  export_model->add_option("--role", export_model_args.role, "which model: student (default) or teacher")
      ->check(CLI::IsMember({"student", "teacher"}));
  export_model
      ->add_option("-o,--out", export_model_args.out,
                   "the TorchScript file (torch.jit.load in Python), or with --format hf the folder "
                   "(from_pretrained in transformers)")
      ->required()
      ->type_name("FILE.pt|DIR");
  export_model
      ->add_option("-f,--format", export_model_args.format,
                   "torchscript (default) or hf: config.json, model.safetensors and the tokenizer files (language "
                   "models)")
      ->check(CLI::IsMember({"torchscript", "hf"}));
  export_model->add_option("--dtype", export_model_args.dtype, "hf: float32 (default), bfloat16 or float16")
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
  export_model->add_option("--db", db, "run database")->type_name("FILE");

  GenerateArgs generate_args;
  auto* generate = addGenerateCommand(app, generate_args, db);

  SamplesArgs samples_args;
  auto* samples = addSamplesCommand(app, samples_args, db);

  TokenizeArgs tokenize_args;
  auto* tokenize = addTokenizeCommand(app, tokenize_args);

  FidelityCommands fidelity_commands(app, db);  // fidelity, mirror
  SweepCommands sweep_commands(app, db);        // sweep plan|run|status|import|cancel|task, import

  auto* config_keys = app.add_subcommand("config-keys", "list every config key with its default");
  bool config_keys_markdown = false;
  bool config_keys_man = false;
  config_keys->add_flag("--markdown", config_keys_markdown, "the key table of docs/config.md (key, default, meaning)");
  config_keys->add_flag("--man", config_keys_man, "the CONFIG KEYS section of the man page, in roff");
  BenchArgs bench_args;
  auto* bench = addBenchCommand(app, bench_args);

  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) known = known || sub->get_name() == argv[1];
    if (!known) {
      fmt::print(stderr, "error: unknown command '{}' (expected run, resume, list, show, export, export-model, generate, samples, tokenize, compare, report, fidelity, mirror, sweep, import, bench or config-keys; see --help)\n", argv[1]);
      return kExitBadInput;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }

  try {
    if (*run && shouldLaunch(run_args.dist) && !run_args.print_config) return launchRanks(argc, argv, run_args.dist);
    if (*resume && shouldLaunch(resume_dist)) return launchRanks(argc, argv, resume_dist);
    if (*run) return runCommand(run_args, db);
    if (*resume) return resumeCommand(resume_run, db, resume_quiet, resume_json, resume_take_over, resume_dist);
    if (*list) return listCommand(db, list_json, list_filter);
    if (*show) return showCommand(db, show_run, show_json);
    if (*exp) return exportCommand(db, export_runs, export_format, export_out, export_metrics, chart_args);
    if (*compare) return compareCommand(db, compare_runs, compare_metrics, compare_all, compare_json);
    if (*report) return reportCommand(db, report_runs, report_metrics, report_out, chart_args);
    if (*export_model) return exportModelCommand(db, export_model_args);
    if (*generate) return generateCommand(generate_args, db);
    if (*samples) return samplesCommand(samples_args, db);
    if (*tokenize) return tokenizeCommand(tokenize_args);
    if (*bench) return benchCommand(bench_args);
    if (fidelity_commands.parsed()) return fidelity_commands.execute(db);
    if (sweep_commands.parsed()) return sweep_commands.execute(db);
    return configKeysCommand(config_keys_markdown, config_keys_man);
  } catch (const ConfigError& e) {
    for (const auto& issue : e.issues()) fmt::print(stderr, "error: {}\n", issue.toString());
    return kExitBadInput;
  } catch (const DataError& e) {
    fmt::print(stderr, "error: dataset: {}\n", e.what());
    return kExitBadInput;
  } catch (const ModelError& e) {
    fmt::print(stderr, "error: model: {}\n", e.what());
    return kExitBadInput;
  } catch (const StoreError& e) {
    fmt::print(stderr, "error: database: {}\n", e.what());
    return kExitBadInput;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitRunFailed;
  }
}

}  // namespace
}  // namespace distill::cli

int main(int argc, char** argv) {
  distill::configureAllocator();  // before any thread: see core/runtime/allocator.h
  return distill::cli::mainImpl(argc, argv);
}
