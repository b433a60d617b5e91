// Reader for the IDX format of MNIST and its relatives (Fashion-MNIST, KMNIST, EMNIST),
// gzipped or raw. http://yann.lecun.com/exdb/mnist/ describes the format: two zero bytes,
// an element-type byte, a dimension-count byte, big-endian 32-bit dimensions, then data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace distill {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;  // row-major, dims' product bytes
};

// Reads an unsigned-byte IDX file (gzip detected from its content). Throws DataError naming
// the file for a wrong magic number, an unsupported element type, a truncated body or
// trailing bytes; the size the header claims is checked against a bound before allocating.
IdxArray readIdxFile(const std::string& path);

// Writes an unsigned-byte IDX file, gzipped when `gzip` is true (tests and tools use it).
void writeIdxFile(const std::string& path, const IdxArray& array, bool gzip);

}  // namespace distill
