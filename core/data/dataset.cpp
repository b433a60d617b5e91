#include "core/data/dataset.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>

#include "core/data/cifar.h"
#include "core/data/csv.h"
#include "core/data/idx.h"
#include "core/errors.h"

namespace distill {

namespace fs = std::filesystem;

namespace {

// Finds `<stem>` or `<stem>.gz` in the folder.
std::string findFile(const fs::path& folder, const std::string& stem) {
  for (const auto& candidate : {folder / stem, folder / (stem + ".gz")}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  throw DataError((folder / stem).string() + "[.gz]: file not found (expected an IDX file; for Fashion-MNIST install "
                  "the Debian package dataset-fashion-mnist, or set dataset.path)");
}

TensorDataset loadSplit(const fs::path& folder, const std::string& prefix, const DatasetConfig& config,
                        int64_t limit) {
  const std::string images_path = findFile(folder, prefix + "-images-idx3-ubyte");
  const std::string labels_path = findFile(folder, prefix + "-labels-idx1-ubyte");
  IdxArray images = readIdxFile(images_path);
  IdxArray labels = readIdxFile(labels_path);
  if (images.dims.size() != 3 && images.dims.size() != 4)
    throw DataError(images_path + ": expected images of shape [N, H, W] or [N, C, H, W], got " +
                    std::to_string(images.dims.size()) + " dimensions");
  if (labels.dims.size() != 1)
    throw DataError(labels_path + ": expected labels of shape [N], got " + std::to_string(labels.dims.size()) + " dimensions");
  if (images.dims[0] != labels.dims[0])
    throw DataError(labels_path + ": holds " + std::to_string(labels.dims[0]) + " labels but " + images_path + " holds " +
                    std::to_string(images.dims[0]) + " images");

  const int64_t total = images.dims[0];
  const int64_t n = limit > 0 ? std::min(limit, total) : total;
  std::vector<int64_t> shape = images.dims;
  if (shape.size() == 3) shape.insert(shape.begin() + 1, 1);
  shape[0] = n;

  const auto bytes = torch::from_blob(images.data.data(), shape, torch::kUInt8);
  TensorDataset split;
  split.inputs = bytes.to(torch::kFloat32).div_(255.0).sub_(config.mean).div_(config.std).contiguous();
  split.targets = torch::from_blob(labels.data.data(), {n}, torch::kUInt8).to(torch::kInt64);
  return split;
}

std::vector<std::string> classNames(const std::string& dataset, int64_t num_classes) {
  if (dataset == "fashion-mnist" && num_classes == 10)
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  std::vector<std::string> names;
  for (int64_t i = 0; i < num_classes; ++i) names.push_back(std::to_string(i));
  return names;
}

DatasetSplits loadIdxDataset(const DatasetConfig& config) {
  const fs::path folder = config.path.empty() ? defaultDatasetPath(config.name) : config.path;
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw DataError(folder.string() + ": dataset folder not found (dataset.path must be a folder with "
                    "train-images-idx3-ubyte[.gz] and the other IDX files" +
                    (config.name == "fashion-mnist" ? std::string("; install the Debian package dataset-fashion-mnist)") : ")"));

  DatasetSplits splits;
  splits.folder = folder.string();
  splits.train = loadSplit(folder, "train", config, config.limit_train);
  splits.test = loadSplit(folder, "t10k", config, config.limit_test);
  if (splits.train.inputs.sizes().slice(1) != splits.test.inputs.sizes().slice(1))
    throw DataError(folder.string() + ": train and t10k images have different shapes");
  const int64_t max_label =
      std::max(splits.train.targets.max().item<int64_t>(), splits.test.targets.max().item<int64_t>());
  splits.num_classes = max_label + 1;
  if (splits.num_classes < 2)
    throw DataError(folder.string() + ": labels hold a single class; at least two are needed to classify");
  splits.class_names = classNames(config.name, splits.num_classes);
  const auto sample_shape = splits.train.inputs.sizes().slice(1);
  splits.input_shape.assign(sample_shape.begin(), sample_shape.end());
  return splits;
}

}  // namespace

DatasetSplits loadDataset(const DatasetConfig& config, uint64_t split_seed) {
  if (config.name == "fashion-mnist" || config.name == "mnist" || config.name == "idx") return loadIdxDataset(config);
  if (config.name == "cifar10") return loadCifar(config, CifarVersion::kCifar10);
  if (config.name == "cifar100") return loadCifar(config, CifarVersion::kCifar100);
  if (config.name == "csv") return loadCsvDataset(config, split_seed);
  throw DataError("dataset.name '" + config.name + "': unknown dataset (expected fashion-mnist, mnist, idx, cifar10, "
                  "cifar100 or csv)");
}

}  // namespace distill
