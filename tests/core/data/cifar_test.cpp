#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/data/cifar.h"
#include "core/data/dataset.h"
#include "core/errors.h"
#include "support/test_support.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// A pixel value that differs by record, channel, row and column, so a wrong layout shows.
uint8_t pixelOf(int record, int channel, int y, int x) { return static_cast<uint8_t>((record * 7 + channel * 50 + y * 3 + x) % 256); }

// Writes binary records as the CIFAR archives hold them: label byte(s), then 3072 pixel bytes
// channel-major. `first_record` numbers the records across files for pixelOf.
void writeRecords(const fs::path& path, CifarVersion version, const std::vector<int>& labels, int first_record) {
  std::ofstream out(path, std::ios::binary);
  for (size_t i = 0; i < labels.size(); ++i) {
    const int record = first_record + static_cast<int>(i);
    if (version == CifarVersion::kCifar100) out.put(static_cast<char>(labels[i] % 20));  // coarse label
    out.put(static_cast<char>(labels[i]));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) out.put(static_cast<char>(pixelOf(record, c, y, x)));
  }
}

// CIFAR-10: train records 0..5 (labels 0..5) over five batch files, test records 100..102.
void writeCifar10(const fs::path& folder) {
  fs::create_directories(folder);
  writeRecords(folder / "data_batch_1.bin", CifarVersion::kCifar10, {0, 1}, 0);
  for (int b = 2; b <= 5; ++b)
    writeRecords(folder / ("data_batch_" + std::to_string(b) + ".bin"), CifarVersion::kCifar10, {b}, b);
  writeRecords(folder / "test_batch.bin", CifarVersion::kCifar10, {9, 8, 7}, 100);
}

void writeCifar100(const fs::path& folder) {
  fs::create_directories(folder);
  writeRecords(folder / "train.bin", CifarVersion::kCifar100, {0, 42, 99, 57}, 0);
  writeRecords(folder / "test.bin", CifarVersion::kCifar100, {23, 77}, 100);
}

void writeText(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

DatasetConfig cifarConfig(const std::string& name, const fs::path& folder) {
  DatasetConfig config;
  config.name = name;
  config.path = folder.string();
  config.mean = 0.5;
  config.std = 0.25;
  return config;
}

std::string loadError(const DatasetConfig& config) {
  try {
    loadDataset(config);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(Cifar, LoadsCifar10ShapesLabelsAndPixels) {
  TempDir dir;
  writeCifar10(dir.path());
  const auto splits = loadDataset(cifarConfig("cifar10", dir.path()));
  EXPECT_EQ(splits.num_classes, 10);
  EXPECT_EQ(splits.input_shape, (std::vector<int64_t>{3, 32, 32}));
  ASSERT_EQ(splits.train.inputs.sizes(), (std::vector<int64_t>{6, 3, 32, 32}));
  ASSERT_EQ(splits.test.inputs.sizes(), (std::vector<int64_t>{3, 3, 32, 32}));
  EXPECT_EQ(splits.train.inputs.scalar_type(), torch::kFloat32);
  EXPECT_EQ(splits.train.targets.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(splits.train.targets, torch::tensor({0, 1, 2, 3, 4, 5}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(splits.test.targets, torch::tensor({9, 8, 7}, torch::kInt64)));
  EXPECT_EQ(splits.class_names.size(), 10u);
  EXPECT_EQ(splits.class_names[0], "airplane");
  EXPECT_EQ(splits.class_names[9], "truck");

  // (x / 255 - mean) / std, channel-major, for pixels across files and channels.
  for (const auto& [split, record, index] : {std::tuple{&splits.train, 0, 0}, {&splits.train, 4, 4}, {&splits.test, 101, 1}})
    for (int c = 0; c < 3; ++c)
      for (const auto& [y, x] : {std::pair{0, 0}, {5, 31}, {31, 2}}) {
        const float expected = (pixelOf(record, c, y, x) / 255.0f - 0.5f) / 0.25f;
        EXPECT_NEAR(split->inputs[index][c][y][x].item<float>(), expected, 1e-5) << record << " " << c << " " << y << " " << x;
      }
}

TEST(Cifar, LoadsCifar100FineLabels) {
  TempDir dir;
  writeCifar100(dir.path());
  const auto splits = loadDataset(cifarConfig("cifar100", dir.path()));
  EXPECT_EQ(splits.num_classes, 100);
  EXPECT_TRUE(torch::equal(splits.train.targets, torch::tensor({0, 42, 99, 57}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(splits.test.targets, torch::tensor({23, 77}, torch::kInt64)));
  ASSERT_EQ(splits.class_names.size(), 100u);
  EXPECT_EQ(splits.class_names[42], "42");
  const float expected = (pixelOf(3, 2, 7, 9) / 255.0f - 0.5f) / 0.25f;
  EXPECT_NEAR(splits.train.inputs[3][2][7][9].item<float>(), expected, 1e-5);
}

TEST(Cifar, ReadsClassNameFiles) {
  TempDir dir;
  writeCifar10(dir.path() / "ten");
  std::string names;
  for (int i = 0; i < 10; ++i) names += "class " + std::to_string(i) + "\n";
  writeText(dir.path() / "ten" / "batches.meta.txt", names + "\n\n");  // the archive's file ends in blank lines
  const auto ten = loadDataset(cifarConfig("cifar10", dir.path() / "ten"));
  EXPECT_EQ(ten.class_names[3], "class 3");

  writeCifar100(dir.path() / "hundred");
  names.clear();
  for (int i = 0; i < 100; ++i) names += "fine" + std::to_string(i) + "\r\n";
  writeText(dir.path() / "hundred" / "fine_label_names.txt", names);
  const auto hundred = loadDataset(cifarConfig("cifar100", dir.path() / "hundred"));
  EXPECT_EQ(hundred.class_names[99], "fine99");
}

TEST(Cifar, FindsTheArchiveFolderInsideThePath) {
  TempDir dir;
  writeCifar10(dir.path() / "cifar-10-batches-bin");
  const auto splits = loadDataset(cifarConfig("cifar10", dir.path()));
  EXPECT_EQ(splits.train.size(), 6);
  EXPECT_EQ(splits.folder, (dir.path() / "cifar-10-batches-bin").string());
}

TEST(Cifar, LimitsKeepTheFirstRecordsAcrossFiles) {
  TempDir dir;
  writeCifar10(dir.path());
  auto config = cifarConfig("cifar10", dir.path());
  config.limit_train = 3;
  config.limit_test = 1;
  const auto splits = loadDataset(config);
  EXPECT_TRUE(torch::equal(splits.train.targets, torch::tensor({0, 1, 2}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(splits.test.targets, torch::tensor({9}, torch::kInt64)));
  const float expected = (pixelOf(2, 1, 3, 3) / 255.0f - 0.5f) / 0.25f;
  EXPECT_NEAR(splits.train.inputs[2][1][3][3].item<float>(), expected, 1e-5);
}

// Each broken folder, and the parts its error message must hold.
struct BrokenCase {
  std::string name;
  std::string dataset;
  std::function<void(const fs::path&)> breakIt;
  std::vector<std::string> expected;
};

class CifarErrors : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(CifarErrors, NameTheFileAndTheProblem) {
  TempDir dir;
  const auto& param = GetParam();
  if (param.dataset == "cifar10") writeCifar10(dir.path());
  else writeCifar100(dir.path());
  param.breakIt(dir.path());
  const std::string message = loadError(cifarConfig(param.dataset, dir.path()));
  ASSERT_FALSE(message.empty()) << "no error for " << param.name;
  for (const auto& part : param.expected) EXPECT_NE(message.find(part), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CifarErrors,
    ::testing::Values(
        BrokenCase{"MissingFilesAreListed", "cifar10",
                   [](const fs::path& f) {
                     fs::remove(f / "data_batch_3.bin");
                     fs::remove(f / "test_batch.bin");
                   },
                   {"missing data_batch_3.bin, test_batch.bin", "binary version"}},
        BrokenCase{"NoFilesAtAll", "cifar100",
                   [](const fs::path& f) {
                     fs::remove(f / "train.bin");
                     fs::remove(f / "test.bin");
                   },
                   {"no CIFAR-100 files here", "train.bin, test.bin", "cifar-100-binary.tar.gz"}},
        BrokenCase{"TruncatedFile", "cifar10",
                   [](const fs::path& f) { fs::resize_file(f / "data_batch_2.bin", 3073 - 100); },
                   {"data_batch_2.bin", "size 2973 bytes", "3073-byte", "truncated"}},
        BrokenCase{"TrailingBytes", "cifar100",
                   [](const fs::path& f) { std::ofstream(f / "test.bin", std::ios::app) << "xyz"; },
                   {"test.bin", "3074-byte CIFAR-100"}},
        BrokenCase{"EmptyFile", "cifar10", [](const fs::path& f) { fs::resize_file(f / "data_batch_5.bin", 0); },
                   {"data_batch_5.bin", "empty"}},
        BrokenCase{"Cifar10LabelOutOfRange", "cifar10",
                   [](const fs::path& f) {
                     writeRecords(f / "data_batch_4.bin", CifarVersion::kCifar10, {3, 10}, 0);
                   },
                   {"data_batch_4.bin", "record 1 has label 10", "expected 0..9"}},
        BrokenCase{"Cifar100FineLabelOutOfRange", "cifar100",
                   [](const fs::path& f) { writeRecords(f / "test.bin", CifarVersion::kCifar100, {100}, 0); },
                   {"test.bin", "record 0 has label 100", "expected 0..99"}},
        BrokenCase{"Cifar100FolderGivenAsCifar10", "cifar100",
                   [](const fs::path& f) {
                     fs::rename(f / "train.bin", f / "data_batch_1.bin");
                   },
                   {"missing train.bin"}},
        BrokenCase{"WrongNumberOfClassNames", "cifar10",
                   [](const fs::path& f) { writeText(f / "batches.meta.txt", "cat\ndog\n"); },
                   {"batches.meta.txt", "holds 2 class names, expected 10"}},
        BrokenCase{"FolderNotFound", "cifar10", [](const fs::path& f) { fs::remove_all(f); },
                   {"CIFAR-10 folder not found"}}),
    [](const auto& info) { return info.param.name; });

TEST(Cifar, ReadsNoFurtherThanTheLimit) {
  // A limit smaller than the first file leaves later (here broken) files unread.
  TempDir dir;
  writeCifar10(dir.path());
  writeText(dir.path() / "data_batch_5.bin", "junk");
  const auto records = readCifarFiles({(dir.path() / "data_batch_1.bin").string(), (dir.path() / "data_batch_5.bin").string()},
                                      CifarVersion::kCifar10, 2);
  EXPECT_EQ(records.pixels.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_EQ(records.pixels[1][2][31][31].item<uint8_t>(), pixelOf(1, 2, 31, 31));
}

}  // namespace
}  // namespace distill
