#include "core/tasks/image/image_task.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "core/data/augment.h"
#include "core/fidelity/fidelity_report.h"
#include "core/metrics/metrics.h"
#include "core/metrics/streaming.h"
#include "core/models/eval_scope.h"
#include "core/models/factory.h"
#include "core/tasks/image/image_metrics.h"

namespace distill {

namespace {

class ImageTrainSplit : public TrainSplit {
 public:
  ImageTrainSplit(const TensorDataset& train, const torch::Device& device, const DatasetConfig& dataset, uint64_t seed)
      : train_(train),
        device_(device),
        augment_(dataset.augment),
        generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
    options_.fill = -dataset.mean / dataset.std;  // black, as torchvision pads
  }
  int64_t size() const override { return train_.size(); }
  torch::Device indexDevice() const override { return train_.inputs.device(); }
  Batch batch(const torch::Tensor& indices) override {
    Batch batch;
    const auto gathered = train_.inputs.index_select(0, indices).to(device_);
    batch.inputs = augment_ ? augmentImages(gathered, generator_, options_) : gathered;
    batch.targets = train_.targets.index_select(0, indices).to(device_);
    batch.units = batch.inputs.size(0);
    return batch;
  }
  bool fixedInputs() const override { return !augment_; }
  // The augmentation generator, so that a resumed run draws the same crops and flips.
  void save(torch::serialize::OutputArchive& state) const override {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    state.write("augment_rng", generator_.get_state());
  }
  void load(torch::serialize::InputArchive& state) override {
    if (!augment_) return;
    torch::Tensor saved;
    state.read("augment_rng", saved);
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_state(saved);
  }

 private:
  TensorDataset train_;
  torch::Device device_;
  bool augment_;
  AugmentOptions options_;
  mutable torch::Generator generator_;
};

// The test split in chunks of evaluationChunk() samples. The teacher's test logits ([N, C],
// 400 KB for 10,000 images of 10 classes) are computed once for the student phase and kept
// when they take under 64 MiB; otherwise the teacher runs again beside each student chunk.
class ImageEvaluator : public Evaluator {
 public:
  explicit ImageEvaluator(const TensorDataset& test) : test_(test) {}

  // Chunk k of the test split is rank (k mod world)'s; the sums are added over the ranks.
  bool shardAcross(int rank, int world, std::function<void(torch::Tensor&)> sum_over_ranks) override {
    rank_ = rank;
    world_ = world;
    sum_over_ranks_ = std::move(sum_over_ranks);
    return true;
  }

  MetricValues evaluateTeacher(ModelImpl& teacher) override {
    PredictionSums sums(kCalibrationBins);
    forEachChunk(teacher, [&](const torch::Tensor& logits, int64_t begin, int64_t end) {
      sums.add(logits, test_.targets.slice(0, begin, end));
    });
    if (sum_over_ranks_) sums.reduce(sum_over_ranks_);
    return {{metric_key::kTeacherAcc, sums.accuracy()},
            {metric_key::kTeacherTestLoss, sums.crossEntropy()},
            {metric_key::kTeacherEce, sums.calibrationError()}};
  }

  MetricValues evaluateStudent(ModelImpl& student, ModelImpl& teacher) override {
    if (!teacher_logits_.defined() && !teacher_too_large_) {
      const auto classes = teacherClasses(teacher);
      if (test_.size() * classes * static_cast<int64_t>(sizeof(float)) <= (int64_t{64} << 20)) {
        std::vector<torch::Tensor> parts;
        // Every chunk, on every rank: the student's chunks slice it by position.
        forEachChunk(teacher, [&](const torch::Tensor& logits, int64_t, int64_t) { parts.push_back(logits); },
                     /*all_chunks=*/true);
        teacher_logits_ = torch::cat(parts, 0);
      } else {
        teacher_too_large_ = true;
      }
    }
    PredictionSums sums(kCalibrationBins);
    AgreementSums fidelity(/*top_k=*/5);
    forEachChunk(student, [&](const torch::Tensor& logits, int64_t begin, int64_t end) {
      sums.add(logits, test_.targets.slice(0, begin, end));
      torch::Tensor reference;
      if (teacher_logits_.defined()) {
        reference = teacher_logits_.slice(0, begin, end);
      } else {
        torch::NoGradGuard no_grad;
        const EvalScope eval(teacher);
        reference = teacher.forward(test_.inputs.slice(0, begin, end));
      }
      fidelity.add(reference, logits);
    });
    if (sum_over_ranks_) {
      sums.reduce(sum_over_ranks_);
      fidelity.reduce(sum_over_ranks_);
    }
    return {{metric_key::kStudentAcc, sums.accuracy()},
            {metric_key::kStudentTestLoss, sums.crossEntropy()},
            {metric_key::kAgreement, fidelity.agreement()},
            {metric_key::kKl, fidelity.kl()},
            // Fidelity beyond top-1 (core/fidelity/fidelity.h).
            {metric_key::kTopFiveOverlap, fidelity.topKOverlap()},
            {metric_key::kJs, fidelity.js()},
            {metric_key::kStudentEce, sums.calibrationError()}};
  }

 private:
  // `use(logits, begin, end)` for each chunk of the test split, in eval mode without gradients.
  // In a sharded evaluation only this rank's chunks, unless `all_chunks`.
  template <typename Use>
  void forEachChunk(ModelImpl& model, Use&& use, bool all_chunks = false) {
    const int64_t chunk = evaluationChunk(model);
    torch::NoGradGuard no_grad;
    const EvalScope eval(model);
    for (int64_t begin = 0, k = 0; begin < test_.size(); begin += chunk, ++k) {
      if (!all_chunks && k % world_ != rank_) continue;
      const int64_t end = std::min(begin + chunk, test_.size());
      use(model.forward(test_.inputs.slice(0, begin, end)), begin, end);
    }
  }
  int64_t teacherClasses(ModelImpl& teacher) {
    torch::NoGradGuard no_grad;
    const EvalScope eval(teacher);
    return teacher.forward(test_.inputs.slice(0, 0, 1)).size(-1);
  }

  TensorDataset test_;
  int rank_ = 0, world_ = 1;
  std::function<void(torch::Tensor&)> sum_over_ranks_;  // set: a sharded evaluation
  torch::Tensor teacher_logits_;
  bool teacher_too_large_ = false;
};

}  // namespace

ImageTask::ImageTask(const ExperimentConfig& config) : ImageTask(config, loadDataset(config.dataset)) {}

ImageTask::ImageTask(const ExperimentConfig& config, DatasetSplits data)
    : dataset_(config.dataset), data_(std::move(data)) {}

Model ImageTask::buildTeacher(const ExperimentConfig& config) {
  return buildModel(config.teacher.model, config.teacher.source, data_.input_shape, data_.num_classes);
}

Model ImageTask::buildStudent(const ExperimentConfig& config) {
  return buildModel(config.student, config.student_source, data_.input_shape, data_.num_classes);
}

void ImageTask::prepare(const torch::Device& device) {
  device_ = device;
  // The whole training set on the device when it fits: a batch is then one gather there,
  // with no host copy per step. Otherwise it stays in host memory and each gathered batch
  // is copied over.
  train_on_device_ = true;
  try {
    train_ = data_.train.to(device);
  } catch (const c10::Error&) {
    if (!device.is_cuda()) throw;
    train_ = data_.train;
    train_on_device_ = false;
  }
  test_ = data_.test.to(device);
}

std::unique_ptr<TrainSplit> ImageTask::trainSplit(uint64_t seed) {
  return std::make_unique<ImageTrainSplit>(train_, device_, dataset_, seed);
}

Batch ImageTask::probeBatch() {
  Batch batch;
  batch.inputs = data_.train.inputs.slice(0, 0, 2).to(device_);
  batch.targets = data_.train.targets.slice(0, 0, 2).to(device_);
  batch.units = batch.inputs.size(0);
  return batch;
}

std::unique_ptr<Evaluator> ImageTask::evaluator() { return std::make_unique<ImageEvaluator>(test_); }

std::map<std::string, std::string> ImageTask::describe() const {
  return {{"dataset_folder", data_.folder},
          {"train_samples", std::to_string(data_.train.size())},
          {"test_samples", std::to_string(data_.test.size())},
          {"num_classes", std::to_string(data_.num_classes)},
          {"input_shape", c10::str(c10::IntArrayRef(data_.input_shape))},
          {"training_set_on_device", train_on_device_ ? "yes" : "no (does not fit; batches copied per step)"}};
}

}  // namespace distill
