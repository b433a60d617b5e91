#include <gtest/gtest.h>

#include <fstream>

#include "core/data/dataset.h"
#include "core/train/batch_sampler.h"
#include "core/data/idx.h"
#include "core/errors.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

void writeBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::string errorOf(const std::string& path) {
  try {
    readIdxFile(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

class IdxRoundTrip : public ::testing::TestWithParam<bool> {};

TEST_P(IdxRoundTrip, ReadsWhatWasWritten) {
  TempDir dir;
  IdxArray array{{3, 2, 4}, {}};
  for (int i = 0; i < 24; ++i) array.data.push_back(static_cast<uint8_t>(i * 10));
  const std::string path = dir.file(GetParam() ? "a.gz" : "a");
  writeIdxFile(path, array, GetParam());
  const auto read = readIdxFile(path);
  EXPECT_EQ(read.dims, array.dims);
  EXPECT_EQ(read.data, array.data);
}

INSTANTIATE_TEST_SUITE_P(GzipAndRaw, IdxRoundTrip, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "gzip" : "raw"; });

TEST(Idx, MissingFileIsNamed) { EXPECT_NE(errorOf("/nonexistent/x-idx3-ubyte").find("/nonexistent/x-idx3-ubyte"), std::string::npos); }

TEST(Idx, WrongMagicIsRejected) {
  TempDir dir;
  writeBytes(dir.file("bad"), {0x1f, 0x00, 0x08, 0x01, 0, 0, 0, 1, 7});
  EXPECT_NE(errorOf(dir.file("bad")).find("wrong magic"), std::string::npos);
  writeBytes(dir.file("text"), {'h', 'e', 'l', 'l', 'o', '\n'});
  EXPECT_NE(errorOf(dir.file("text")).find("wrong magic"), std::string::npos);
}

TEST(Idx, UnsupportedElementTypeIsRejected) {
  TempDir dir;
  writeBytes(dir.file("float"), {0, 0, 0x0D, 0x01, 0, 0, 0, 1, 0, 0, 0, 0});
  EXPECT_NE(errorOf(dir.file("float")).find("element type 0x0d"), std::string::npos);
}

TEST(Idx, TruncatedBodyIsRejectedWithCounts) {
  TempDir dir;
  writeBytes(dir.file("short"), {0, 0, 0x08, 0x01, 0, 0, 0, 10, 1, 2, 3});
  const auto message = errorOf(dir.file("short"));
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find("10 bytes"), std::string::npos) << message;
}

TEST(Idx, TruncatedGzipIsRejected) {
  TempDir dir;
  IdxArray array{{1000, 28, 28}, std::vector<uint8_t>(1000 * 784, 7)};
  writeIdxFile(dir.file("full.gz"), array, true);
  std::ifstream in(dir.file("full.gz"), std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  bytes.resize(bytes.size() / 2);
  writeBytes(dir.file("half.gz"), bytes);
  EXPECT_FALSE(errorOf(dir.file("half.gz")).empty());
}

TEST(Idx, TrailingBytesAreRejected) {
  TempDir dir;
  writeBytes(dir.file("long"), {0, 0, 0x08, 0x01, 0, 0, 0, 2, 1, 2, 3});
  EXPECT_NE(errorOf(dir.file("long")).find("more data"), std::string::npos);
}

TEST(Idx, HugeClaimedDimensionsFailBeforeAllocating) {
  TempDir dir;
  // 60000 x 65535 x 65535 bytes claimed in a 20-byte file.
  writeBytes(dir.file("huge"), {0, 0, 0x08, 0x03, 0, 0, 0xEA, 0x60, 0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4});
  EXPECT_NE(errorOf(dir.file("huge")).find("4 GiB"), std::string::npos);
  // Just under the bound: must fail as truncated, not allocate gigabytes.
  writeBytes(dir.file("big"), {0, 0, 0x08, 0x01, 0x7F, 0xFF, 0xFF, 0xFF, 1, 2});
  EXPECT_NE(errorOf(dir.file("big")).find("truncated"), std::string::npos);
}

TEST(Dataset, LoadsAFolderOfIdxFilesNormalisedWithLimits) {
  TempDir dir;
  testing::writeToyIdxDataset(dir.path(), 200, 50, 4, /*gzip=*/true);
  DatasetConfig config;
  config.name = "idx";
  config.path = dir.path().string();
  config.limit_train = 120;
  config.mean = 0.5;
  config.std = 0.25;
  const auto splits = loadDataset(config);
  EXPECT_EQ(splits.train.size(), 120);
  EXPECT_EQ(splits.test.size(), 50);
  EXPECT_EQ(splits.num_classes, 4);
  EXPECT_EQ(splits.input_shape, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(splits.train.inputs.sizes(), (std::vector<int64_t>{120, 1, 28, 28}));
  // 230/255 normalised with mean 0.5 and std 0.25.
  EXPECT_NEAR(splits.train.inputs.max().item<float>(), (230.0 / 255.0 - 0.5) / 0.25, 1e-5);
  EXPECT_EQ(splits.train.targets.dtype(), torch::kInt64);
}

TEST(Dataset, MismatchedImageAndLabelCountsNameBothFiles) {
  TempDir dir;
  testing::writeToyIdxDataset(dir.path(), 30, 10, 3, false);
  writeIdxFile(dir.file("train-labels-idx1-ubyte"), IdxArray{{29}, std::vector<uint8_t>(29, 1)}, false);
  DatasetConfig config;
  config.name = "idx";
  config.path = dir.path().string();
  try {
    loadDataset(config);
    FAIL() << "accepted mismatched files";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("train-labels-idx1-ubyte"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("29 labels"), std::string::npos) << e.what();
  }
}

TEST(Dataset, MissingFolderAndFilesAreNamed) {
  TempDir dir;
  DatasetConfig config;
  config.name = "idx";
  config.path = dir.file("nope");
  EXPECT_THROW(loadDataset(config), DataError);
  config.path = dir.path().string();
  try {
    loadDataset(config);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("train-images-idx3-ubyte"), std::string::npos);
  }
}

TEST(BatchSampler, CoversEveryIndexOncePerEpochAndIsSeeded) {
  BatchSampler a(10, 4, 7), b(10, 4, 7), c(10, 4, 8);
  a.reshuffle();
  b.reshuffle();
  c.reshuffle();
  EXPECT_EQ(a.batchesPerEpoch(), 3);
  std::vector<int64_t> seen;
  for (int64_t i = 0; i < a.batchesPerEpoch(); ++i) {
    const auto batch = a.batch(i);
    EXPECT_TRUE(torch::equal(batch, b.batch(i)));
    for (int64_t j = 0; j < batch.size(0); ++j) seen.push_back(batch[j].item<int64_t>());
  }
  EXPECT_EQ(a.batch(2).size(0), 2);  // the partial last batch is kept
  std::sort(seen.begin(), seen.end());
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
  bool differs = false;
  for (int64_t i = 0; i < 3; ++i) differs = differs || !torch::equal(a.batch(i), c.batch(i));
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace distill
