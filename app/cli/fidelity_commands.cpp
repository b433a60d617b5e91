#include "app/cli/fidelity_commands.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>

#include "app/cli/cli_common.h"
#include "core/config/config.h"
#include "core/errors.h"
#include "core/fidelity/lm_mirror.h"
#include "core/fidelity/mirror.h"
#include "core/fidelity/run_fidelity.h"
#include "core/store/run_store.h"
#include "core/text/utf8.h"

namespace distill::cli {

namespace {


std::string shortName(const std::string& name, size_t width) {
  return name.size() <= width ? name : name.substr(0, width - 1) + "~";
}

std::string topText(const std::vector<ClassProbability>& top, const std::vector<std::string>& names) {
  std::string text;
  for (const auto& c : top) {
    if (!text.empty()) text += ", ";
    text += fmt::format("{} {:.2f}", names.at(static_cast<size_t>(c.label)), c.probability);
  }
  return text;
}

nlohmann::json calibrationJson(const Calibration& c) {
  nlohmann::json bins = nlohmann::json::array();
  for (const auto& b : c.bins)
    bins.push_back({{"lower", b.lower}, {"upper", b.upper}, {"count", b.count},
                    {"mean_confidence", b.mean_confidence}, {"accuracy", b.accuracy}});
  return {{"ece", c.ece}, {"bins", bins}};
}

nlohmann::json topJson(const std::vector<ClassProbability>& top) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : top) out.push_back({{"label", c.label}, {"probability", c.probability}});
  return out;
}

nlohmann::json bucketsJson(const std::vector<LmBucket>& buckets, bool frequency) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& b : buckets) {
    nlohmann::json entry = {{"label", b.label},         {"lower", b.lower},
                            {"upper", b.upper},         {"count", b.count},
                            {"agreement", b.agreement}, {"kl", b.kl},
                            {"teacher_acc", b.teacher_acc}, {"student_acc", b.student_acc}};
    if (frequency) entry["token_types"] = b.token_types;
    out.push_back(entry);
  }
  return out;
}

nlohmann::json tokensJson(const std::vector<TokenProbability>& top) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : top) out.push_back({{"token", t.token}, {"text", t.text}, {"probability", t.probability}});
  return out;
}

// "e 0.41, ␣ 0.22, a 0.10": a top-k list on one line.
std::string tokensText(const std::vector<TokenProbability>& top) {
  std::string text;
  for (const auto& t : top) text += (text.empty() ? "" : ", ") + fmt::format("{} {:.2f}", terminalText(t.text), t.probability);
  return text;
}

void printBuckets(const std::string& heading, const std::string& first_column, const std::vector<LmBucket>& buckets,
                  bool types) {
  fmt::print("\n{}\n{:<15} {:>8} {:>10} {:>8} {:>8} {:>8}{}\n", heading, first_column, "tokens", "agreement", "KL",
             "teacher", "student", types ? "   token types" : "");
  for (const auto& b : buckets) {
    if (b.count == 0) continue;
    fmt::print("{:<15} {:>8} {:>10.4f} {:>8.4f} {:>8.4f} {:>8.4f}{}\n", b.label, b.count, b.agreement, b.kl,
               b.teacher_acc, b.student_acc, types ? fmt::format(" {:>13}", b.token_types) : "");
  }
}

std::atomic<bool> g_mirror_stop{false};
extern "C" void onMirrorInterrupt(int) {
  if (g_mirror_stop.load()) std::_Exit(kExitStopped);
  g_mirror_stop = true;
}

// Runs a mirror test (`run`, given `options`) with its progress lines on stderr unless quiet and
// Ctrl-C as its stop request (a second Ctrl-C exits). False when it was stopped, said on stderr.
template <typename Options, typename Run>
bool runStoppableMirror(Options& options, bool quiet, Run&& run) {
  if (!quiet) options.progress = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  options.stop = &g_mirror_stop;
  std::signal(SIGINT, onMirrorInterrupt);
  bool completed = true;
  try {
    run();
  } catch (const MirrorStopped&) {
    fmt::print(stderr, "mirror test stopped\n");
    completed = false;
  }
  std::signal(SIGINT, SIG_DFL);
  return completed;
}

}  // namespace

FidelityCommands::FidelityCommands(CLI::App& app, std::string& db) {
  fidelity_ = app.add_subcommand("fidelity", "where a run's student differs from its teacher: agreement matrix, "
                                             "per-class fidelity, calibration, top disagreements; for a language "
                                             "model, per token by position, confidence and frequency");
  fidelity_->add_option("run", fidelity_run_, "run id")->required()->type_name("RUN");
  fidelity_->add_flag("--json", fidelity_json_, "JSON output for scripts (every disagreement, full distributions)");
  fidelity_->add_option("--top", fidelity_top_,
                        "disagreements to list, the teacher's most confident first (language models: largest KL "
                        "first; default 10)")
      ->check(CLI::NonNegativeNumber);
  fidelity_->add_option("--blocks", fidelity_blocks_,
                        "language models: analyse at most N validation blocks, picked evenly (default " +
                            std::to_string(FidelityOptions{}.max_blocks) + "; 0: all)")
      ->type_name("N");
  fidelity_->add_option("--db", db, "run database")->type_name("FILE");

  mirror_ = app.add_subcommand("mirror", "the mirror test: does model B mirror model A (was one distilled from the "
                                         "other)? Against independently trained reference models");
  mirror_->add_option("a", model_a_, "model A: RUN (its student), RUN:teacher, RUN:student or a TorchScript file")
      ->required()
      ->type_name("A");
  mirror_->add_option("b", model_b_, "model B, the same forms")->required()->type_name("B");
  mirror_->add_option("-k,--references", references_, "independently trained reference models (default 4, >= 2)");
  mirror_->add_option("--reference-samples", reference_samples_,
                      "train the references on the first N training images (default 0: all)")
      ->type_name("N");
  mirror_->add_option("--reference-epochs", reference_epochs_, "epochs of each reference (default 0: as many as B's run trained its student)")->type_name("E");
  mirror_->add_option("--probe-samples", probe_samples_, "images per probe set (default 2000)")->type_name("N");
  mirror_->add_option("--seed", seed_, "seeds the references (seed + 1000 + k) and the probes (default 0)");
  mirror_->add_option("--other-dataset", other_dataset_,
                      "an IDX folder of another dataset with images of the same shape (default: MNIST for "
                      "Fashion-MNIST and the other way round, when installed)")
      ->type_name("FOLDER");
  mirror_->add_option("--access", access_,
                      "language models: what is read of A: logits (default), topk (its top-k log-probabilities) or "
                      "text (its greedy completions only)")
      ->type_name("ACCESS");
  mirror_->add_option("--top-k", top_k_, "language models: k of topk access and of the top-k overlap (default 5)")
      ->type_name("K");
  mirror_->add_option("--reference-runs", reference_runs_,
                      "language models: stored runs as the references instead of training them (RUN[:role], "
                      "comma-separated; B's architecture, trained without A)")
      ->delimiter(',')
      ->type_name("RUNS");
  mirror_->add_option("--sequences", sequences_, "language models: windows per probe set (default 64)")->type_name("N");
  mirror_->add_option("--tokens", tokens_, "language models: tokens per window (default 0: the context, at most 128)")
      ->type_name("T");
  mirror_->add_option("--alpha", alpha_, "language models: the verdict's level after Holm's correction (default 0.05)");
  mirror_->add_option("--second-corpus", second_corpus_,
                      std::string("language models: a text file or folder for the second-corpus probe (default ") +
                          kSecondCorpusFolder + ", Debian's fortunes-de)")
      ->type_name("PATH");
  mirror_->add_flag("--json", mirror_json_, "JSON output for scripts");
  mirror_->add_flag("-q,--quiet", mirror_quiet_, "no progress lines");
  mirror_->add_option("--db", db, "run database")->type_name("FILE");
}

bool FidelityCommands::parsed() const { return fidelity_->parsed() || mirror_->parsed(); }

int FidelityCommands::execute(const std::string& db) { return fidelity_->parsed() ? fidelity(db) : mirror(db); }

int FidelityCommands::fidelity(const std::string& db) {
  const int64_t id = parseRunId(fidelity_run_);
  FidelityOptions options;
  options.max_blocks = fidelity_blocks_;
  options.disagreements = std::max<int64_t>(options.disagreements, fidelity_top_);
  const RunFidelity result = analyzeRun(existingDatabasePath(db), id, options);
  if (result.task == "lm") return lmFidelity(result);
  const FidelityAnalysis& a = result.analysis;
  const auto& names = a.class_names;

  if (fidelity_json_) {
    nlohmann::json per_class = nlohmann::json::array();
    for (const auto& c : a.per_class)
      per_class.push_back({{"class", c.name}, {"count", c.count}, {"teacher_acc", c.teacher_acc},
                           {"student_acc", c.student_acc}, {"agreement", c.agreement}});
    nlohmann::json matrix = nlohmann::json::array();
    for (int64_t t = 0; t < a.num_classes; ++t) {
      nlohmann::json row = nlohmann::json::array();
      for (int64_t s = 0; s < a.num_classes; ++s) row.push_back(a.matrixAt(t, s));
      matrix.push_back(row);
    }
    nlohmann::json disagreements = nlohmann::json::array();
    for (const auto& d : a.disagreements)
      disagreements.push_back({{"index", d.index}, {"target", d.target}, {"teacher_confidence", d.teacher_confidence},
                               {"teacher_top3", topJson(d.teacher_top)}, {"student_top3", topJson(d.student_top)},
                               {"teacher_probs", d.teacher_probs}, {"student_probs", d.student_probs}});
    const nlohmann::json out = {
        {"run_id", result.run_id},
        {"name", result.run_name},
        {"status", result.status},
        {"dataset", result.dataset},
        {"student_epoch", result.student_epoch},
        {"samples", a.samples},
        {"classes", names},
        {"teacher_acc", a.teacher_acc},
        {"student_acc", a.student_acc},
        {"agreement", a.agreement},
        {"top5_overlap", a.top5_overlap},
        {"kl", a.kl},
        {"js", a.js},
        {"teacher_calibration", calibrationJson(a.teacher_calibration)},
        {"student_calibration", calibrationJson(a.student_calibration)},
        {"agreement_matrix", matrix},
        {"per_class", per_class},
        {"disagreements", disagreements},
    };
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));  // invalid UTF-8 as U+FFFD
    return kExitOk;
  }

  fmt::print("run {} \"{}\" ({}), student at epoch {:g}: {} test images of {}\n", result.run_id, terminalText(result.run_name),
             result.status, result.student_epoch, a.samples, result.dataset);
  fmt::print("teacher acc {:.4f}  student acc {:.4f}  agreement {:.4f}  top-5 overlap {:.4f}  KL {:.4f}  JS {:.4f}\n",
             a.teacher_acc, a.student_acc, a.agreement, a.top5_overlap, a.kl, a.js);
  fmt::print("expected calibration error ({} equal-width bins): teacher {:.4f}, student {:.4f}\n\n", kCalibrationBins,
             a.teacher_calibration.ece, a.student_calibration.ece);

  fmt::print("agreement matrix: rows the teacher's prediction, columns the student's (counts; agree: the row's share on the diagonal)\n");
  fmt::print("{:<14}", "");
  for (int64_t s = 0; s < a.num_classes; ++s) fmt::print(" {:>7}", shortName(names[s], 7));
  fmt::print("   {:>6}\n", "agree");
  for (int64_t t = 0; t < a.num_classes; ++t) {
    fmt::print("{:<14}", shortName(names[t], 14));
    int64_t row_total = 0;
    for (int64_t s = 0; s < a.num_classes; ++s) row_total += a.matrixAt(t, s);
    for (int64_t s = 0; s < a.num_classes; ++s) fmt::print(" {:>7}", a.matrixAt(t, s));
    fmt::print("   {:>5.1f}%\n", row_total > 0 ? 100.0 * a.matrixAt(t, t) / row_total : 0.0);
  }

  fmt::print("\nper class (over the images of each true class)\n{:<14} {:>6} {:>8} {:>8} {:>10}\n", "class", "images",
             "teacher", "student", "agreement");
  for (const auto& c : a.per_class)
    fmt::print("{:<14} {:>6} {:>8.4f} {:>8.4f} {:>10.4f}\n", shortName(c.name, 14), c.count, c.teacher_acc,
               c.student_acc, c.agreement);

  fmt::print("\nreliability (confidence bin: images, mean confidence, accuracy)\n{:<11} {:>26} {:>26}\n", "bin",
             "teacher", "student");
  for (size_t b = 0; b < a.teacher_calibration.bins.size(); ++b) {
    const auto& tb = a.teacher_calibration.bins[b];
    const auto& sb = a.student_calibration.bins[b];
    if (tb.count == 0 && sb.count == 0) continue;
    fmt::print("{:.2f}-{:.2f}  {:>8} {:>8.3f} {:>8.3f} {:>8} {:>8.3f} {:>8.3f}\n", tb.lower, tb.upper, tb.count,
               tb.mean_confidence, tb.accuracy, sb.count, sb.mean_confidence, sb.accuracy);
  }

  const size_t shown = std::min<size_t>(static_cast<size_t>(fidelity_top_), a.disagreements.size());
  fmt::print("\n{} disagreements; the {} where the teacher was most confident:\n", a.disagreements.size(), shown);
  if (shown > 0)
    fmt::print("{:>6}  {:<12}  {:<44}  {}\n", "image", "true", "teacher top-3", "student top-3");
  for (size_t i = 0; i < shown; ++i) {
    const auto& d = a.disagreements[i];
    fmt::print("{:>6}  {:<12}  {:<44}  {}\n", d.index, shortName(names.at(static_cast<size_t>(d.target)), 12),
               topText(d.teacher_top, names), topText(d.student_top, names));
  }
  return kExitOk;
}

int FidelityCommands::lmFidelity(const RunFidelity& result) const {
  const LmFidelityAnalysis& a = result.lm;
  if (fidelity_json_) {
    nlohmann::json disagreements = nlohmann::json::array();
    for (const auto& d : a.disagreements)
      disagreements.push_back({{"block", d.block},
                               {"position", d.position},
                               {"kl", d.kl},
                               {"teacher_confidence", d.teacher_confidence},
                               {"target", d.target},
                               {"before", d.before},
                               {"token", d.token},
                               {"after", d.after},
                               {"teacher_top5", tokensJson(d.teacher_top)},
                               {"student_top5", tokensJson(d.student_top)}});
    const nlohmann::json out = {
        {"run_id", result.run_id},
        {"name", result.run_name},
        {"status", result.status},
        {"task", result.task},
        {"corpus", result.dataset},
        {"student_epoch", result.student_epoch},
        {"tokenizer", a.tokenizer},
        {"vocab", a.vocab},
        {"tokenizer_vocab", a.tokenizer_vocab},
        {"context", a.context},
        {"blocks", a.blocks},
        {"blocks_available", a.blocks_available},
        {"tokens", a.tokens},
        {"train_tokens", a.train_tokens},
        {"teacher_acc", a.teacher_acc},
        {"student_acc", a.student_acc},
        {"teacher_ce", a.teacher_ce},
        {"student_ce", a.student_ce},
        {"teacher_ppl", std::exp(a.teacher_ce)},
        {"student_ppl", std::exp(a.student_ce)},
        {"agreement", a.agreement},
        {"kl", a.kl},
        {"top5_overlap", a.top5_overlap},
        {"teacher_calibration", calibrationJson(a.teacher_calibration)},
        {"student_calibration", calibrationJson(a.student_calibration)},
        {"by_position", bucketsJson(a.by_position, false)},
        {"by_confidence", bucketsJson(a.by_confidence, false)},
        {"by_frequency", bucketsJson(a.by_frequency, true)},
        {"disagreement_count", a.disagreement_count},
        {"disagreements", disagreements},
        {"seconds", a.seconds},
    };
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));  // invalid UTF-8 as U+FFFD
    return kExitOk;
  }

  fmt::print("run {} \"{}\" ({}), student at epoch {:g}: {} validation tokens ({} of {} blocks of {} {} tokens) of {}\n",
             result.run_id, terminalText(result.run_name), result.status, result.student_epoch, a.tokens, a.blocks,
             a.blocks_available, a.context, a.tokenizer, terminalText(result.dataset));
  if (a.vocab > a.tokenizer_vocab)
    fmt::print("the models' {} vocabulary rows hold {} padding rows beyond the tokenizer's {} ids; agreement and KL "
               "are over every row, as the run's evaluation computed them\n",
               a.vocab, a.vocab - a.tokenizer_vocab, a.tokenizer_vocab);
  fmt::print("per token: teacher acc {:.4f}  student acc {:.4f}  agreement {:.4f}  top-5 overlap {:.4f}  KL {:.4f}\n",
             a.teacher_acc, a.student_acc, a.agreement, a.top5_overlap, a.kl);
  fmt::print("perplexity: teacher {:.4f}, student {:.4f}\n", std::exp(a.teacher_ce), std::exp(a.student_ce));
  fmt::print("expected calibration error per token ({} equal-width bins): teacher {:.4f}, student {:.4f}\n",
             kLmCalibrationBins, a.teacher_calibration.ece, a.student_calibration.ece);
  printBuckets("by position in the context (tokens, agreement, KL, teacher and student accuracy)", "positions",
               a.by_position, false);
  printBuckets("by the teacher's confidence (its top-1 probability)", "confidence", a.by_confidence, false);
  printBuckets(fmt::format("by the true next token's share of the {} training tokens", a.train_tokens), "frequency",
               a.by_frequency, true);

  fmt::print("\nreliability (confidence bin: tokens, mean confidence, accuracy)\n{:<11} {:>26} {:>26}\n", "bin",
             "teacher", "student");
  for (size_t b = 0; b < a.teacher_calibration.bins.size(); ++b) {
    const auto& tb = a.teacher_calibration.bins[b];
    const auto& sb = a.student_calibration.bins[b];
    if (tb.count == 0 && sb.count == 0) continue;
    fmt::print("{:.2f}-{:.2f}  {:>8} {:>8.3f} {:>8.3f} {:>8} {:>8.3f} {:>8.3f}\n", tb.lower, tb.upper, tb.count,
               tb.mean_confidence, tb.accuracy, sb.count, sb.mean_confidence, sb.accuracy);
  }

  const size_t shown = std::min<size_t>(static_cast<size_t>(fidelity_top_), a.disagreements.size());
  fmt::print("\n{} disagreeing tokens; the {} of largest KL ([the true next token]):\n", a.disagreement_count, shown);
  for (size_t i = 0; i < shown; ++i) {
    const auto& d = a.disagreements[i];
    fmt::print("\nblock {}, position {}: KL {:.3f}, teacher {:.0f}% sure\n  {}[{}]{}\n  teacher: {}\n  student: {}\n",
               d.block, d.position, d.kl, 100 * d.teacher_confidence, terminalText(d.before), terminalText(d.token),
               terminalText(d.after), tokensText(d.teacher_top), tokensText(d.student_top));
  }
  fmt::print("\n({:.1f} s)\n", a.seconds);
  return kExitOk;
}

int FidelityCommands::mirror(const std::string& db) {
  const std::string database = db.empty() ? defaultDatabasePath() : db;
  if (namesLanguageModelRun(model_a_, database, "A") || namesLanguageModelRun(model_b_, database, "B"))
    return lmMirror(database);
  MirrorOptions options;
  options.database_path = database;
  options.references = references_;
  options.reference_train_samples = reference_samples_;
  options.reference_epochs = reference_epochs_;
  options.probe_samples = probe_samples_;
  options.seed = seed_;
  options.other_dataset_path = other_dataset_;
  MirrorReport report;
  if (!runStoppableMirror(options, mirror_quiet_, [&] { report = runMirrorTest(model_a_, model_b_, options); }))
    return kExitStopped;

  if (mirror_json_) {
    nlohmann::json probes = nlohmann::json::array();
    for (const auto& p : report.probes)
      probes.push_back({{"name", p.name},
                        {"description", p.description},
                        {"off_distribution", p.off_distribution},
                        {"samples", p.samples},
                        {"agreement", p.agreement},
                        {"kl", p.kl},
                        {"reference_agreement_mean", p.reference_agreement_mean},
                        {"reference_agreement_std", p.reference_agreement_std},
                        {"reference_kl_mean", p.reference_kl_mean},
                        {"reference_kl_std", p.reference_kl_std},
                        {"reference_vs_a_agreement_mean", p.reference_vs_a_agreement_mean},
                        {"reference_vs_a_agreement_std", p.reference_vs_a_agreement_std},
                        {"reference_vs_a_kl_mean", p.reference_vs_a_kl_mean},
                        {"reference_vs_a_kl_std", p.reference_vs_a_kl_std},
                        {"reference_vs_a_kl_min", p.reference_vs_a_kl_min},
                        {"z", p.z},
                        {"closer_than_references", p.closer_than_references}});
    const nlohmann::json out = {{"a", report.model_a},
                                {"b", report.model_b},
                                {"dataset", report.dataset},
                                {"references", report.references},
                                {"reference_description", report.reference_description},
                                {"a_test_acc", report.a_test_acc},
                                {"b_test_acc", report.b_test_acc},
                                {"reference_test_acc_mean", report.reference_test_acc_mean},
                                {"reference_test_acc_std", report.reference_test_acc_std},
                                {"probes", probes},
                                {"notes", report.notes},
                                {"mirrors", report.mirrors},
                                {"verdict", report.verdict},
                                {"evidence", report.evidence},
                                {"seconds", report.seconds}};
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));  // invalid UTF-8 as U+FFFD
    return kExitOk;
  }

  fmt::print("A: {}\nB: {}\n", report.model_a, report.model_b);
  fmt::print("references: {}\n", report.reference_description);
  fmt::print("test accuracy: A {:.4f}, B {:.4f}, references {:.4f} +/- {:.4f}\n\n", report.a_test_acc,
             report.b_test_acc, report.reference_test_acc_mean, report.reference_test_acc_std);
  fmt::print("{:<15} {:>6}  {:>13}  {:>20}  {:>27}  {:>17}  {}\n", "probe", "images", "B vs A", "references vs A",
             "references vs A: KL", "reference pairs", "B closer");
  fmt::print("{:<15} {:>6}  {:>6} {:>6}  {:>20}  {:>27}  {:>17}\n", "", "", "agree", "KL", "agree", "mean +/- std (min)",
             "agree");
  for (const auto& p : report.probes)
    fmt::print("{:<15} {:>6}  {:>5.1f}% {:>6.3f}  {:>11.1f}% +/- {:>4.1f}  {:>9.3f} +/- {:.3f} ({:.3f})  {:>9.1f}% +/- {:>4.1f}  {}\n",
               p.name, p.samples, 100 * p.agreement, p.kl, 100 * p.reference_vs_a_agreement_mean,
               100 * p.reference_vs_a_agreement_std, p.reference_vs_a_kl_mean, p.reference_vs_a_kl_std,
               p.reference_vs_a_kl_min, 100 * p.reference_agreement_mean, 100 * p.reference_agreement_std,
               p.closer_than_references ? "yes" : "no");
  for (const auto& note : report.notes) fmt::print("note: {}\n", note);
  fmt::print("\nverdict: {}\nevidence: {}\n({:.0f} s)\n", report.verdict, report.evidence, report.seconds);
  return kExitOk;
}

int FidelityCommands::lmMirror(const std::string& database) {
  LmMirrorOptions options;
  options.database_path = database;
  options.access = access_;
  options.top_k = top_k_;
  options.references = references_;
  options.reference_models = reference_runs_;
  options.reference_epochs = reference_epochs_;
  options.reference_train_blocks = reference_samples_;
  options.seed = seed_;
  options.sequences = sequences_;
  options.tokens = tokens_;
  options.alpha = alpha_;
  options.second_corpus = second_corpus_;
  LmMirrorReport report;
  if (!runStoppableMirror(options, mirror_quiet_, [&] { report = runLmMirrorTest(model_a_, model_b_, options); }))
    return kExitStopped;
  // NaN (a value the access does not give) as JSON null.
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };

  if (mirror_json_) {
    nlohmann::json probes = nlohmann::json::array();
    for (const auto& p : report.probes)
      probes.push_back({{"name", p.name},
                        {"description", p.description},
                        {"sequences", p.sequences},
                        {"positions", p.positions},
                        {"match", p.match},
                        {"kl", number(p.kl)},
                        {"overlap", number(p.overlap)},
                        {"cross_entropy", number(p.cross_entropy)},
                        {"reference_match_mean", p.reference_match_mean},
                        {"reference_match_std", p.reference_match_std},
                        {"reference_match_max", p.reference_match_max},
                        {"reference_kl_mean", number(p.reference_kl_mean)},
                        {"reference_kl_std", number(p.reference_kl_std)},
                        {"reference_kl_min", number(p.reference_kl_min)},
                        {"reference_overlap_mean", number(p.reference_overlap_mean)},
                        {"reference_cross_entropy_mean", number(p.reference_cross_entropy_mean)},
                        {"reference_cross_entropy_min", number(p.reference_cross_entropy_min)},
                        {"reference_pair_match_mean", p.reference_pair_match_mean},
                        {"reference_pair_match_std", p.reference_pair_match_std},
                        {"p_match", p.p_match},
                        {"p_distance", p.p_distance},
                        {"p_value", p.p_value},
                        {"p_adjusted", p.p_adjusted},
                        {"closer_than_references", p.closer_than_references}});
    const nlohmann::json out = {{"task", "lm"},
                                {"a", report.model_a},
                                {"b", report.model_b},
                                {"access", report.access},
                                {"corpus", report.corpus},
                                {"tokens", report.tokens},
                                {"references", report.references},
                                {"reference_description", report.reference_description},
                                {"a_validation_ce", report.a_validation_ce},
                                {"b_validation_ce", report.b_validation_ce},
                                {"reference_validation_ce_mean", report.reference_validation_ce_mean},
                                {"reference_validation_ce_std", report.reference_validation_ce_std},
                                {"probes", probes},
                                {"notes", report.notes},
                                {"alpha", report.alpha},
                                {"p_value", report.p_value},
                                {"mirrors", report.mirrors},
                                {"verdict", report.verdict},
                                {"evidence", report.evidence},
                                {"seconds", report.seconds}};
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return kExitOk;
  }

  const bool text = report.probes.empty() || std::isnan(report.probes.front().kl);
  fmt::print("A: {}\nB: {}\naccess: {}\n", report.model_a, report.model_b, report.access);
  fmt::print("references: {}\n", report.reference_description);
  fmt::print("validation cross-entropy (nats/token): A {:.4f}, B {:.4f}, references {:.4f} +/- {:.4f}\n\n",
             report.a_validation_ce, report.b_validation_ce, report.reference_validation_ce_mean,
             report.reference_validation_ce_std);
  fmt::print("{:<15} {:>6}  {:>21}  {:>21}  {:>21}  {:>9}  {:>9}  {}\n", "probe", "tokens", "greedy match: B",
             "references (closest)", text ? "CE of A's text: B" : "top-k overlap: B", text ? "refs (min)" : "refs",
             "p", "B closer");
  for (const auto& p : report.probes) {
    const std::string distance =
        text ? fmt::format("{:>21.3f}  {:>9.3f} ({:.3f})", p.cross_entropy, p.reference_cross_entropy_mean,
                           p.reference_cross_entropy_min)
             : fmt::format("{:>20.1f}%  {:>8.1f}%", 100 * p.overlap, 100 * p.reference_overlap_mean);
    fmt::print("{:<15} {:>6}  {:>20.1f}%  {:>12.1f}% ({:.1f}%)  {}  {:>9.2g}  {}\n", p.name, p.positions,
               100 * p.match, 100 * p.reference_match_mean, 100 * p.reference_match_max, distance, p.p_adjusted,
               p.closer_than_references ? "yes" : "no");
  }
  if (!text) {
    fmt::print("\n{:<15}  {:>10}  {:>28}\n", "probe", "KL(A||B)", "references: mean +/- std (min)");
    for (const auto& p : report.probes)
      fmt::print("{:<15}  {:>10.4f}  {:>12.4f} +/- {:.4f} ({:.4f})\n", p.name, p.kl, p.reference_kl_mean,
                 p.reference_kl_std, p.reference_kl_min);
  }
  for (const auto& note : report.notes) fmt::print("note: {}\n", note);
  fmt::print("\nverdict: {}\nevidence: {}\n({:.0f} s)\n", report.verdict, report.evidence, report.seconds);
  return kExitOk;
}

}  // namespace distill::cli
