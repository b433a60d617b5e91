#include "core/data/idx.h"

#include <zlib.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "core/errors.h"

namespace distill {

namespace fs = std::filesystem;

namespace {

// Largest body accepted: 4 GiB, far above any IDX set while refusing headers that claim
// absurd sizes before a single byte is allocated for them.
constexpr uint64_t kMaxBodyBytes = 4ull << 30;

struct GzCloser {
  void operator()(gzFile_s* file) const {
    if (file) gzclose(file);
  }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to `size` bytes; returns how many were read.
size_t readSome(gzFile file, uint8_t* buffer, size_t size, const std::string& path) {
  size_t total = 0;
  while (total < size) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - total, 1u << 30));
    const int got = gzread(file, buffer + total, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* message = gzerror(file, &errnum);
      throw DataError(path + ": corrupt or unreadable data (" + std::string(message ? message : "read error") + ")");
    }
    if (got == 0) break;
    total += static_cast<size_t>(got);
  }
  return total;
}

}  // namespace

IdxArray readIdxFile(const std::string& path) {
  GzFile file(gzopen(path.c_str(), "rb"));
  if (!file) throw DataError(path + ": cannot open file");
  gzbuffer(file.get(), 1 << 18);

  uint8_t magic[4] = {0, 0, 0, 0};
  if (readSome(file.get(), magic, 4, path) != 4)
    throw DataError(path + ": file too short for an IDX header (expected at least 4 bytes)");
  if (magic[0] != 0 || magic[1] != 0)
    throw DataError(path + ": not an IDX file (wrong magic number: expected 00 00 <type> <ndim>)");
  if (magic[2] != 0x08)
    throw DataError(fmt::format("{}: unsupported IDX element type 0x{:02x} (expected 0x08, unsigned byte)", path,
                                magic[2]));
  const int ndim = magic[3];
  if (ndim < 1 || ndim > 4) throw DataError(path + ": IDX header claims " + std::to_string(ndim) + " dimensions (expected 1 to 4)");

  IdxArray array;
  uint64_t count = 1;
  for (int i = 0; i < ndim; ++i) {
    uint8_t b[4];
    if (readSome(file.get(), b, 4, path) != 4) throw DataError(path + ": truncated IDX header");
    const uint32_t dim = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
    if (dim == 0) throw DataError(path + ": IDX dimension " + std::to_string(i) + " is zero");
    array.dims.push_back(static_cast<int64_t>(dim));
    count *= dim;
    if (count > kMaxBodyBytes)
      throw DataError(path + ": IDX header claims more than 4 GiB of data; the file is corrupt or not a dataset");
  }

  // An uncompressed file's size is known: a header promising more than the file holds is
  // refused before anything is allocated for it.
  if (gzdirect(file.get())) {
    std::error_code ec;
    const uint64_t file_bytes = static_cast<uint64_t>(fs::file_size(path, ec));
    const uint64_t header_bytes = 4 + 4 * static_cast<uint64_t>(ndim);
    if (!ec && file_bytes < header_bytes + count)
      throw DataError(path + ": truncated: header promises " + std::to_string(count) + " bytes of data, file has " +
                      std::to_string(file_bytes - header_bytes));
  }

  // Grow the buffer as data arrives, so a lying header costs nothing before the data is seen
  // (a gzip stream's size is not known until it is read).
  size_t filled = 0;
  array.data.resize(static_cast<size_t>(std::min<uint64_t>(count, 1ull << 20)));
  while (filled < count) {
    if (filled == array.data.size()) array.data.resize(static_cast<size_t>(std::min<uint64_t>(count, array.data.size() * 2)));
    const size_t got = readSome(file.get(), array.data.data() + filled, array.data.size() - filled, path);
    if (got == 0) break;
    filled += got;
  }
  if (filled < count)
    throw DataError(path + ": truncated: header promises " + std::to_string(count) + " bytes of data, file has " +
                    std::to_string(filled));
  uint8_t extra = 0;
  if (readSome(file.get(), &extra, 1, path) != 0)
    throw DataError(path + ": more data than the header's dimensions describe (corrupt header?)");
  return array;
}

void writeIdxFile(const std::string& path, const IdxArray& array, bool gzip) {
  GzFile file(gzopen(path.c_str(), gzip ? "wb6" : "wbT"));
  if (!file) throw DataError(path + ": cannot create file");
  std::vector<uint8_t> header{0, 0, 0x08, static_cast<uint8_t>(array.dims.size())};
  for (auto dim : array.dims) {
    const auto d = static_cast<uint32_t>(dim);
    header.insert(header.end(), {uint8_t(d >> 24), uint8_t(d >> 16), uint8_t(d >> 8), uint8_t(d)});
  }
  const bool ok = gzwrite(file.get(), header.data(), static_cast<unsigned>(header.size())) == int(header.size()) &&
                  (array.data.empty() ||
                   gzwrite(file.get(), array.data.data(), static_cast<unsigned>(array.data.size())) == int(array.data.size()));
  if (!ok) throw DataError(path + ": write failed");
  if (gzclose(file.release()) != Z_OK) throw DataError(path + ": write failed on close");
}

}  // namespace distill
