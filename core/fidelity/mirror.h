// The mirror test: does model B mirror model A (was B distilled from A, or A from B)?
//
// Both models answer the same probe sets: the test split, and inputs neither was trained on
// (uniform and Gaussian noise images, shifted and rotated test images, another dataset of the
// same shape when one is installed). On each probe we measure B's top-1 agreement with A and
// KL(A || B), and set them against a reference: K models trained independently, from
// different seeds, on the same training data (a subset, a few epochs: cheap by design). Their
// pairwise agreement and KL, and their agreement with A, give mean +/- std per probe.
// Independently trained models agree on real test images (they all learned the task) but
// much less on noise and distorted images, where each one's answer is an accident of its
// initialisation; a distilled copy inherits its teacher's accidents, most visibly in its
// full distribution (KL), less in its top-1 choice. Verdict: B mirrors A when, on more than
// half of the probe sets, B is closer to A than every one of the K references (KL below the
// closest reference's). If B were just another
// independent model, it would beat all K references on a probe set by chance 1 time in K + 1.
//
// Thread contract: runMirrorTest() blocks its thread (the CLI's main thread, or a GUI worker
// thread); the progress callback is called on that thread; `stop` may be set from any thread.
// The references are trained by the one trainer (core/train/trainer.h, the teacher phase
// only), each into a scratch folder under the system's temporary folder that is removed
// afterwards. Like any run, that reseeds LibTorch's global generator and applies the automatic
// thread settings (core/runtime/runtime.h), so runMirrorTest() refuses to start while a run
// trains in the same process.
// No torch types in this header.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace distill {

struct MirrorOptions {
  std::string database_path;        // for RUN models; may be empty when both are files
  int references = 4;               // K independently trained reference models (>= 2)
  int64_t reference_train_samples = 0;  // the first N training images (0: all)
  // With the optimizer, learning rate, schedule, momentum, weight decay and batch size of B's
  // run (else A's, else the default experiment), through the trainer's teacher phase. 0: as
  // many epochs as that run trained model B (its student's train.epochs, or teacher.epochs for
  // RUN:teacher), so that the references are as strong as B; fewer is cheaper but makes a
  // lower bar (a note says so).
  int64_t reference_epochs = 0;
  uint64_t seed = 0;                // reference k is seeded seed + 1000 + k; probes are seeded with seed
  int64_t probe_samples = 2000;     // images per probe set
  std::string other_dataset_path;   // another IDX folder of the same image shape; empty: auto
  std::function<void(const std::string&)> progress;  // one line per step; may be empty
  const std::atomic<bool>* stop = nullptr;            // set: stop between steps (throws MirrorStopped)
};

struct MirrorProbe {
  std::string name;         // test, uniform-noise, gaussian-noise, shifted, rotated, other-dataset
  std::string description;  // how it was made
  bool off_distribution = true;  // false for the test split
  int64_t samples = 0;
  double agreement = 0.0;  // top-1 agreement of B with A
  double kl = 0.0;         // KL(A || B) at T = 1, nats
  // Among the references (every pair i < j): agreement and KL(i || j).
  double reference_agreement_mean = 0.0, reference_agreement_std = 0.0;
  double reference_kl_mean = 0.0, reference_kl_std = 0.0;
  // Each reference against A.
  double reference_vs_a_agreement_mean = 0.0, reference_vs_a_agreement_std = 0.0;
  double reference_vs_a_kl_mean = 0.0, reference_vs_a_kl_std = 0.0;
  double reference_vs_a_kl_min = 0.0;  // the closest any reference gets to A
  // How far B's KL to A lies below the references' KL to A, in their standard deviations
  // (floored at 5% of the mean): > 0 closer to A than independent models are on average.
  double z = 0.0;
  // B is closer to A than every reference is: a lower KL(A || B) than the closest one's.
  bool closer_than_references = false;
};

struct MirrorReport {
  std::string model_a, model_b;        // descriptions
  std::string dataset;                 // dataset.name of the probes
  std::string reference_description;   // e.g. "5 x MLP 800 800, 10000 images, 2 epochs"
  int references = 0;
  // Test accuracy (on the test probe) of A, B and the references: references much weaker than
  // B make a low bar (a note says so).
  double a_test_acc = 0.0, b_test_acc = 0.0;
  double reference_test_acc_mean = 0.0, reference_test_acc_std = 0.0;
  std::vector<MirrorProbe> probes;
  std::vector<std::string> notes;      // skipped probes and why
  bool mirrors = false;                // the verdict
  std::string verdict;                 // one line
  std::string evidence;                // the numbers behind it
  double seconds = 0.0;
};

class MirrorStopped : public std::runtime_error {
 public:
  MirrorStopped() : std::runtime_error("mirror test stopped") {}
};

// `model_a` and `model_b`: RUN (its student), RUN:teacher, RUN:student, or a TorchScript
// file. The probes use the dataset of A's run (else B's; else the default Fashion-MNIST).
// Throws ConfigError (a bad model name or option, models of different shapes), StoreError,
// DataError, ModelError, MirrorStopped.
MirrorReport runMirrorTest(const std::string& model_a, const std::string& model_b, const MirrorOptions& options);

}  // namespace distill
