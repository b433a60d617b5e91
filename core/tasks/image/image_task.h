// Image (and table) classification: the workbench's first task. Splits from IDX, CIFAR or CSV
// files (core/data), models from core/models (MLP, CNN, ResNet, TorchScript), batches of
// normalised float32 inputs with optional crop-and-flip augmentation, and a streaming
// evaluation of accuracy, test loss, calibration, and the student's fidelity to the teacher.
//
// Thread contract: as every Task (core/tasks/task.h), one thread at a time.
#pragma once

#include "core/data/dataset.h"
#include "core/tasks/task.h"

namespace distill {

class ImageTask : public Task {
 public:
  // Loads the dataset `config.dataset` names. Throws DataError naming the file.
  explicit ImageTask(const ExperimentConfig& config);
  // Over splits already loaded (tests, benchmarks, the fidelity view).
  ImageTask(const ExperimentConfig& config, DatasetSplits data);

  std::string name() const override { return "image"; }
  Model buildTeacher(const ExperimentConfig& config) override;
  Model buildStudent(const ExperimentConfig& config) override;
  void prepare(const torch::Device& device) override;
  std::unique_ptr<TrainSplit> trainSplit(uint64_t seed) override;
  Batch probeBatch() override;
  std::unique_ptr<Evaluator> evaluator() override;
  std::map<std::string, std::string> describe() const override;
  std::string units() const override { return "samples"; }

  const DatasetSplits& data() const { return data_; }

 private:
  DatasetConfig dataset_;
  DatasetSplits data_;
  torch::Device device_{torch::kCPU};
  TensorDataset train_;  // on device_ when it fits, else in host memory
  TensorDataset test_;   // on device_
  bool train_on_device_ = true;
};

}  // namespace distill
