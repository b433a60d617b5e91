#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cstdio>

#include "core/data/augment.h"

namespace distill {
namespace {

using torch::indexing::Slice;

torch::Generator seeded(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// Every pixel distinct, and no image equal to its own mirror or to a shift of itself.
torch::Tensor distinctImages(int64_t n, int64_t channels = 3, int64_t size = 8) {
  return torch::arange(n * channels * size * size, torch::kFloat32).add_(1).view({n, channels, size, size});
}

torch::Tensor longs(std::vector<int64_t> values) { return torch::tensor(values, torch::kInt64); }

TEST(Augment, KeepsShapeDtypeAndDevice) {
  auto generator = seeded(1);
  const auto batch = torch::randn({5, 3, 32, 32});
  const auto out = augmentImages(batch, generator);
  EXPECT_EQ(out.sizes(), batch.sizes());
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  EXPECT_EQ(out.device(), batch.device());
  EXPECT_EQ(augmentImages(torch::randn({0, 1, 28, 28}), generator).size(0), 0);
  EXPECT_EQ(augmentImages(torch::randn({2, 1, 28, 20}), generator).sizes(), (std::vector<int64_t>{2, 1, 28, 20}));
}

TEST(Augment, IsDeterministicPerSeed) {
  const auto batch = distinctImages(32);
  auto a = seeded(42), b = seeded(42), c = seeded(43);
  const auto first = augmentImages(batch, a);
  EXPECT_TRUE(torch::equal(first, augmentImages(batch, b)));
  EXPECT_FALSE(torch::equal(first, augmentImages(batch, c)));
  // The generator advances: the next batch is augmented differently.
  EXPECT_FALSE(torch::equal(first, augmentImages(batch, a)));
}

TEST(Augment, CentredCropIsTheImageAndFlipIsItsMirror) {
  const auto batch = distinctImages(2);
  const auto centre = longs({4, 4});
  const auto same = cropAndFlip(batch, centre, centre, longs({0, 0}), /*padding=*/4);
  EXPECT_TRUE(torch::equal(same, batch));

  // An asymmetric image, written out, against its mirror written out.
  const auto image = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}).view({1, 1, 2, 3});
  const auto mirror = torch::tensor({3.0f, 2.0f, 1.0f, 6.0f, 5.0f, 4.0f}).view({1, 1, 2, 3});
  EXPECT_TRUE(torch::equal(cropAndFlip(image, longs({4}), longs({4}), longs({1}), 4), mirror));
  EXPECT_TRUE(torch::equal(cropAndFlip(batch, centre, centre, longs({1, 0}), 4)[0], batch[0].flip(2)));
  EXPECT_TRUE(torch::equal(cropAndFlip(batch, centre, centre, longs({1, 0}), 4)[1], batch[1]));
}

TEST(Augment, CropsAreShiftsOfThePaddedImage) {
  const auto batch = distinctImages(1, 2, 6);
  const auto padded = torch::constant_pad_nd(batch, {4, 4, 4, 4}, -7.0);
  for (int64_t dy = 0; dy <= 8; ++dy)
    for (int64_t dx = 0; dx <= 8; ++dx) {
      const auto crop = cropAndFlip(batch, longs({dy}), longs({dx}), longs({0}), 4, /*fill=*/-7.0);
      const auto window = padded.index({Slice(), Slice(), Slice(dy, dy + 6), Slice(dx, dx + 6)});
      ASSERT_TRUE(torch::equal(crop, window)) << dy << "," << dx;
      const auto flipped = cropAndFlip(batch, longs({dy}), longs({dx}), longs({1}), 4, -7.0);
      ASSERT_TRUE(torch::equal(flipped, window.flip(3))) << dy << "," << dx;
    }
  // Offset (0, 0) puts 4 rows and columns of padding in the top-left corner.
  const auto corner = cropAndFlip(batch, longs({0}), longs({0}), longs({0}), 4);
  EXPECT_EQ(corner.index({0, 0, Slice(0, 4), Slice(0, 4)}).abs().sum().item<float>(), 0.0f);
}

TEST(Augment, EachSampleIsSomeCropOrMirrorAndBothOccur) {
  const int64_t n = 64;
  const auto batch = distinctImages(n, 1, 6);
  auto generator = seeded(7);
  const auto out = augmentImages(batch, generator);
  const auto padded = torch::constant_pad_nd(batch, {4, 4, 4, 4}, 0.0);
  int flips = 0, shifted = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool found = false;
    for (int64_t dy = 0; dy <= 8 && !found; ++dy)
      for (int64_t dx = 0; dx <= 8 && !found; ++dx) {
        const auto window = padded.index({i, Slice(), Slice(dy, dy + 6), Slice(dx, dx + 6)});
        for (bool flip : {false, true}) {
          if (torch::equal(out[i], flip ? window.flip(2) : window)) {
            found = true;
            flips += flip;
            shifted += dy != 4 || dx != 4;
            break;
          }
        }
      }
    EXPECT_TRUE(found) << "sample " << i << " is not a crop of its padded image";
  }
  // p = 0.5 flips and 80 of 81 offsets shifted: all-or-nothing would be astronomically unlikely.
  EXPECT_GT(flips, 10);
  EXPECT_LT(flips, 54);
  EXPECT_GT(shifted, 50);
}

TEST(Augment, OptionsTurnFlipOffAndSetPadding) {
  const auto batch = distinctImages(16, 1, 5);
  auto generator = seeded(3);
  AugmentOptions no_flip_no_pad;
  no_flip_no_pad.padding = 0;
  no_flip_no_pad.flip = false;
  EXPECT_TRUE(torch::equal(augmentImages(batch, generator, no_flip_no_pad), batch));
}

TEST(Augment, RejectsWhatIsNotAnImageBatch) {
  auto generator = seeded(1);
  EXPECT_THROW(augmentImages(torch::randn({4, 10}), generator), std::invalid_argument);
  EXPECT_THROW(cropAndFlip(distinctImages(2), longs({0, 9}), longs({0, 0}), longs({0, 0}), 4), std::invalid_argument);
  EXPECT_THROW(cropAndFlip(distinctImages(2), longs({0}), longs({0, 0}), longs({0, 0}), 4), std::invalid_argument);
}

// Not part of the normal run: --gtest_also_run_disabled_tests --gtest_filter='*Benchmark*'.
TEST(AugmentBenchmark, DISABLED_CifarBatchOf128) {
  const auto batch = torch::randn({128, 3, 32, 32});
  auto generator = seeded(1);
  for (int i = 0; i < 20; ++i) augmentImages(batch, generator);  // warm-up
  const int rounds = 500;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) augmentImages(batch, generator);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("augmentImages, [128, 3, 32, 32] on CPU (%d threads): %.0f samples/s, %.3f ms a batch\n",
              torch::get_num_threads(), rounds * 128 / seconds, 1000.0 * seconds / rounds);
}

}  // namespace
}  // namespace distill
