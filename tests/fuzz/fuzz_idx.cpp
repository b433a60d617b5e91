// libFuzzer target: readIdxFile on arbitrary bytes (raw or gzip). It may refuse the input with
// DataError; anything else (a crash, a sanitizer report, another exception, a huge allocation
// that trips -rss_limit_mb / -malloc_limit_mb) is a bug.
#include <cstddef>
#include <cstdint>

#include "core/data/idx.h"
#include "core/errors.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  distill::fuzz::MemoryFile file(data, size);
  try {
    const distill::IdxArray array = distill::readIdxFile(file.path());
    // What is accepted must be self-consistent: the dims' product is the data size.
    size_t count = 1;
    for (auto dim : array.dims) count *= static_cast<size_t>(dim);
    if (count != array.data.size()) __builtin_trap();
  } catch (const distill::DataError&) {
  }
  return 0;
}
