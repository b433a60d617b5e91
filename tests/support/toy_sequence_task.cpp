#include "support/toy_sequence_task.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>

#include "core/metrics/streaming.h"
#include "core/models/eval_scope.h"
#include "core/tasks/task.h"
#include "core/tasks/task_registry.h"

namespace distill::testing {

namespace {

constexpr int64_t kLength = 8;
constexpr int64_t kVocabulary = 12;  // 0 is padding

class ToySequenceModelImpl : public ModelImpl {
 public:
  explicit ToySequenceModelImpl(int64_t hidden)
      : embedding_(register_module("embedding", torch::nn::Embedding(kVocabulary, 8))),
        hidden_(register_module("hidden", torch::nn::Linear(kLength * 8, hidden))),
        out_(register_module("out", torch::nn::Linear(hidden, kLength * kVocabulary))),
        width_(hidden) {}
  torch::Tensor forward(torch::Tensor inputs) override {
    const auto h = torch::relu(hidden_(embedding_(inputs).flatten(1)));
    return out_(h).view({inputs.size(0), kLength, kVocabulary});
  }
  std::string summary() const override { return "toy copier, hidden " + std::to_string(width_); }

 private:
  torch::nn::Embedding embedding_;
  torch::nn::Linear hidden_, out_;
  int64_t width_;
};

struct Sequences {
  torch::Tensor inputs, targets, mask;  // [N, 8] int64, int64, bool
};

Sequences makeSequences(int64_t n, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto lengths = torch::randint(2, kLength + 1, {n, 1}, generator, torch::kInt64);
  const auto positions = torch::arange(kLength, torch::kInt64).unsqueeze(0);
  const auto mask = positions < lengths;
  const auto tokens = torch::randint(1, kVocabulary, {n, kLength}, generator, torch::kInt64) * mask;
  return {tokens, tokens.clone(), mask};
}

class ToySplit : public TrainSplit {
 public:
  explicit ToySplit(const Sequences& data) : data_(data) {}
  int64_t size() const override { return data_.inputs.size(0); }
  torch::Device indexDevice() const override { return data_.inputs.device(); }
  Batch batch(const torch::Tensor& indices) override {
    Batch batch;
    batch.inputs = data_.inputs.index_select(0, indices);
    batch.targets = data_.targets.index_select(0, indices);
    batch.mask = data_.mask.index_select(0, indices);
    batch.units = batch.mask.sum().item<int64_t>();  // tokens that count
    return batch;
  }
  bool fixedInputs() const override { return true; }

 private:
  Sequences data_;
};

class ToyEvaluator : public Evaluator {
 public:
  explicit ToyEvaluator(const Sequences& test) : test_(test) {}
  MetricValues evaluateTeacher(ModelImpl& teacher) override {
    PredictionSums sums(10);
    sums.add(predict(teacher), test_.targets, test_.mask);
    return {{kToyTeacherAccuracy, sums.accuracy()}};
  }
  MetricValues evaluateStudent(ModelImpl& student, ModelImpl& teacher) override {
    PredictionSums sums(10);
    AgreementSums agreement(3);
    // Chunk by chunk, as a real task would: the sums never need the whole split's logits.
    for (int64_t begin = 0; begin < test_.inputs.size(0); begin += 32) {
      const int64_t end = std::min<int64_t>(begin + 32, test_.inputs.size(0));
      const auto student_logits = predict(student, begin, end), teacher_logits = predict(teacher, begin, end);
      const auto mask = test_.mask.slice(0, begin, end);
      sums.add(student_logits, test_.targets.slice(0, begin, end), mask);
      agreement.add(teacher_logits, student_logits, mask);
    }
    return {{kToyStudentAccuracy, sums.accuracy()}, {kToyAgreement, agreement.agreement()}, {kToyKl, agreement.kl()}};
  }

 private:
  torch::Tensor predict(ModelImpl& model, int64_t begin = 0, int64_t end = -1) {
    torch::NoGradGuard no_grad;
    const EvalScope eval(model);
    return model.forward(test_.inputs.slice(0, begin, end < 0 ? test_.inputs.size(0) : end));
  }
  Sequences test_;
};

class ToyCopyTask : public Task {
 public:
  explicit ToyCopyTask(const ExperimentConfig& config)
      : train_(makeSequences(config.dataset.limit_train > 0 ? config.dataset.limit_train : 512, 11)),
        test_(makeSequences(config.dataset.limit_test > 0 ? config.dataset.limit_test : 128, 12)) {}
  std::string name() const override { return kToyTask; }
  Model buildTeacher(const ExperimentConfig& config) override { return make(config.teacher.model); }
  Model buildStudent(const ExperimentConfig& config) override { return make(config.student); }
  void prepare(const torch::Device& device) override {
    for (auto* s : {&train_, &test_}) *s = {s->inputs.to(device), s->targets.to(device), s->mask.to(device)};
  }
  std::unique_ptr<TrainSplit> trainSplit(uint64_t) override { return std::make_unique<ToySplit>(train_); }
  Batch probeBatch() override { return ToySplit(train_).batch(torch::arange(2, torch::kInt64).to(train_.inputs.device())); }
  std::unique_ptr<Evaluator> evaluator() override { return std::make_unique<ToyEvaluator>(test_); }
  std::map<std::string, std::string> describe() const override {
    return {{"train_sequences", std::to_string(train_.inputs.size(0))},
            {"test_sequences", std::to_string(test_.inputs.size(0))}};
  }
  std::string units() const override { return "tokens"; }

 private:
  static Model make(const ModelConfig& model) {
    return std::make_shared<ToySequenceModelImpl>(model.hidden.empty() ? 64 : model.hidden.front());
  }
  Sequences train_, test_;
};

}  // namespace

const TaskDisplay& toyTaskDisplay() {
  static const TaskDisplay display = [] {
    constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
    TaskDisplay d;
    d.task = kToyTask;
    d.charts = {{"loss", "Loss", "loss", ""}, {"copying", "Copying", "token accuracy (%)", "KL (nats)"}};
    d.metrics = {
        declareMetric(kToyTeacherAccuracy, "Teacher token accuracy", "%", 0.0, 1.0, true, true)
            .on("copying", "teacher").as(SeriesRole::Teacher).evaluated(),
        declareMetric(kToyStudentAccuracy, "Student token accuracy", "%", 0.0, 1.0, true, true)
            .on("copying", "student").as(SeriesRole::Student).evaluated(),
        declareMetric(kToyAgreement, "Token agreement", "%", 0.0, 1.0, true, true)
            .on("copying", "agreement").as(SeriesRole::Pair, LineStyle::Dash).evaluated().drawn(2.0, 100, "#6a3d9a"),
        declareMetric(kToyKl, "Token KL(teacher || student)", "nats", 0.0, kNone)
            .on("copying", "KL (right axis)").as(SeriesRole::Pair, LineStyle::Dot).evaluated().onRightAxis()
            .drawn(1.8, 100, "#c0392b"),
    };
    d.teacher_quality = kToyTeacherAccuracy;
    d.student_quality = kToyStudentAccuracy;
    d.agreement = kToyAgreement;
    d.divergence = kToyKl;
    return d;
  }();
  return display;
}

void registerToyTask() {
  registerTask({kToyTask, "toy: copy short token sequences (tests only)", toyTaskDisplay,
                [](const ExperimentConfig& config) { return std::make_unique<ToyCopyTask>(config); }});
}

}  // namespace distill::testing
