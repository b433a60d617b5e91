// The task seam: what a run learns. A task loads its splits, builds teacher and student from
// its own config section, makes training batches, evaluates a model on its test split in a
// streaming way, and declares the metrics and charts it shows. The trainer (core/train) drives
// any task through this interface and names none; image classification is one task
// (core/tasks/image/), a toy sequence task in the tests is another.
//
// Adding a task: a class implementing Task in core/tasks/<name>/, one line in
// core/tasks/task_registry.cpp, a test beside it. The trainer, the store, the form and the
// charts stay as they are.
//
// Thread contract: a task, its splits and its evaluators are used by one thread at a time
// (the training thread); a TaskDisplay is immutable and read from any thread.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/config/config.h"
#include "core/metrics/metric_info.h"
#include "core/models/model.h"

namespace distill {

// One training batch, on the training device.
struct Batch {
  torch::Tensor inputs;   // what the models read; dimension 0 is the sample
  torch::Tensor targets;  // class (or token) indices per position: [B] or [B, L]
  torch::Tensor mask;     // bool, the targets' shape: positions that count; undefined: all
  int64_t units = 0;      // what the speed counts: samples, or tokens with a kept target
};

// The training split as one phase draws from it: rows by index. The trainer owns the order
// (a seeded sampler, replayed on resume); the split owns what a row becomes (augmentation).
class TrainSplit {
 public:
  virtual ~TrainSplit() = default;
  virtual int64_t size() const = 0;
  // The device index tensors for batch() live on (where the split is held).
  virtual torch::Device indexDevice() const = 0;
  // The rows `indices` (int64 on indexDevice()) as a batch on the training device. May draw
  // from the split's own generator (augmentation), which save()/load() carry across a resume.
  virtual Batch batch(const torch::Tensor& indices) = 0;
  // Whether a row's inputs are the same at every draw (no augmentation), so that a frozen
  // teacher's outputs on the split can be computed once and reused.
  virtual bool fixedInputs() const = 0;
  virtual void save(torch::serialize::OutputArchive& state) const {}
  virtual void load(torch::serialize::InputArchive& state) {}
};

// A metric value an evaluation produced.
using MetricValues = std::vector<std::pair<std::string, double>>;

// Evaluates models on the task's test split chunk by chunk, summing per chunk, never holding
// the split's logits (the image task may keep the teacher's small [N, C] outputs; a language
// model's [N, L, V] never).
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  // The teacher alone, in the teacher phase (or once, when it is loaded).
  virtual MetricValues evaluateTeacher(ModelImpl& teacher) = 0;
  // The student against the labels and against the (frozen) teacher.
  virtual MetricValues evaluateStudent(ModelImpl& student, ModelImpl& teacher) = 0;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  // Teacher and student as the config describes them, with fresh weights (the trainer loads
  // given weights). Throws ConfigError or ModelError naming the key.
  virtual Model buildTeacher(const ExperimentConfig& config) = 0;
  virtual Model buildStudent(const ExperimentConfig& config) = 0;
  // Moves what the task holds to `device` (the training split when it fits); once, before
  // any split or evaluator is asked for.
  virtual void prepare(const torch::Device& device) = 0;
  // The training split of one phase; `seed` seeds what the split draws (augmentation).
  virtual std::unique_ptr<TrainSplit> trainSplit(uint64_t seed) = 0;
  // A couple of training rows as they are, on the device: what a loss probes for shapes.
  virtual Batch probeBatch() = 0;
  virtual std::unique_ptr<Evaluator> evaluator() = 0;
  // Facts for the run's environment record (dataset, sizes, shapes).
  virtual std::map<std::string, std::string> describe() const = 0;
  // "samples" or "tokens": what Batch::units counts and the speed is measured in.
  virtual std::string units() const = 0;
};

}  // namespace distill
