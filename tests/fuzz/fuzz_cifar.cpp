// libFuzzer target: readCifarFiles on arbitrary bytes. The first byte picks CIFAR-10 or
// CIFAR-100 and a record limit; the rest is the batch file. DataError is the only accepted
// way to refuse.
#include <cstddef>
#include <cstdint>

#include "core/data/cifar.h"
#include "core/errors.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto version = (data[0] & 1) ? distill::CifarVersion::kCifar100 : distill::CifarVersion::kCifar10;
  const int64_t limit = (data[0] >> 1) & 3;  // 0 (all), 1, 2 or 3 records
  distill::fuzz::MemoryFile file(data + 1, size - 1);
  try {
    const auto records = distill::readCifarFiles({file.path()}, version, limit);
    const int64_t n = records.labels.size(0);
    if (records.pixels.size(0) != n || (limit > 0 && n > limit)) __builtin_trap();
    const int64_t classes = distill::cifarLayout(version).num_classes;
    if (n > 0 && records.labels.max().item<int64_t>() >= classes) __builtin_trap();
  } catch (const distill::DataError&) {
  }
  return 0;
}
