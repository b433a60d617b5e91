#include "core/train/data_parallel.h"

#include <algorithm>

namespace distill {

torch::Tensor DataParallel::shard(const torch::Tensor& indices) const {
  const int64_t size = indices.size(0);
  const int64_t world = worldSize();
  const int64_t r = rank();
  const int64_t base = size / world, extra = size % world;
  const int64_t begin = r * base + std::min(r, extra);
  const int64_t length = base + (r < extra ? 1 : 0);
  return indices.slice(0, begin, begin + length);
}

}  // namespace distill
