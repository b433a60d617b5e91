// The teacher's top-k cache file (core/train/teacher_topk_cache.h): written in chunks, mapped
// and read back as the numbers the losses compute from the logits; opened only when complete
// and made by the same teacher from the same inputs with the same k; a file that cannot be
// written is an error that leaves nothing behind.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/losses/loss.h"
#include "core/train/teacher_topk_cache.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

struct Logits {
  torch::Tensor all;  // [rows, positions, classes]
  TeacherTopkCache::TeacherLogits chunks() const {
    return [this](int64_t begin, int64_t end) { return all.slice(0, begin, end); };
  }
};

TEST(TeacherTopkCacheFile, KeepsTheTopKOfEveryPositionAndMapsThemBack) {
  TempDir dir;
  torch::manual_seed(6);
  const Logits logits{torch::randn({10, 3, 16})};
  const TopkCacheSource source{11, 22};
  const auto cache = TeacherTopkCache::build(dir.file("topk.bin"), 10, /*k=*/4, source, /*chunk_rows=*/3, logits.chunks());
  EXPECT_EQ(cache->k(), 4);
  EXPECT_EQ(cache->classes(), 16);
  EXPECT_EQ(cache->positionsPerRow(), 3);
  EXPECT_EQ(cache->fileBytes(), 128 + 2 * 10 * 3 * 4 * 4);  // header, then int32 classes and float32 log-probs
  EXPECT_EQ(std::filesystem::file_size(dir.file("topk.bin")), static_cast<uintmax_t>(cache->fileBytes()));
  EXPECT_FALSE(std::filesystem::exists(dir.file("topk.bin.partial")));

  const auto indices = torch::tensor({7, 2, 9}, torch::kInt64);
  const auto [log_probs, classes] = cache->rows(indices);
  const auto [expected_log_probs, expected_classes] =
      topkLogProbs(logits.all.index_select(0, indices).reshape({-1, 16}), 4);
  EXPECT_EQ(log_probs.sizes(), (std::vector<int64_t>{3, 3, 4}));
  EXPECT_TRUE(torch::equal(log_probs.reshape({-1, 4}), expected_log_probs));
  EXPECT_TRUE(torch::equal(classes.reshape({-1, 4}), expected_classes));
  EXPECT_EQ(classes.scalar_type(), torch::kInt64);

  // What the top 4 leave out: the mass outside them, and the KL of spreading it evenly.
  const auto p = torch::softmax(logits.all.to(torch::kFloat64).reshape({-1, 16}), -1);
  const auto sorted = std::get<0>(p.sort(-1, /*descending=*/true));
  const auto rest = sorted.slice(1, 4);
  const auto rest_mass = rest.sum(-1);
  const auto spread = rest_mass / 12.0;
  const auto kl = (rest * (rest.log() - spread.log().unsqueeze(1))).sum(-1);
  EXPECT_NEAR(cache->meanTailMass(), rest_mass.mean().item<double>(), 1e-6);
  EXPECT_NEAR(cache->meanSpreadKl(), kl.mean().item<double>(), 1e-6);
  EXPECT_GT(cache->meanSpreadKl(), 0.0);

  // More than the classes: all of them, and nothing left out.
  const auto every = TeacherTopkCache::build(dir.file("all.bin"), 10, /*k=*/20, source, 4, logits.chunks());
  EXPECT_EQ(every->k(), 16);
  EXPECT_EQ(every->meanTailMass(), 0.0);
  EXPECT_EQ(every->meanSpreadKl(), 0.0);
  // No folder: a temporary file, gone from the disk once mapped.
  const auto unnamed = TeacherTopkCache::build("", 10, 4, source, 10, logits.chunks());
  EXPECT_TRUE(torch::equal(unnamed->rows(indices).first, log_probs));
}

TEST(TeacherTopkCacheFile, OpensOnlyACompleteFileOfTheSameTeacherInputsAndK) {
  TempDir dir;
  torch::manual_seed(7);
  const Logits logits{torch::randn({8, 5, 12})};
  const std::string path = dir.file("topk.bin");
  const TopkCacheSource source{101, 202};
  auto reasonFor = [&](int64_t rows, int64_t k, TopkCacheSource wanted) {
    std::string reason;
    const auto cache = TeacherTopkCache::open(path, rows, k, wanted, reason);
    return cache ? std::string("opened") : reason;
  };
  EXPECT_EQ(reasonFor(8, 3, source), "there is none yet");
  TeacherTopkCache::build(path, 8, 3, source, 3, logits.chunks());
  EXPECT_EQ(reasonFor(8, 3, source), "opened");
  EXPECT_EQ(reasonFor(8, 3, {999, 202}), "it was made by another teacher");
  EXPECT_EQ(reasonFor(8, 3, {101, 999}), "it was made from other training inputs");
  EXPECT_EQ(reasonFor(7, 3, source), "it was made from other training inputs");
  EXPECT_EQ(reasonFor(8, 4, source), "it keeps 3 log-probabilities per position, not 4");
  // A file cut short (a full disk, a copy interrupted) is not read.
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size - 100);
  EXPECT_EQ(reasonFor(8, 3, source), "it is cut short: " + std::to_string(size - 100) + " of " + std::to_string(size) + " bytes");
  std::filesystem::resize_file(path, 50);
  EXPECT_EQ(reasonFor(8, 3, source), "it is cut short: 50 bytes, less than its header");
  // A damaged header, another file under the name.
  TeacherTopkCache::build(path, 8, 3, source, 3, logits.chunks());
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(16);  // rows
    file.put('\x09');
  }
  EXPECT_EQ(reasonFor(8, 3, source), "its header is damaged");
  std::ofstream(path, std::ios::binary) << std::string(4096, 'x');
  EXPECT_EQ(reasonFor(8, 3, source), "it is not a top-k cache file");
}

TEST(TeacherTopkCacheFile, AFileThatCannotBeWrittenIsAnErrorNamingItAndLeavesNothing) {
  TempDir dir;
  const Logits logits{torch::randn({4, 2, 8})};
  const std::string path = dir.file("missing-folder/topk.bin");
  try {
    TeacherTopkCache::build(path, 4, 2, {1, 2}, 2, logits.chunks());
    FAIL() << "wrote into a missing folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing-folder/topk.bin"), std::string::npos) << e.what();
  }
  // Teacher outputs that fail half way: no file, no partial file.
  const std::string half = dir.file("half.bin");
  EXPECT_THROW(TeacherTopkCache::build(half, 4, 2, {1, 2}, 2,
                                       [&](int64_t begin, int64_t end) -> torch::Tensor {
                                         if (begin > 0) throw std::runtime_error("teacher failed");
                                         return logits.all.slice(0, begin, end);
                                       }),
               std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(half));
  EXPECT_FALSE(std::filesystem::exists(half + ".partial"));
}

}  // namespace
}  // namespace distill
