#include "core/data/cifar.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "core/errors.h"

namespace distill {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kPixelBytes = 3 * 32 * 32;

// Class names are short words; a names file far larger than this is not a names file.
constexpr uintmax_t kMaxNamesFileBytes = 1 << 20;

std::string versionName(CifarVersion version) { return version == CifarVersion::kCifar10 ? "CIFAR-10" : "CIFAR-100"; }

// Reads `count` records starting at record 0 of one file whose size was already checked.
torch::Tensor readRecords(const std::string& path, int64_t count, int64_t record_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open file");
  auto records = torch::empty({count, record_bytes}, torch::kUInt8);
  const auto bytes = static_cast<std::streamsize>(count * record_bytes);
  in.read(reinterpret_cast<char*>(records.data_ptr<uint8_t>()), bytes);
  if (in.gcount() != bytes) throw DataError(path + ": read failed after " + std::to_string(in.gcount()) + " bytes");
  return records;
}

// Names one a line, blank lines ignored (batches.meta.txt ends with blank lines).
std::vector<std::string> readNames(const std::string& path, int64_t expected) {
  std::error_code ec;
  if (fs::file_size(path, ec) > kMaxNamesFileBytes)
    throw DataError(path + ": too large for a class-names file (expected one name a line)");
  std::ifstream in(path);
  if (!in) throw DataError(path + ": cannot open file");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    const auto begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos) continue;
    const auto end = line.find_last_not_of(" \t\r");
    names.push_back(line.substr(begin, end - begin + 1));
  }
  if (static_cast<int64_t>(names.size()) != expected)
    throw DataError(fmt::format("{}: holds {} class names, expected {} (one a line)", path, names.size(), expected));
  return names;
}

// The folder with the .bin files: dataset.path itself, or the folder the archive unpacks to
// inside it (cifar-10-batches-bin, cifar-100-binary), so both spellings of the path work.
fs::path dataFolder(const fs::path& path, const CifarLayout& layout, CifarVersion version) {
  std::error_code ec;
  if (!fs::is_directory(path, ec))
    throw DataError(path.string() + ": " + versionName(version) +
                    " folder not found (dataset.path must be the folder of the binary version, with " +
                    layout.test_file + ")");
  if (!fs::exists(path / layout.test_file, ec) && fs::is_directory(path / layout.archive_folder, ec))
    return path / layout.archive_folder;
  return path;
}

// Throws one error naming every file that is missing, so one look fixes the folder.
void requireFiles(const fs::path& folder, const std::vector<std::string>& names, CifarVersion version) {
  std::vector<std::string> missing;
  for (const auto& name : names) {
    std::error_code ec;
    if (!fs::is_regular_file(folder / name, ec)) missing.push_back(name);
  }
  if (missing.empty()) return;
  const std::string archive = version == CifarVersion::kCifar10 ? "cifar-10-binary.tar.gz" : "cifar-100-binary.tar.gz";
  if (missing.size() == names.size())
    throw DataError(fmt::format("{}: no {} files here (expected {} from the binary version, {}; the Python and "
                                "MATLAB versions are not read)",
                                folder.string(), versionName(version), fmt::join(names, ", "), archive));
  throw DataError(fmt::format("{}: missing {} (the {} binary version, {}, holds {})", folder.string(),
                              fmt::join(missing, ", "), versionName(version), archive, fmt::join(names, ", ")));
}

}  // namespace

const CifarLayout& cifarLayout(CifarVersion version) {
  static const CifarLayout cifar10{
      /*label_offset=*/0,
      /*record_bytes=*/1 + kPixelBytes,
      /*num_classes=*/10,
      {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
      "test_batch.bin",
      "batches.meta.txt",
      "cifar-10-batches-bin"};
  static const CifarLayout cifar100{
      /*label_offset=*/1,  // byte 0 is the coarse (superclass) label
      /*record_bytes=*/2 + kPixelBytes,
      /*num_classes=*/100,
      {"train.bin"},
      "test.bin",
      "fine_label_names.txt",
      "cifar-100-binary"};
  return version == CifarVersion::kCifar10 ? cifar10 : cifar100;
}

CifarRecords readCifarFiles(const std::vector<std::string>& paths, CifarVersion version, int64_t limit) {
  const CifarLayout& layout = cifarLayout(version);
  std::vector<torch::Tensor> parts;
  int64_t total = 0;
  for (const auto& path : paths) {
    if (limit > 0 && total >= limit) break;
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) throw DataError(path + ": cannot read file size (" + ec.message() + ")");
    if (size == 0) throw DataError(path + ": file is empty (expected " + versionName(version) + " binary records)");
    // The size is checked before anything is allocated: a truncated download or a file of
    // the Python version (pickles) fails here rather than as garbage images.
    if (size % static_cast<uintmax_t>(layout.record_bytes) != 0)
      throw DataError(fmt::format("{}: size {} bytes is not a whole number of {}-byte {} records (truncated, or "
                                  "not the binary version?)",
                                  path, size, layout.record_bytes, versionName(version)));
    const auto available = static_cast<int64_t>(size / static_cast<uintmax_t>(layout.record_bytes));
    const int64_t count = limit > 0 ? std::min(available, limit - total) : available;
    const auto records = readRecords(path, count, layout.record_bytes);

    const auto labels = records.select(1, layout.label_offset);
    const auto out_of_range = labels.ge(layout.num_classes).nonzero();
    if (out_of_range.size(0) > 0) {
      const int64_t record = out_of_range[0][0].item<int64_t>();
      throw DataError(fmt::format("{}: record {} has label {}, expected 0..{} (not a {} file?)", path, record,
                                  labels[record].item<int64_t>(), layout.num_classes - 1, versionName(version)));
    }
    parts.push_back(records);
    total += count;
  }
  const auto records = torch::cat(parts);
  CifarRecords result;
  result.labels = records.select(1, layout.label_offset).contiguous();
  result.pixels = records.slice(1, layout.record_bytes - kPixelBytes).reshape({-1, 3, 32, 32}).contiguous();
  return result;
}

DatasetSplits loadCifar(const DatasetConfig& config, CifarVersion version) {
  const CifarLayout& layout = cifarLayout(version);
  const fs::path folder = dataFolder(config.path, layout, version);
  std::vector<std::string> required = layout.train_files;
  required.push_back(layout.test_file);
  requireFiles(folder, required, version);

  std::vector<std::string> train_paths;
  for (const auto& name : layout.train_files) train_paths.push_back((folder / name).string());
  const auto to_split = [&config](const CifarRecords& records) {
    TensorDataset split;
    split.inputs = records.pixels.to(torch::kFloat32).div_(255.0).sub_(config.mean).div_(config.std).contiguous();
    split.targets = records.labels.to(torch::kInt64);
    return split;
  };

  DatasetSplits splits;
  splits.folder = folder.string();
  splits.train = to_split(readCifarFiles(train_paths, version, config.limit_train));
  splits.test = to_split(readCifarFiles({(folder / layout.test_file).string()}, version, config.limit_test));
  splits.num_classes = layout.num_classes;
  splits.input_shape = {3, 32, 32};

  std::error_code ec;
  const fs::path names_path = folder / layout.names_file;
  if (fs::is_regular_file(names_path, ec)) {
    splits.class_names = readNames(names_path.string(), layout.num_classes);
  } else if (version == CifarVersion::kCifar10) {
    splits.class_names = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  } else {
    for (int64_t i = 0; i < layout.num_classes; ++i) splits.class_names.push_back(std::to_string(i));
  }
  return splits;
}

}  // namespace distill
