#include "core/models/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <mutex>

#include "core/errors.h"

namespace distill {

namespace {

// SplitMix64's output function (Steele, Lea and Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014): applied to seed + i * golden gamma, as SplitMix64 itself does, it
// gives a stream that passes BigCrush, and any element is computable without its predecessors.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;
// Pairs of mask elements per task when torch's intra-op threads share the work.
constexpr int64_t kPairsPerTask = 1 << 14;

uint64_t drawSeed() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

// `count` floats, each 0 or `scale`, kept with probability `keep` (0 < keep < 1), a pure
// function of `seed`. Pair i uses the hash of seed + (i + 1) * gamma, so torch's intra-op
// threads can fill disjoint ranges of pairs and the mask is the same for any thread count.
void fillDropoutMask(float* mask, int64_t count, double keep, float scale, uint64_t seed) {
  // Keep when a uniform 32-bit word is below keep * 2^32 (exact to 2^-32). Branch-free (a
  // multiply by 0 or 1): kept or not is random, so a branch here was mispredicted for a fifth of
  // the elements at p = 0.2, which cost more than the hash.
  const uint64_t threshold = static_cast<uint64_t>(std::ldexp(keep, 32));
  auto value = [threshold, scale](uint64_t word) { return scale * static_cast<float>(word < threshold); };
  const int64_t pairs = count / 2;
  at::parallel_for(0, pairs, kPairsPerTask, [&](int64_t begin, int64_t end) {
    uint64_t state = seed + static_cast<uint64_t>(begin) * kGoldenGamma;
    for (int64_t i = begin; i < end; ++i) {
      state += kGoldenGamma;
      const uint64_t z = mix64(state);
      mask[2 * i] = value(z & 0xFFFFFFFFULL);
      mask[2 * i + 1] = value(z >> 32);
    }
  });
  if (count % 2) {
    const uint64_t last = seed + static_cast<uint64_t>(pairs + 1) * kGoldenGamma;
    mask[count - 1] = value(mix64(last) & 0xFFFFFFFFULL);
  }
}

}  // namespace

FastDropoutImpl::FastDropoutImpl(const FastDropoutOptions& options_) : options(options_) { reset(); }

void FastDropoutImpl::reset() {
  if (!(options.p() >= 0.0 && options.p() <= 1.0))
    throw ModelError("dropout probability must be between 0 and 1, got " + std::to_string(options.p()));
}

void FastDropoutImpl::pretty_print(std::ostream& stream) const { stream << "distill::FastDropout(p=" << options.p() << ")"; }

torch::Tensor FastDropoutImpl::forward(torch::Tensor input) {
  const double p = options.p();
  if (!is_training() || p == 0.0) return input;
  if (p == 1.0 || !input.device().is_cpu() || input.scalar_type() != torch::kFloat32)
    return torch::dropout(input, p, /*train=*/true);
  const double keep = 1.0 - p;
  // ATen's dropout divides its 0/1 noise by (1 - p) in the input's dtype; so does this.
  const float scale = 1.0f / static_cast<float>(keep);
  auto mask = torch::empty(input.sizes(), input.options().requires_grad(false));
  fillDropoutMask(mask.data_ptr<float>(), mask.numel(), keep, scale, drawSeed());
  return input * mask;
}

}  // namespace distill
