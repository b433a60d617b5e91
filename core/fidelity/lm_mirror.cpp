#include "core/fidelity/lm_mirror.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>

#include "core/errors.h"
#include "core/fidelity/mirror.h"
#include "core/fidelity/mirror_support.h"
#include "core/fidelity/run_models.h"
#include "core/hf/hf_source.h"
#include "core/hf/hf_weights.h"
#include "core/models/factory.h"
#include "core/runtime/runtime.h"
#include "core/store/run_store.h"
#include "core/tasks/teacher_source.h"
#include "core/tasks/lm/causal_lm.h"
#include "core/tasks/lm/generate.h"
#include "core/tasks/lm/lm_task.h"
#include "core/tasks/lm/stored_model.h"
#include "core/train/trainer.h"

namespace distill {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A language model of the test: its weights kept alive, read through CausalLmImpl.
struct LmModel {
  std::string description;
  Model owner;                 // holds the weights
  CausalLmImpl* model = nullptr;
};

std::string percent(double fraction) { return fmt::format("{:.1f}%", 100.0 * fraction); }

CausalLmImpl& asCausalLm(const Model& model, const std::string& what) {
  auto* lm = dynamic_cast<CausalLmImpl*>(model.get());
  if (!lm) throw ModelError(what + " is no decoder language model (" + model->summary() + ")");
  return *lm;
}

// A probe set: windows of T tokens (int64 [N, T]) and, for text access, where A's completion begins.
struct ProbeSet {
  std::string name, description;
  torch::Tensor windows;
};

// The per-sequence values of one model against A on one probe set.
struct RowStats {
  std::vector<double> match, kl, overlap, cross_entropy;
};

double mean(const std::vector<double>& values) { return meanStd(values).mean; }

// Windows of `tokens` tokens from `texts`: `count` evenly spaced (packBlocks' limit).
torch::Tensor evenWindows(const std::vector<std::string>& texts, const Tokenizer& tokenizer, int64_t tokens,
                          int64_t count, const std::string& what) {
  const TokenBlocks blocks = packBlocks(texts, tokenizer, tokens, count, what);
  return blocks.inputs.contiguous();
}

// `count` windows of `tokens` tokens at random offsets of the texts' token stream.
torch::Tensor randomWindows(const std::vector<std::string>& texts, const Tokenizer& tokenizer, int64_t tokens,
                            int64_t count, at::Generator& generator, const std::string& what) {
  // The stream again from consecutive blocks (packed at a stride of `tokens`, each block's
  // inputs are the stream's next `tokens` tokens).
  const auto stream = packBlocks(texts, tokenizer, tokens, 0, what).inputs.reshape({-1});
  const int64_t span = stream.size(0) - tokens;
  if (span <= 0) return stream.slice(0, 0, tokens).unsqueeze(0).repeat({count, 1});
  const auto offsets = torch::randint(0, span + 1, {count}, generator, torch::kInt64);
  const auto steps = torch::arange(tokens, torch::kInt64);
  return stream.index_select(0, (offsets.unsqueeze(1) + steps.unsqueeze(0)).reshape({-1})).reshape({count, tokens});
}

// Each row's tokens in a random order of its own.
torch::Tensor shuffleRows(const torch::Tensor& windows, at::Generator& generator) {
  const auto keys = torch::rand(windows.sizes(), generator, torch::kFloat32);
  return windows.gather(1, keys.argsort(/*dim=*/1, /*descending=*/false));
}

torch::Tensor logProbabilities(CausalLmImpl& model, const torch::Tensor& tokens) {
  torch::NoGradGuard no_grad;
  return torch::log_softmax(model.forward(tokens).to(torch::kFloat32), -1);
}

class LmMirrorRun : public MirrorSession {
 public:
  explicit LmMirrorRun(const LmMirrorOptions& options) : MirrorSession(options.progress, options.stop, options.database_path) {}

  // A stored language model (RUN, RUN:teacher, RUN:student).
  LmModel load(const std::string& text, const std::string& field, Tokenizer* tokenizer) {
    const ModelSpec spec = parseModelSpec(text, field);
    if (!spec.isRun())
      throw ConfigError({{field, "'" + text + "': the language-model mirror test takes runs (RUN, RUN:teacher, "
                                 "RUN:student), not files"}});
    StoredLm stored = loadStoredLm(store(field), spec.run_id, spec.role);
    if (tokenizer) *tokenizer = stored.tokenizer;
    LmModel result;
    result.owner = std::dynamic_pointer_cast<ModelImpl>(stored.model.ptr());
    result.model = &asCausalLm(result.owner, text);
    result.description = fmt::format("run {} {} ({})", spec.run_id, spec.role, result.owner->summary());
    return result;
  }
};

bool sameTokenizer(const Tokenizer& a, const Tokenizer& b) {
  return a.kind() == b.kind() && a.vocabSize() == b.vocabSize() && a.alphabet() == b.alphabet();
}

std::string tokenizerText(const Tokenizer& t) { return fmt::format("{} ({} tokens)", t.kind(), t.vocabSize()); }

// A reference: B's architecture trained with plain cross-entropy on the corpus of `config`, in
// a scratch folder, back in eval mode. As a student (B was one): the student phase of B's run
// with distillation off (alpha 0), the teacher loaded from `teacher_weights` and never used by
// the loss; else (B was a run's teacher) the teacher phase alone.
LmModel trainReference(const ExperimentConfig& config, bool as_student, const std::string& teacher_weights,
                       const LmMirrorRun& run) {
  ScratchFolder scratch;
  LmTask task(config);
  TrainerOptions trainer_options;
  trainer_options.artifacts_dir = scratch.path().string();
  trainer_options.teacher_only = !as_student;
  trainer_options.teacher_weights = as_student ? teacher_weights : std::string();
  RunControl control;
  StopRelay relay(run.stopFlag(), control);
  RunResult result;
  {
    Trainer trainer(config, task, trainer_options, relay, control);
    result = trainer.run();
  }
  const std::string name = "reference model (seed " + std::to_string(config.seed) + ")";
  if (result.outcome == RunOutcome::Stopped) throw MirrorStopped();
  if (result.outcome == RunOutcome::Failed) {
    if (result.error.rfind("diverged", 0) == 0) throw ModelError(name + " " + result.error + "; lower train.lr");
    throw ModelError(name + " could not be trained: " + result.error);
  }
  LmModel reference;
  reference.owner = as_student ? task.buildStudent(config) : task.buildTeacher(config);
  reference.owner->loadCheckpoint((scratch.path() / (as_student ? "student.pt" : "teacher.pt")).string());
  reference.owner->to(torch::kCPU);
  reference.owner->eval();
  reference.model = &asCausalLm(reference.owner, name);
  reference.description = reference.owner->summary();
  return reference;
}

// `model`'s architecture with fresh weights (transformers' initialisation, from `seed`), written
// as a Hugging Face folder: where a reference for a B that no config key builds starts.
void writeFreshHfCopy(const ModelImpl& model, uint64_t seed, const std::string& folder) {
  const HfConfig config = hfConfigOf(model);
  torch::manual_seed(seed);  // the trainer seeds itself again from the reference's config
  const Model fresh = buildHfModel(config);
  saveHfModel(*fresh, folder);
}

// Scores `models` against A on one probe set's sequences. Text access: `sequences` are
// [prompt | A's completion] and positions from `first_scored` on are scored against the
// sequence's next token; else every position's distribution is compared with A's.
void scoreProbe(CausalLmImpl& a, const std::vector<CausalLmImpl*>& models, const torch::Tensor& sequences,
                int64_t first_scored, const std::string& access, int64_t k, std::vector<RowStats>& stats,
                std::vector<std::vector<double>>& pair_match, const LmMirrorRun& run) {
  const int64_t n = sequences.size(0), t = sequences.size(1);
  const int64_t vocab = a.vocabSize();
  const int64_t chunk = std::max<int64_t>(1, 4'000'000 / std::max<int64_t>(1, t * vocab));
  stats.assign(models.size(), {});
  pair_match.assign(models.size(), std::vector<double>(models.size(), 0.0));
  const bool text = access == "text";
  const int64_t kk = std::min<int64_t>(k, vocab);
  for (int64_t begin = 0; begin < n; begin += chunk) {
    run.checkStop();
    const auto x = sequences.slice(0, begin, std::min(n, begin + chunk));
    torch::Tensor a_log, a_top_values, a_top_ids, a_greedy, targets;
    if (text) {
      // A's own tokens are what it said: the next token of the sequence.
      targets = x.slice(1, first_scored + 1, t);  // [c, t - first_scored - 1]
    } else {
      a_log = logProbabilities(a, x);                   // [c, t, V]
      std::tie(a_top_values, a_top_ids) = a_log.topk(kk, -1);  // sorted, largest first
      a_greedy = a_top_ids.select(-1, 0);
    }
    std::vector<torch::Tensor> greedy(models.size());
    for (size_t m = 0; m < models.size(); ++m) {
      auto log_m = logProbabilities(*models[m], x);  // [c, t, V]
      if (text) {
        const auto scored = log_m.slice(1, first_scored, t - 1);  // predicts targets
        greedy[m] = scored.argmax(-1);
        const auto match = (greedy[m] == targets).to(torch::kFloat64).mean(1);
        const auto ce = -scored.gather(-1, targets.unsqueeze(-1)).squeeze(-1).to(torch::kFloat64).mean(1);
        for (int64_t i = 0; i < x.size(0); ++i) {
          stats[m].match.push_back(match[i].item<double>());
          stats[m].cross_entropy.push_back(ce[i].item<double>());
          stats[m].kl.push_back(kNaN);
          stats[m].overlap.push_back(kNaN);
        }
        continue;
      }
      greedy[m] = log_m.argmax(-1);
      const auto match = (greedy[m] == a_greedy).to(torch::kFloat64).mean(1);
      torch::Tensor kl;
      if (access == "logits") {
        kl = (a_log.exp() * (a_log - log_m)).sum(-1);
      } else {
        // topk: A's k log-probabilities and one bucket for the rest of its mass, against B's
        // probabilities of the same tokens and of the rest (a lower bound on the full KL).
        const auto p_top = a_top_values.exp();
        const auto m_top = log_m.gather(-1, a_top_ids);
        const auto a_tail = (1.0 - p_top.sum(-1)).clamp_min(0.0);
        const auto m_tail = (1.0 - m_top.exp().sum(-1)).clamp_min(1e-12);
        const auto tail = torch::where(a_tail > 1e-12, a_tail * (a_tail.clamp_min(1e-12).log() - m_tail.log()),
                                       torch::zeros_like(a_tail));
        kl = (p_top * (a_top_values - m_top)).sum(-1) + tail;
      }
      const auto m_top_ids = std::get<1>(log_m.topk(kk, -1));
      // |top-k of A and of M in common| / k: each of A's k ids found among M's.
      const auto common = (a_top_ids.unsqueeze(-1) == m_top_ids.unsqueeze(-2)).any(-1).sum(-1);
      const auto overlap = common.to(torch::kFloat64).mean(1) / static_cast<double>(kk);
      const auto kl_rows = kl.to(torch::kFloat64).mean(1);
      for (int64_t i = 0; i < x.size(0); ++i) {
        stats[m].match.push_back(match[i].item<double>());
        stats[m].kl.push_back(kl_rows[i].item<double>());
        stats[m].overlap.push_back(overlap[i].item<double>());
        stats[m].cross_entropy.push_back(kNaN);
      }
    }
    // The models among themselves (greedy match at the scored positions), summed per chunk.
    for (size_t i = 0; i < models.size(); ++i)
      for (size_t j = i + 1; j < models.size(); ++j)
        pair_match[i][j] += (greedy[i] == greedy[j]).to(torch::kFloat64).sum().item<double>();
  }
  const double scored = static_cast<double>(n) * static_cast<double>(text ? t - 1 - first_scored : t);
  for (auto& row : pair_match)
    for (double& value : row) value /= std::max(1.0, scored);
}

// Next-token cross-entropy of `model` on the windows (nats per token).
double windowCrossEntropy(CausalLmImpl& model, const torch::Tensor& windows) {
  double sum = 0.0;
  int64_t count = 0;
  const int64_t t = windows.size(1);
  const int64_t chunk = std::max<int64_t>(1, 4'000'000 / std::max<int64_t>(1, t * model.vocabSize()));
  for (int64_t begin = 0; begin < windows.size(0); begin += chunk) {
    const auto x = windows.slice(0, begin, std::min(windows.size(0), begin + chunk));
    const auto log_p = logProbabilities(model, x).slice(1, 0, t - 1);
    const auto targets = x.slice(1, 1, t).unsqueeze(-1);
    sum += -log_p.gather(-1, targets).to(torch::kFloat64).sum().item<double>();
    count += targets.numel();
  }
  return count > 0 ? sum / static_cast<double>(count) : kNaN;
}

void validate(const LmMirrorOptions& options) {
  std::vector<ConfigIssue> issues;
  if (options.access != "logits" && options.access != "topk" && options.access != "text")
    issues.push_back({"--access", "expected logits, topk or text, got '" + options.access + "'"});
  if (options.top_k < 1) issues.push_back({"--top-k", "expected at least 1, got " + std::to_string(options.top_k)});
  if (options.reference_models.empty() && options.references < 2)
    issues.push_back({"--references", "expected at least 2 reference models, got " + std::to_string(options.references)});
  if (options.reference_models.size() == 1)
    issues.push_back({"--reference-runs", "expected at least 2 stored reference models, got 1"});
  if (options.reference_epochs < 0)
    issues.push_back({"--reference-epochs", "expected 0 (as many as B's run trained B) or more, got " +
                                                std::to_string(options.reference_epochs)});
  if (options.reference_train_blocks < 0)
    issues.push_back({"--reference-samples", "expected 0 (as B's run) or a positive number of training blocks, got " +
                                                 std::to_string(options.reference_train_blocks)});
  // The exact test's smallest p over N windows is 2^-N; doubled for the two statistics and
  // multiplied by the four probe sets under Holm, the smallest corrected p is 8 / 2^N: below 8
  // windows no pair could ever be found to mirror at 0.05.
  if (options.sequences < 8)
    issues.push_back({"--sequences", "expected at least 8 sequences per probe set (with fewer, no corrected p over four "
                                     "probe sets can reach 0.05: the smallest is 8 / 2^N), got " +
                                         std::to_string(options.sequences)});
  if (options.tokens != 0 && options.tokens < 4)
    issues.push_back({"--tokens", "expected 0 (the models' context) or at least 4, got " + std::to_string(options.tokens)});
  if (!(options.alpha > 0.0 && options.alpha < 1.0))
    issues.push_back({"--alpha", "expected a level in (0, 1), got " + fmt::format("{}", options.alpha)});
  if (!issues.empty()) throw ConfigError(issues);
}

}  // namespace

bool namesLanguageModelRun(const std::string& model, const std::string& database_path, const std::string& field) {
  const ModelSpec spec = parseModelSpec(model, field);
  if (!spec.isRun()) return false;
  if (database_path.empty()) throw ConfigError({ConfigIssue{field, "a run was named but no database was given (--db)"}});
  RunStore store(database_path, RunStore::Mode::ReadOnly);
  return storedRunConfig(store, spec.run_id).task == "lm";
}

LmMirrorReport runLmMirrorTest(const std::string& model_a, const std::string& model_b, const LmMirrorOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  if (trainingInProcess())
    throw ConfigError({{"mirror", std::string("a run is training in this process; run the mirror test when it has "
                                              "finished (or from the command line: distill mirror A B)")}});
  validate(options);
  LmMirrorRun run(options);

  // A and B, and B's run: its corpus, its architecture and its recipe make the references.
  for (const auto& [text, field] : {std::pair{model_a, "A"}, std::pair{model_b, "B"}}) {
    const ModelSpec spec = parseModelSpec(text, field);
    if (!spec.isRun())
      throw ConfigError({{field, "'" + text + "': the language-model mirror test takes runs (RUN, RUN:teacher, "
                                 "RUN:student), not files"}});
    const ExperimentConfig config = storedRunConfig(run.store(field), spec.run_id);
    if (config.task != "lm")
      throw ConfigError({{field, "run " + std::to_string(spec.run_id) + " is an " + config.task +
                                     " run and the other model a language model; the mirror test compares models of "
                                     "one task"}});
  }
  const ModelSpec spec_b = parseModelSpec(model_b, "B");
  const ExperimentConfig config_b = storedRunConfig(run.store("B"), spec_b.run_id);
  applyThreadSettings(config_b.threads, config_b.gemm);

  LmMirrorReport report;
  report.alpha = options.alpha;
  Tokenizer tokenizer, tokenizer_b;
  run.say("loading A: " + model_a);
  LmModel a = run.load(model_a, "A", &tokenizer);
  run.say("loading B: " + model_b);
  LmModel b = run.load(model_b, "B", &tokenizer_b);
  report.model_a = a.description;
  report.model_b = b.description;
  if (!sameTokenizer(tokenizer, tokenizer_b))
    throw ConfigError({{"B", "A reads " + tokenizerText(tokenizer) + " tokens and B " + tokenizerText(tokenizer_b) +
                                 "; the language-model mirror test compares the two token by token and needs one "
                                 "tokenizer"}});
  const int64_t context = std::min(a.model->contextLength(), b.model->contextLength());
  const int64_t tokens = options.tokens > 0 ? options.tokens : std::min<int64_t>(context, 128);
  if (tokens > context)
    throw ConfigError({{"--tokens", fmt::format("{} tokens per window; the models' context is {}", tokens, context)}});
  report.tokens = tokens;
  report.access = options.access == "topk" ? fmt::format("topk (A's top {} log-probabilities)", options.top_k)
                  : options.access == "text" ? std::string("text (A's greedy completions only)")
                                             : std::string("logits (A's full distributions)");

  // References: stored ones, or trained here with B's architecture and B's run's recipe.
  std::vector<LmModel> references;
  const std::string corpus = config_b.lm.corpus.empty() ? std::string(kFortunesFolder) : config_b.lm.corpus;
  report.corpus = corpus;
  if (!options.reference_models.empty()) {
    for (size_t k = 0; k < options.reference_models.size(); ++k) {
      run.checkStop();
      const std::string& name = options.reference_models[k];
      if (name == model_a || name == model_b)
        throw ConfigError({{"--reference-runs", "'" + name + "' is A or B itself, not an independent model"}});
      run.say(fmt::format("loading reference model {}/{}: {}", k + 1, options.reference_models.size(), name));
      Tokenizer reference_tokenizer;
      references.push_back(run.load(name, "--reference-runs", &reference_tokenizer));
      if (!sameTokenizer(tokenizer, reference_tokenizer))
        throw ConfigError({{"--reference-runs", "'" + name + "' reads " + tokenizerText(reference_tokenizer) +
                                                    " tokens, A and B " + tokenizerText(tokenizer)}});
    }
    report.reference_description =
        fmt::format("{} stored models ({}): {}", references.size(), fmt::join(options.reference_models, ", "),
                    references.front().description);
  } else {
    const bool b_teacher = spec_b.role == "teacher";
    const std::string source = b_teacher ? config_b.teacher.source : config_b.student_source;
    if (isTorchScriptSource(source))
      throw ConfigError({{"B", "B is a TorchScript module (" + source + "), which the references cannot be trained as; "
                               "name stored reference runs instead (--reference-runs)"}});
    // B's weights came from a Hugging Face folder or from its teacher's blocks: no config key
    // builds its architecture, and starting from those weights would not be independent of A.
    // Its references are B's architecture from fresh weights (transformers' initialisation),
    // written as a Hugging Face folder that each reference's student phase starts from.
    const bool hf_shaped = isHfSource(source) || isTeacherBlocksSource(source);
    const bool reference_students = !b_teacher || hf_shaped;
    ExperimentConfig reference = config_b;
    const int64_t run_epochs = reference_students ? config_b.train.epochs : config_b.teacher.epochs;
    const int64_t epochs = options.reference_epochs > 0 ? options.reference_epochs : run_epochs;
    reference.name = "mirror reference";
    reference.device = "cpu";
    std::string teacher_weights;
    if (!reference_students) {
      // The teacher phase alone, B's architecture as the teacher.
      reference.teacher.source = "train";
      reference.teacher.epochs = epochs;
      reference.student = config_b.teacher.model;  // built by the trainer, never trained (teacher_only)
      reference.student_source = "init";
    } else {
      // B's student phase with distillation off: the same loop, steps and schedule as B had
      // (a teacher phase trained its models differently: in tests/core/fidelity/lm_mirror_test.cpp
      // students trained alone came out systematically closer to the teacher than teacher-phase
      // references, enough for a false "mirrors"). The teacher is B's run's, loaded, unused.
      reference.train.epochs = epochs;
      reference.distill.method = "kd";
      reference.distill.alpha = 0.0;
      if (isHfSource(config_b.teacher.source)) {
        teacher_weights = hfSourceFolder(config_b.teacher.source);  // read from its folder again, as B's run did
      } else if (!isTorchScriptSource(config_b.teacher.source)) {
        teacher_weights = run.store("B").checkpointFile(spec_b.run_id, "teacher");
        if (teacher_weights.empty()) teacher_weights = resolveTeacherSource(reference, run.store("B")).weights_path;
        if (teacher_weights.empty())
          throw ConfigError({ConfigIssue{"B", "run " + std::to_string(spec_b.run_id) +
                                                  " has no teacher checkpoint to train the references beside; name "
                                                  "stored reference runs instead (--reference-runs)"}});
        reference.teacher.source = "run:" + std::to_string(spec_b.run_id);
      }
    }
    reference.train.eval_every = 0;
    reference.train.autocast = "off";
    reference.generation.eval_prompts = 0;  // no samples: the trainer evaluates the loss only
    reference.generation.sequence_kd = false;
    reference.generation.on_policy = 0.0;
    reference.distill.teacher_cache = "off";
    // The epoch-end evaluation on a few validation blocks only: the probes measure them afterwards.
    reference.dataset.limit_test = 16;
    if (options.reference_train_blocks > 0) reference.dataset.limit_train = options.reference_train_blocks;
    ScratchFolder fresh_weights;
    for (int k = 0; k < options.references; ++k) {
      run.checkStop();
      reference.seed = options.seed + 1000 + static_cast<uint64_t>(k);
      if (hf_shaped) {
        const std::string folder = (fresh_weights.path() / ("reference-" + std::to_string(k))).string();
        writeFreshHfCopy(*b.owner, reference.seed, folder);
        reference.student_source = "hf:" + folder;
      }
      run.say(fmt::format("training reference model {}/{} (seed {})", k + 1, options.references, reference.seed));
      references.push_back(trainReference(reference, reference_students, teacher_weights, run));
    }
    report.reference_description = fmt::format(
        "{} x {} (B's architecture{}), trained from seeds {}..{} on {} ({} training blocks) for {} epoch(s) with "
        "B's run's recipe, cross-entropy only",
        options.references, references.front().description, hf_shaped ? ", from fresh weights" : "", options.seed + 1000,
        options.seed + 1000 + static_cast<uint64_t>(options.references - 1),
        corpus, reference.dataset.limit_train > 0 ? std::to_string(reference.dataset.limit_train) : "all", epochs);
  }
  report.references = static_cast<int>(references.size());

  // The probe sets.
  run.say("reading the corpus " + corpus);
  const Documents documents = readDocuments(corpus, {config_b.lm.text_field, config_b.lm.prompt_field,
                                                     config_b.lm.response_field});
  std::vector<std::string> train_texts, validation_texts;
  splitDocuments(documents, train_texts, validation_texts);
  if (validation_texts.empty())
    throw DataError(corpus + ": " + std::to_string(documents.texts.size()) +
                    " document(s); at least 10 are needed for a validation probe");
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed + 17);
  std::vector<ProbeSet> probes;
  const auto validation = evenWindows(validation_texts, tokenizer, tokens, options.sequences,
                                      corpus + " (validation documents)");
  probes.push_back({"validation",
                    fmt::format("{} windows of {} tokens, evenly spaced over the held-out documents",
                                validation.size(0), tokens),
                    validation});
  probes.push_back({"corpus-prompts",
                    fmt::format("{} windows of {} tokens at random offsets of the training documents", options.sequences,
                                tokens),
                    randomWindows(train_texts, tokenizer, tokens, options.sequences, generator,
                                  corpus + " (training documents)")});
  probes.push_back({"shuffled",
                    fmt::format("the {} validation windows, each one's tokens in a random order", validation.size(0)),
                    shuffleRows(validation, generator)});
  {
    std::string second = options.second_corpus;
    std::error_code ec;
    if (second.empty() && std::filesystem::exists(kSecondCorpusFolder, ec)) second = kSecondCorpusFolder;
    if (second.empty()) {
      report.notes.push_back(std::string("second-corpus probe skipped: ") + kSecondCorpusFolder +
                             " not found (install Debian's fortunes-de, or give --second-corpus PATH)");
    } else {
      try {
        const Documents other = readDocuments(second);
        const auto windows = evenWindows(other.texts, tokenizer, tokens, options.sequences, second);
        probes.push_back({"second-corpus",
                          fmt::format("{} windows of {} tokens, evenly spaced over {}", windows.size(0), tokens, second),
                          windows});
      } catch (const DataError& e) {
        report.notes.push_back(std::string("second-corpus probe skipped: ") + e.what());
      }
    }
  }
  for (const auto& probe : probes)
    if (probe.windows.size(0) < options.sequences)
      report.notes.push_back(fmt::format("the {} probe has {} windows of {} tokens, fewer than the {} asked for",
                                         probe.name, probe.windows.size(0), tokens, options.sequences));

  // How strong each model is on the validation windows' text.
  std::vector<double> reference_ce;
  report.a_validation_ce = windowCrossEntropy(*a.model, validation);
  report.b_validation_ce = windowCrossEntropy(*b.model, validation);
  for (auto& reference : references) reference_ce.push_back(windowCrossEntropy(*reference.model, validation));
  const auto ce = meanStd(reference_ce);
  report.reference_validation_ce_mean = ce.mean;
  report.reference_validation_ce_std = ce.std;
  if (ce.mean > report.b_validation_ce + 0.05)
    report.notes.push_back(fmt::format(
        "the references are weaker than B (validation cross-entropy {:.3f} against {:.3f} nats per token), so they "
        "agree less with anything: a low bar; train them longer (--reference-epochs) or on more blocks "
        "(--reference-samples)",
        ce.mean, report.b_validation_ce));

  std::vector<CausalLmImpl*> models{b.model};
  for (auto& reference : references) models.push_back(reference.model);
  const int64_t prompt_tokens = std::max<int64_t>(1, tokens / 2);
  for (const auto& probe : probes) {
    run.checkStop();
    run.say("probing " + probe.name);
    torch::Tensor sequences = probe.windows;
    int64_t first_scored = 0;
    if (options.access == "text") {
      // A's text: its greedy completion of each window's first half.
      SamplingOptions greedy;
      greedy.temperature = 0.0;
      greedy.max_tokens = tokens - prompt_tokens;
      auto text_generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
      const auto prompts = probe.windows.slice(1, 0, prompt_tokens).contiguous();
      torch::NoGradGuard no_grad;
      sequences = torch::cat({prompts, generateBatch(*a.model, context, prompts, greedy, text_generator)}, 1);
      first_scored = prompt_tokens - 1;
    }
    std::vector<RowStats> stats;
    std::vector<std::vector<double>> pairs;
    scoreProbe(*a.model, models, sequences, first_scored, options.access, options.top_k, stats, pairs, run);

    LmMirrorProbe result;
    result.name = probe.name;
    result.description = probe.description;
    result.sequences = sequences.size(0);
    result.positions = sequences.size(0) * (options.access == "text" ? sequences.size(1) - 1 - first_scored : sequences.size(1));
    result.match = mean(stats[0].match);
    result.kl = mean(stats[0].kl);
    result.overlap = mean(stats[0].overlap);
    result.cross_entropy = mean(stats[0].cross_entropy);
    std::vector<double> match, kl, overlap, cross_entropy, pair;
    // B against each reference R, per sequence: B's match rate minus R's, and B's top-k overlap
    // minus R's (text access: R's cross-entropy of A's text minus B's); positive where B is the closer.
    const bool text = options.access == "text";
    double p_match = 0.0, p_distance = 0.0;
    for (size_t m = 1; m < stats.size(); ++m) {
      match.push_back(mean(stats[m].match));
      kl.push_back(mean(stats[m].kl));
      overlap.push_back(mean(stats[m].overlap));
      cross_entropy.push_back(mean(stats[m].cross_entropy));
      std::vector<double> match_gain, distance_gain;
      for (size_t i = 0; i < stats[0].match.size(); ++i) {
        match_gain.push_back(stats[0].match[i] - stats[m].match[i]);
        distance_gain.push_back(text ? stats[m].cross_entropy[i] - stats[0].cross_entropy[i]
                                     : stats[0].overlap[i] - stats[m].overlap[i]);
      }
      p_match = std::max(p_match, signedRankPValue(match_gain));
      p_distance = std::max(p_distance, signedRankPValue(distance_gain));
      for (size_t j = m + 1; j < stats.size(); ++j) pair.push_back(pairs[m][j]);
    }
    const auto mm = meanStd(match), kk = meanStd(kl), pp = meanStd(pair);
    result.reference_match_mean = mm.mean;
    result.reference_match_std = mm.std;
    result.reference_match_max = *std::max_element(match.begin(), match.end());
    result.reference_kl_mean = kk.mean;
    result.reference_kl_std = kk.std;
    result.reference_kl_min = *std::min_element(kl.begin(), kl.end());
    result.reference_overlap_mean = mean(overlap);
    result.reference_cross_entropy_mean = mean(cross_entropy);
    result.reference_cross_entropy_min = *std::min_element(cross_entropy.begin(), cross_entropy.end());
    result.reference_pair_match_mean = pp.mean;
    result.reference_pair_match_std = pp.std;
    result.p_match = p_match;
    result.p_distance = p_distance;
    result.p_value = std::min(1.0, 2.0 * std::min(p_match, p_distance));  // Bonferroni over the two statistics
    report.probes.push_back(result);
  }

  // Holm over the probe sets, then the verdict.
  std::vector<double> raw;
  for (const auto& p : report.probes) raw.push_back(p.p_value);
  const auto adjusted = holmAdjusted(raw);
  const LmMirrorProbe* strongest = nullptr;
  int closer = 0;
  for (size_t i = 0; i < report.probes.size(); ++i) {
    auto& p = report.probes[i];
    p.p_adjusted = adjusted[i];
    p.closer_than_references = p.p_adjusted < options.alpha;
    if (p.closer_than_references) ++closer;
    if (!strongest || p.p_adjusted < strongest->p_adjusted ||
        (p.p_adjusted == strongest->p_adjusted && p.match - p.reference_match_max >
                                                      strongest->match - strongest->reference_match_max))
      strongest = &p;
  }
  const int total = static_cast<int>(report.probes.size());
  report.p_value = strongest ? strongest->p_adjusted : 1.0;
  report.mirrors = closer > 0;
  const std::string statistics = options.access == "text" ? "greedy match or cross-entropy of A's text"
                                                          : fmt::format("greedy match or top-{} overlap", options.top_k);
  if (report.mirrors)
    report.verdict = fmt::format(
        "B mirrors A (p = {:.2g}, Holm-corrected over {} probe sets): B is closer to A ({}) than each of {} "
        "independently trained models on {} of {} probe sets (B was likely distilled from A, or A from B)",
        report.p_value, total, statistics, report.references, closer, total);
  else
    report.verdict = fmt::format(
        "no evidence that B mirrors A (p = {:.2g}, Holm-corrected over {} probe sets; alpha {}): B is not closer to A "
        "({}) than each of {} independently trained models",
        report.p_value, total, options.alpha, statistics, report.references);
  if (strongest) {
    std::string extra;
    if (options.access == "text")
      extra = fmt::format("; B's cross-entropy of A's text {:.3f} nats against the references' {:.3f} (lowest {:.3f})",
                          strongest->cross_entropy, strongest->reference_cross_entropy_mean,
                          strongest->reference_cross_entropy_min);
    else
      extra = fmt::format("; KL(A || B) {:.3f} against {:.3f} +/- {:.3f} (lowest {:.3f}), top-{} overlap {} against {}",
                          strongest->kl, strongest->reference_kl_mean, strongest->reference_kl_std,
                          strongest->reference_kl_min, options.top_k, percent(strongest->overlap),
                          percent(strongest->reference_overlap_mean));
    report.evidence = fmt::format(
        "{} probe: B's greedy next token matches A's at {} of {} positions; independently trained models' at {} "
        "+/- {} (the closest {}), and each other's at {} +/- {}{}",
        strongest->name, percent(strongest->match), strongest->positions, percent(strongest->reference_match_mean),
        percent(strongest->reference_match_std), percent(strongest->reference_match_max),
        percent(strongest->reference_pair_match_mean), percent(strongest->reference_pair_match_std), extra);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace distill
