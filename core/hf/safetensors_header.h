// The header of a safetensors file (https://huggingface.co/docs/safetensors), read without
// LibTorch so that it can be fuzzed and used anywhere:
//
//   bytes 0..8      N, the header's length, unsigned 64-bit little-endian
//   bytes 8..8+N    a JSON object, UTF-8, possibly padded with trailing spaces:
//                     {"__metadata__": {"format": "pt"},            (optional, string values)
//                      "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
//   bytes 8+N..     the data section; each tensor's bytes are [begin, end) of it, row-major,
//                   little-endian
//
// The parser refuses what the reference implementation (the Rust crate) refuses, and a little
// more: a header length beyond the file or above 100,000,000 bytes, anything but a JSON object,
// an unknown dtype, a shape that is not a list of non-negative integers or whose byte size
// overflows, data_offsets that are not [begin, end] with begin <= end inside the data section,
// end - begin that is not the shape's element count times the dtype's size, tensors that do not
// cover the data section exactly, one after another in the order of their offsets (no overlap,
// no gap, nothing after the last), a name given twice, a nesting deeper than the format has.
// Every refusal is a DataError whose message starts with the file's path and names the tensor.
//
// Thread contract: plain functions without shared state; call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace distill {

// One tensor as the header describes it.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;           // the format's name: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, ...
  std::vector<int64_t> shape;  // empty for a 0-d tensor (one element)
  uint64_t begin = 0;          // byte offsets relative to the start of the data section
  uint64_t end = 0;
  uint64_t bytes() const { return end - begin; }
  int64_t elements() const;  // the product of the shape (1 for a 0-d tensor)
};

struct SafetensorsHeader {
  uint64_t header_bytes = 0;  // N, the JSON text's length with its padding
  uint64_t data_offset = 0;   // 8 + N: where the data section starts in the file
  uint64_t data_bytes = 0;    // the data section's length (the file's size minus data_offset)
  std::vector<SafetensorsEntry> entries;  // in the order of their offsets (ties by name)
  std::map<std::string, std::string> metadata;  // "__metadata__", empty when absent
};

// The largest header accepted, as in the reference implementation.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// The size in bytes of one element of a dtype the format defines (BOOL, U8, I8, F8_E5M2,
// F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64), or 0 for an unknown name.
size_t safetensorsItemSize(const std::string& dtype);

// The header length N from the first 8 bytes (`prefix_size` >= 8, else a DataError saying the
// file is truncated), checked against the cap and against `file_size` (8 + N must fit).
uint64_t readSafetensorsHeaderLength(const uint8_t* prefix, size_t prefix_size, uint64_t file_size,
                                     const std::string& path);

// Parses and validates the header. `bytes` holds the file's first `size` bytes, at least 8 + N of
// them (the whole file will do); `file_size` is the file's full size, which fixes the data
// section's length. `path` is used in messages only.
SafetensorsHeader parseSafetensorsHeader(const uint8_t* bytes, size_t size, uint64_t file_size,
                                         const std::string& path);

}  // namespace distill
