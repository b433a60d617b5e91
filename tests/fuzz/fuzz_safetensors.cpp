// libFuzzer target: the header of a safetensors file (core/hf/safetensors_header). DataError is
// the only accepted refusal. A header that parses must describe a data section that its tensors
// tile exactly, inside the file, with each tensor's byte count matching its shape and dtype;
// every byte of every tensor is read, so that a range the parser let through beyond the file is
// an AddressSanitizer report.
//
// Each input is parsed twice: as the whole file, and as header text up to its first NUL byte
// with the rest as the data section, behind a length prefix that fits. The second form lets
// mutations of the JSON reach the checks past the length, which a mutated length rarely does.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/errors.h"
#include "core/hf/safetensors_header.h"

namespace {

void check(const uint8_t* data, size_t size) {
  try {
    const auto header = distill::parseSafetensorsHeader(data, size, size, "fuzz.safetensors");
    if (header.data_offset != 8 + header.header_bytes || header.data_offset + header.data_bytes != size) {
      __builtin_trap();
    }
    uint64_t position = 0;
    volatile uint8_t sink = 0;
    for (const auto& entry : header.entries) {
      const size_t item_size = distill::safetensorsItemSize(entry.dtype);
      if (item_size == 0 || entry.begin != position || entry.end < entry.begin) __builtin_trap();
      if (static_cast<uint64_t>(entry.elements()) * item_size != entry.bytes()) __builtin_trap();
      for (int64_t dim : entry.shape) {
        if (dim < 0) __builtin_trap();
      }
      const uint8_t* bytes = data + header.data_offset + entry.begin;
      for (uint64_t i = 0; i < entry.bytes(); ++i) sink = sink ^ bytes[i];
      position = entry.end;
    }
    if (position != header.data_bytes) __builtin_trap();
    (void)sink;
  } catch (const distill::DataError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check(data, size);

  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t header_size = nul ? static_cast<size_t>(nul - data) : size;
  std::vector<uint8_t> file(8);
  for (int i = 0; i < 8; ++i) file[i] = static_cast<uint8_t>(static_cast<uint64_t>(header_size) >> (8 * i));
  file.insert(file.end(), data, data + header_size);
  if (nul) file.insert(file.end(), nul + 1, data + size);
  check(file.data(), file.size());
  return 0;
}
