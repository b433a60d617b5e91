#include "core/fidelity/mirror.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/data/dataset.h"
#include "core/errors.h"
#include "core/fidelity/mirror_support.h"
#include "core/fidelity/run_models.h"
#include "core/metrics/metrics.h"
#include "core/models/factory.h"
#include "core/runtime/runtime.h"
#include "core/store/run_store.h"
#include "core/tasks/image/image_task.h"
#include "core/train/observer.h"
#include "core/train/trainer.h"

namespace distill {

namespace {

namespace F = torch::nn::functional;

struct Probe {
  std::string name;
  std::string description;
  bool off_distribution = true;
  torch::Tensor inputs;
};

std::string percent(double fraction) { return fmt::format("{:.0f}%", 100.0 * fraction); }

class MirrorRun : public MirrorSession {
 public:
  MirrorRun(const MirrorOptions& options) : MirrorSession(options.progress, options.stop, options.database_path) {}

  Model load(const ModelSpec& spec, const std::string& field, const DatasetSplits& data, std::string& description) {
    Model model;
    if (spec.isRun()) {
      model = loadRunModel(store(field), spec.run_id, spec.role, data.input_shape, data.num_classes);
      description = fmt::format("run {} {} ({})", spec.run_id, spec.role, model->summary());
    } else {
      model = loadTorchScriptFile(spec.torchscript_path, data.input_shape, data.num_classes);
      description = fmt::format("{} ({})", spec.torchscript_path, model->summary());
    }
    return model;
  }
};

// Images in normalised form <-> pixels in [0, 1].
torch::Tensor toPixels(const torch::Tensor& inputs, const DatasetConfig& d) { return inputs * d.std + d.mean; }
torch::Tensor toInputs(const torch::Tensor& pixels, const DatasetConfig& d) {
  return (pixels.clamp(0.0, 1.0) - d.mean) / d.std;
}

// Resamples each image through its own 2x3 affine map (output -> input coordinates, in
// grid_sample's [-1, 1] convention); outside the image is black (pixel 0).
torch::Tensor warp(const torch::Tensor& pixels, const torch::Tensor& theta, bool nearest) {
  const auto grid = F::affine_grid(theta, pixels.sizes().vec(), /*align_corners=*/false);
  auto sample_options = F::GridSampleFuncOptions().padding_mode(torch::kZeros).align_corners(false);
  if (nearest)
    sample_options.mode(torch::kNearest);
  else
    sample_options.mode(torch::kBilinear);
  return F::grid_sample(pixels, grid, sample_options);
}

std::vector<Probe> makeProbes(const DatasetSplits& data, const DatasetConfig& dataset, const MirrorOptions& options,
                              std::vector<std::string>& notes) {
  std::vector<Probe> probes;
  const int64_t n = std::min<int64_t>(options.probe_samples, data.test.size());
  const auto test = data.test.inputs.slice(0, 0, n);
  probes.push_back({"test", fmt::format("the first {} test images", n), false, test});
  if (data.input_shape.size() != 3) {
    notes.push_back("noise, shifted, rotated and other-dataset probes need images; this dataset is a table, so only "
                    "the test split is probed");
    return probes;
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed + 17);
  auto shape = data.input_shape;
  shape.insert(shape.begin(), n);
  const auto float_options = torch::TensorOptions().dtype(torch::kFloat32);
  probes.push_back({"uniform-noise", fmt::format("{} images of uniform random pixels in [0, 1]", n), true,
                    toInputs(torch::rand(shape, generator, float_options), dataset)});
  probes.push_back(
      {"gaussian-noise",
       fmt::format("{} images of Gaussian pixels N({:.3f}, {:.3f}^2) (the dataset's mean and std), clipped to [0, 1]", n,
                   dataset.mean, dataset.std),
       true, toInputs(torch::randn(shape, generator, float_options) * dataset.std + dataset.mean, dataset)});

  const auto pixels = toPixels(test, dataset);
  const double height = static_cast<double>(data.input_shape[1]), width = static_cast<double>(data.input_shape[2]);
  {
    // A shift of 3 to 6 pixels along each axis, either direction (integer: nearest sampling is exact).
    const auto magnitude = torch::randint(3, 7, {n, 2}, generator, torch::kInt64).to(torch::kFloat32);
    const auto sign = torch::randint(0, 2, {n, 2}, generator, torch::kInt64).to(torch::kFloat32) * 2 - 1;
    const auto shift = magnitude * sign;
    auto theta = torch::zeros({n, 2, 3}, float_options);
    theta.select(1, 0).select(1, 0).fill_(1.0);
    theta.select(1, 1).select(1, 1).fill_(1.0);
    theta.select(1, 0).select(1, 2).copy_(-2.0 * shift.select(1, 0) / width);
    theta.select(1, 1).select(1, 2).copy_(-2.0 * shift.select(1, 1) / height);
    probes.push_back({"shifted", fmt::format("the {} test images shifted by 3 to 6 pixels along each axis", n), true,
                      toInputs(warp(pixels, theta, /*nearest=*/true), dataset)});
  }
  {
    // A rotation of 20 to 45 degrees, either direction, about the centre.
    const auto degrees = (torch::rand({n}, generator, float_options) * 25 + 20) *
                         (torch::randint(0, 2, {n}, generator, torch::kInt64).to(torch::kFloat32) * 2 - 1);
    const auto radians = degrees * static_cast<float>(M_PI / 180.0);
    const auto c = radians.cos(), s = radians.sin();
    const auto theta = torch::stack({torch::stack({c, -s, torch::zeros_like(c)}, 1),
                                     torch::stack({s, c, torch::zeros_like(c)}, 1)},
                                    1);
    probes.push_back({"rotated", fmt::format("the {} test images rotated by 20 to 45 degrees", n), true,
                      toInputs(warp(pixels, theta, /*nearest=*/false), dataset)});
  }

  {
    // Blends of two test images of different classes (weights 0.35 to 0.65): inputs between
    // classes, where a model's decision boundaries, which distillation copies, decide.
    const auto partner = torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kInt64));
    const auto weight = (torch::rand({n, 1, 1, 1}, generator, float_options) * 0.3 + 0.35);
    const auto blended = weight * pixels + (1 - weight) * pixels.index_select(0, partner);
    probes.push_back({"mixup", fmt::format("{} blends of two test images (weights 0.35 to 0.65)", n), true,
                      toInputs(blended, dataset)});
  }

  // Another dataset of the same shape: MNIST for Fashion-MNIST and the other way round, or a given folder.
  std::string other_path = options.other_dataset_path;
  std::string other_name = "idx";
  if (other_path.empty()) {
    if (dataset.name == "fashion-mnist") other_name = "mnist";
    if (dataset.name == "mnist") other_name = "fashion-mnist";
    if (other_name != "idx") other_path = defaultDatasetPath(other_name);
  }
  std::error_code ec;
  if (other_path.empty()) {
    notes.push_back("other-dataset probe skipped: no second dataset is known for dataset '" + dataset.name +
                    "' (give one with --other-dataset FOLDER)");
  } else if (!std::filesystem::is_directory(other_path, ec)) {
    notes.push_back("other-dataset probe skipped: " + other_path + " not found" +
                    (other_name == "mnist" ? " (install Debian's dataset-mnist, or give --other-dataset FOLDER)" : ""));
  } else {
    DatasetConfig other = dataset;  // same normalisation: what the models expect
    other.name = "idx";
    other.path = other_path;
    other.limit_train = 1;
    other.limit_test = n;
    try {
      const DatasetSplits other_data = loadDataset(other);
      if (other_data.input_shape != data.input_shape)
        notes.push_back("other-dataset probe skipped: " + other_path + " holds images of another shape");
      else
        probes.push_back({"other-dataset", fmt::format("{} test images of {}", other_data.test.size(), other_path), true,
                          other_data.test.inputs});
    } catch (const DataError& e) {
      notes.push_back(std::string("other-dataset probe skipped: ") + e.what());
    }
  }
  return probes;
}

// One reference model: the teacher phase of the one trainer (core/train/trainer.h) with
// `config` (the reference's architecture as the teacher, the run's own recipe, the reference's
// seed), plain cross-entropy, on `data`'s training rows: an honest "same data, another seed"
// model. It trains into a scratch folder and comes back from its teacher.pt, in eval mode.
Model trainReference(const ExperimentConfig& config, const DatasetSplits& data, const MirrorRun& run) {
  ScratchFolder scratch;
  ImageTask task(config, data);
  TrainerOptions trainer_options;
  trainer_options.artifacts_dir = scratch.path().string();
  trainer_options.teacher_only = true;
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
    // The trainer's DivergenceError reads "diverged at step N of the teacher phase (...)".
    if (result.error.rfind("diverged", 0) == 0) throw ModelError(name + " " + result.error + "; lower train.lr");
    throw ModelError(name + " could not be trained: " + result.error);
  }
  Model model = buildModel(config.teacher.model, "init", data.input_shape, data.num_classes);
  model->loadCheckpoint((scratch.path() / "teacher.pt").string());
  model->eval();
  return model;
}

}  // namespace

MirrorReport runMirrorTest(const std::string& model_a, const std::string& model_b, const MirrorOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  // Its reference models reseed LibTorch's global generator (which a training run's dropout
  // and initialisation draw from) and it sets the process's threads (which a run's sums depend
  // on): alongside a run in this process it would change that run's result. Checked once, here:
  // the references' own trainers mark the process as training while they run.
  if (trainingInProcess())
    throw ConfigError({{"mirror", std::string("a run is training in this process; run the mirror test when it has "
                                              "finished (or from the command line: distill mirror A B)")}});
  if (options.references < 2)
    throw ConfigError({{"--references", "expected at least 2 reference models, got " + std::to_string(options.references)}});
  if (options.reference_epochs < 0)
    throw ConfigError({{"--reference-epochs", "expected 0 (as many as the run trained) or more, got " +
                                                 std::to_string(options.reference_epochs)}});
  if (options.probe_samples < 10)
    throw ConfigError({{"--probe-samples", "expected at least 10, got " + std::to_string(options.probe_samples)}});
  if (options.reference_train_samples < 0)
    throw ConfigError({{"--reference-samples", "expected 0 (all) or a positive count, got " +
                                                  std::to_string(options.reference_train_samples)}});
  const ModelSpec spec_a = parseModelSpec(model_a, "A");
  const ModelSpec spec_b = parseModelSpec(model_b, "B");
  MirrorRun run(options);

  // The experiment whose data, normalisation and training settings the test borrows.
  ExperimentConfig base = defaultConfig();
  if (spec_a.isRun())
    base = storedRunConfig(run.store("A"), spec_a.run_id);
  else if (spec_b.isRun())
    base = storedRunConfig(run.store("B"), spec_b.run_id);
  ExperimentConfig config_b = spec_b.isRun() ? storedRunConfig(run.store("B"), spec_b.run_id) : base;
  applyThreadSettings(0, base.gemm);

  run.say("loading dataset " + base.dataset.name);
  DatasetConfig dataset = base.dataset;
  dataset.augment = false;
  const DatasetSplits data = loadDataset(dataset);

  MirrorReport report;
  report.dataset = dataset.name;
  run.say("loading A: " + model_a);
  Model a = run.load(spec_a, "A", data, report.model_a);
  run.say("loading B: " + model_b);
  Model b = run.load(spec_b, "B", data, report.model_b);

  // References take B's architecture (the suspect's shape) when B is a built-in model of a
  // run, else A's, else the default student; they train on the same data with plain
  // cross-entropy.
  ModelConfig arch = base.student;
  std::string arch_source = "the default student";
  auto builtIn = [](const ModelSpec& spec, const ExperimentConfig& c, ModelConfig& out) {
    if (!spec.isRun()) return false;
    const std::string source = spec.role == "teacher" ? c.teacher.source : c.student_source;
    if (isTorchScriptSource(source)) return false;
    if (spec.role == "teacher" && source != "train" && source.rfind("run:", 0) != 0) return false;
    out = spec.role == "teacher" ? c.teacher.model : c.student;
    return true;
  };
  if (builtIn(spec_b, config_b, arch))
    arch_source = "B's architecture";
  else if (builtIn(spec_a, base, arch))
    arch_source = "A's architecture";
  const TrainConfig& recipe = config_b.train;  // B's run's, else A's, else the default
  const int64_t run_epochs = spec_b.isRun() && spec_b.role == "teacher" ? config_b.teacher.epochs : recipe.epochs;
  const int64_t epochs = options.reference_epochs > 0 ? options.reference_epochs : run_epochs;
  const int64_t train_n = options.reference_train_samples > 0
                              ? std::min<int64_t>(options.reference_train_samples, data.train.size())
                              : data.train.size();

  // Each reference is the teacher phase of a run of its own: the reference architecture as the
  // teacher, the recipe of B's run (its optimizer, learning rate, schedule, momentum, weight
  // decay, batch size), its own seed, on the CPU as the probes, without augmentation. The
  // trainer evaluates it at each epoch end; on the first 256 test images only, as the probes
  // measure it afterwards.
  ExperimentConfig reference = defaultConfig();
  reference.name = "mirror reference";
  reference.device = "cpu";
  reference.threads = 0;  // the automatic settings, as applied above
  reference.gemm = base.gemm;
  reference.dataset = dataset;
  reference.teacher.source = "train";
  reference.teacher.model = arch;
  reference.teacher.epochs = epochs;
  reference.student = arch;  // built by the trainer, never trained (teacher_only)
  reference.student_source = "init";
  reference.train = recipe;
  reference.train.eval_every = 0;
  reference.train.autocast = "off";
  DatasetSplits reference_data = data;
  reference_data.train = {data.train.inputs.slice(0, 0, train_n), data.train.targets.slice(0, 0, train_n)};
  const int64_t evaluation_n = std::min<int64_t>(256, data.test.size());
  reference_data.test = {data.test.inputs.slice(0, 0, evaluation_n), data.test.targets.slice(0, 0, evaluation_n)};

  std::vector<Model> references;
  std::string summary;
  for (int k = 0; k < options.references; ++k) {
    run.checkStop();
    reference.seed = options.seed + 1000 + static_cast<uint64_t>(k);
    run.say(fmt::format("training reference model {}/{} (seed {})", k + 1, options.references, reference.seed));
    references.push_back(trainReference(reference, reference_data, run));
    summary = references.back()->summary();
  }
  report.references = options.references;
  report.reference_description =
      fmt::format("{} x {} ({}), trained from seeds {}..{} on the first {} training images for {} epoch(s), "
                  "cross-entropy only",
                  options.references, summary, arch_source, options.seed + 1000,
                  options.seed + 1000 + static_cast<uint64_t>(options.references - 1), train_n, epochs);

  const auto probes = makeProbes(data, dataset, options, report.notes);
  for (const auto& probe : probes) {
    run.checkStop();
    run.say("probing " + probe.name);
    MirrorProbe result;
    result.name = probe.name;
    result.description = probe.description;
    result.off_distribution = probe.off_distribution;
    result.samples = probe.inputs.size(0);
    const auto logits_a = predictLogits(a, probe.inputs);
    const auto logits_b = predictLogits(b, probe.inputs);
    result.agreement = topOneAgreement(logits_a, logits_b);
    result.kl = predictiveKl(logits_a, logits_b);
    std::vector<torch::Tensor> reference_logits;
    for (auto& reference : references) reference_logits.push_back(predictLogits(reference, probe.inputs));
    std::vector<double> pair_agreement, pair_kl, a_agreement, a_kl;
    for (size_t i = 0; i < reference_logits.size(); ++i) {
      a_agreement.push_back(topOneAgreement(logits_a, reference_logits[i]));
      a_kl.push_back(predictiveKl(logits_a, reference_logits[i]));
      for (size_t j = i + 1; j < reference_logits.size(); ++j) {
        pair_agreement.push_back(topOneAgreement(reference_logits[i], reference_logits[j]));
        pair_kl.push_back(predictiveKl(reference_logits[i], reference_logits[j]));
      }
    }
    const auto pa = meanStd(pair_agreement), pk = meanStd(pair_kl), aa = meanStd(a_agreement), ak = meanStd(a_kl);
    result.reference_agreement_mean = pa.mean;
    result.reference_agreement_std = pa.std;
    result.reference_kl_mean = pk.mean;
    result.reference_kl_std = pk.std;
    result.reference_vs_a_agreement_mean = aa.mean;
    result.reference_vs_a_agreement_std = aa.std;
    result.reference_vs_a_kl_mean = ak.mean;
    result.reference_vs_a_kl_std = ak.std;
    result.reference_vs_a_kl_min = *std::min_element(a_kl.begin(), a_kl.end());
    result.z = (ak.mean - result.kl) / std::max(ak.std, 0.05 * ak.mean);
    result.closer_than_references = result.kl < result.reference_vs_a_kl_min;
    if (!probe.off_distribution) {
      const auto targets = data.test.targets.slice(0, 0, probe.inputs.size(0));
      report.a_test_acc = accuracy(logits_a, targets);
      report.b_test_acc = accuracy(logits_b, targets);
      std::vector<double> accuracies;
      for (const auto& logits : reference_logits) accuracies.push_back(accuracy(logits, targets));
      const auto acc = meanStd(accuracies);
      report.reference_test_acc_mean = acc.mean;
      report.reference_test_acc_std = acc.std;
      if (acc.mean < report.b_test_acc - 0.01)
        report.notes.push_back(fmt::format(
            "the references are weaker than B (test accuracy {:.1f}% against {:.1f}%), so they agree less with "
            "anything: a low bar; train them longer (--reference-epochs) or on more images (--reference-samples)",
            100 * acc.mean, 100 * report.b_test_acc));
    }
    report.probes.push_back(result);
  }

  // Verdict (see mirror.h): B closer to A than every reference on more than half of the probe sets.
  int closer = 0;
  const MirrorProbe* strongest = nullptr;
  for (const auto& p : report.probes) {
    if (p.closer_than_references) ++closer;
    if (!strongest || p.z > strongest->z) strongest = &p;
  }
  const int total = static_cast<int>(report.probes.size());
  if (2 * closer > total) {
    report.mirrors = true;
    report.verdict = fmt::format("B mirrors A: on {} of {} probe sets B is closer to A than each of {} independently "
                                 "trained models (B was likely distilled from A, or A from B)",
                                 closer, total, options.references);
  } else if (closer > 0) {
    report.verdict = fmt::format("not shown: B is closer to A than each independently trained model on {} of {} "
                                 "probe sets only (chance alone: about 1 in {})",
                                 closer, total, options.references + 1);
  } else {
    report.verdict = fmt::format("no evidence that B mirrors A: on no probe set is B closer to A than all {} "
                                 "independently trained models",
                                 options.references);
  }
  if (strongest) {
    report.evidence = fmt::format(
        "{} probes: B agrees with A on {} (KL {:.3f}); independently trained models agree with A on {} +/- {} "
        "(KL {:.3f} +/- {:.3f}, the closest {:.3f}) and with each other on {} +/- {}",
        strongest->name, percent(strongest->agreement), strongest->kl, percent(strongest->reference_vs_a_agreement_mean),
        percent(strongest->reference_vs_a_agreement_std), strongest->reference_vs_a_kl_mean,
        strongest->reference_vs_a_kl_std, strongest->reference_vs_a_kl_min, percent(strongest->reference_agreement_mean),
        percent(strongest->reference_agreement_std));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace distill
