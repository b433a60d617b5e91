// The mirror test for language models: was model B distilled from model A?
//
// The statistic is model provenance testing's (Nikolic et al. 2025, "Model Provenance Testing
// for Large Language Models"): the rate at which B's greedy next token matches A's on prompts,
// set against the rate of models trained independently on the same data. A copy inherits its
// original's choices also where the data do not decide them (shuffled text, another corpus);
// models that only learned the same data agree where the data decide and drift apart elsewhere.
// Beside it, per token: KL(A || B) and the overlap of the two top-k sets.
//
// Probe sets (N sequences of T tokens each, T at most the models' context):
// - validation: the run's held-out documents (evenly spaced windows);
// - corpus-prompts: windows at random offsets of the training text (the prompts the models
//   were trained on);
// - shuffled: the validation windows with their tokens shuffled within each window;
// - second-corpus: windows of another text (default: Debian's German fortunes,
//   /usr/share/games/fortunes/de from the package fortunes-de), tokenized by A's tokenizer.
//
// What is read of A (its access, `access`), since a suspected copier may have API access only:
// - logits: A's full distributions; every position of the window is scored (teacher forcing);
// - topk: A's k largest log-probabilities only (an API's top-k): the greedy match is the same
//   as with logits (it needs A's top-1 alone); KL is computed over A's top k and one bucket for
//   the rest (a lower bound on the full KL);
// - text: A's generated text only: the first half of each window is a prompt, A completes it
//   greedily, and B is scored on A's completion: how often B's greedy next token is A's
//   (the match rate) and B's cross-entropy of A's tokens. KL and overlap are not available.
//
// References: K models of B's architecture trained independently on the same corpus with B's
// run's recipe and seeds seed + 1000 + k: B's student phase with distillation off (alpha 0; the
// run's teacher loaded and unused), or the teacher phase alone when B is a run's teacher; or
// stored runs named in `reference_models`. Tests: per probe set and per reference R, one-sided
// Wilcoxon signed-rank tests over the N windows of "B's greedy match rate with A exceeds R's"
// (the paper's statistic) and of "B's top-k overlap with A exceeds R's" (with text access: "B's
// cross-entropy of A's text is below R's"). Each statistic's p-value is the largest over the
// references (B must be closer to A than each of them: an intersection-union test, valid
// without correction); the probe set's p-value is twice the smaller of the two (Bonferroni over
// the two statistics); the probe sets' p-values are corrected with Holm-Bonferroni. Verdict: B
// mirrors A when some probe set's corrected p-value is below alpha.
// Why these statistics (measured in tests/core/fidelity/lm_mirror_test.cpp): tiny models trained
// alone on one small corpus often pick the same greedy token where a distilled copy does not, so
// the greedy match alone missed copies that the overlap finds; KL(A || B) is reported but not
// tested, since it rewards a less confident model near a weak A (a student trained alone came out
// "closer" in KL than the references); and references trained by the teacher phase were
// systematically farther from A than a student phase alone, which gave a false "mirrors" before
// the references were trained as B was.
// The test is over windows given the trained models: an independent model that happens to be
// closer to A than all K references are would pass, which happens about 1 time in K + 1 by
// chance; more references lower that floor.
//
// Thread contract: as runMirrorTest() (mirror.h): blocks its thread, calls `progress` on it,
// `stop` may be set from any thread; refuses to start while a run trains in this process
// (the references reseed LibTorch's generator and set the threads). No torch types here.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace distill {

inline constexpr char kSecondCorpusFolder[] = "/usr/share/games/fortunes/de";

struct LmMirrorOptions {
  std::string database_path;   // where the runs are
  std::string access = "logits";  // logits | topk | text: what is read of A
  int64_t top_k = 5;           // topk access: A's log-probabilities kept; the overlap's k in every access
  int references = 4;          // K reference models trained here (>= 2), unless reference_models are given
  // Stored models as references instead of training them (RUN, RUN:teacher, RUN:student): of
  // B's architecture, trained independently of A on the same corpus. At least 2 when given.
  std::vector<std::string> reference_models;
  int64_t reference_epochs = 0;          // 0: as many as B's run trained B
  int64_t reference_train_blocks = 0;    // the references train on N training blocks (0: as B's run)
  uint64_t seed = 0;                     // references: seed + 1000 + k; probes: seed
  int64_t sequences = 64;                // N windows per probe set (>= 6)
  int64_t tokens = 0;                    // T tokens per window; 0: the models' context (at most 128)
  double alpha = 0.05;                   // the verdict's level, after Holm's correction
  std::string second_corpus;             // a file or folder of text; empty: kSecondCorpusFolder when installed
  std::function<void(const std::string&)> progress;  // one line per step; may be empty
  const std::atomic<bool>* stop = nullptr;            // set: stop between steps (throws MirrorStopped)
};

struct LmMirrorProbe {
  std::string name;         // validation, corpus-prompts, shuffled, second-corpus
  std::string description;  // how it was made
  int64_t sequences = 0;
  int64_t positions = 0;    // scored next-token positions in all (per sequence times sequences)
  // B against A, per scored position: greedy match rate, KL(A || B) in nats and top-k overlap
  // (NaN where the access does not give them), and B's cross-entropy of A's tokens (text access; else NaN).
  double match = 0.0, kl = 0.0, overlap = 0.0, cross_entropy = 0.0;
  // Each reference against A: mean and sample std over the references; the closest's value.
  double reference_match_mean = 0.0, reference_match_std = 0.0, reference_match_max = 0.0;
  double reference_kl_mean = 0.0, reference_kl_std = 0.0, reference_kl_min = 0.0;
  double reference_overlap_mean = 0.0;
  double reference_cross_entropy_mean = 0.0, reference_cross_entropy_min = 0.0;
  // The references among themselves (every pair): greedy match rate.
  double reference_pair_match_mean = 0.0, reference_pair_match_std = 0.0;
  // The tests (see above), each the largest p-value over the references: of the greedy match
  // rate, and of the top-k overlap (text access: the cross-entropy of A's text). The probe set's
  // p-value is twice the smaller of the two (Bonferroni), then Holm-adjusted over the probe sets.
  double p_match = 1.0, p_distance = 1.0;
  double p_value = 1.0, p_adjusted = 1.0;
  bool closer_than_references = false;  // p_adjusted < alpha
};

struct LmMirrorReport {
  std::string model_a, model_b;        // descriptions
  std::string access;                  // logits, topk (k) or text
  std::string corpus;                  // the corpus of the runs
  std::string reference_description;   // e.g. "4 x GPT 1 layer ... trained from seeds 1000..1003"
  int references = 0;
  int64_t tokens = 0;                  // T per window
  // Validation cross-entropy (nats per token, on the validation probe's windows) of A, B and
  // the references: references much weaker than B make a low bar (a note says so).
  double a_validation_ce = 0.0, b_validation_ce = 0.0;
  double reference_validation_ce_mean = 0.0, reference_validation_ce_std = 0.0;
  std::vector<LmMirrorProbe> probes;
  std::vector<std::string> notes;      // skipped probes and why, weak references
  double alpha = 0.05;
  double p_value = 1.0;                // the smallest Holm-adjusted p-value
  bool mirrors = false;                // the verdict
  std::string verdict;                 // one line
  std::string evidence;                // the numbers behind it
  double seconds = 0.0;
};

// Whether `model` (as the mirror test takes it: RUN, RUN:role, run:RUN[:role]) names a run of
// task lm in the database. False for files and for runs of other tasks; throws StoreError for a
// run that is not there, ConfigError (key `field`) for a malformed name or an empty database_path with a run.
bool namesLanguageModelRun(const std::string& model, const std::string& database_path,
                           const std::string& field = "MODEL");

// `model_a`, `model_b`: runs of task lm (RUN, RUN:teacher, RUN:student) with the same tokenizer.
// Throws ConfigError (bad options naming the option: access, top_k, references, sequences,
// tokens, alpha; a model that is not a language-model run; different tokenizers), StoreError,
// DataError (a corpus that cannot be read), ModelError, MirrorStopped (mirror.h).
LmMirrorReport runLmMirrorTest(const std::string& model_a, const std::string& model_b, const LmMirrorOptions& options);

}  // namespace distill
