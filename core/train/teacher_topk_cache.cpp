#include "core/train/teacher_topk_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "core/losses/loss.h"

namespace distill {

namespace {

constexpr char kMagic[8] = {'D', 'W', 'T', 'O', 'P', 'K', 'C', '\0'};
constexpr uint32_t kVersion = 1;
constexpr int64_t kMaxPositionRank = 4;

// The first 128 bytes of the file, in the host's byte order (little-endian wherever the
// workbench builds; a big-endian reader sees another version and rebuilds).
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  int64_t rows;
  int64_t classes;
  int64_t k;
  int64_t rank;
  int64_t positions[kMaxPositionRank];
  uint64_t teacher;
  uint64_t inputs;
  double tail_mass;  // mean over positions of the teacher's mass outside its top K
  double tail_kl;    // mean KL(teacher || top K with the rest spread evenly) at T = 1, nats
  uint64_t reserved;
  uint64_t checksum;  // Fingerprint of the bytes before it
};
static_assert(sizeof(Header) == 128, "the header is 128 bytes");

uint64_t headerChecksum(const Header& header) {
  Fingerprint fingerprint;
  fingerprint.add(&header, offsetof(Header, checksum));
  return fingerprint.value();
}

int64_t positionCount(const Header& header) {
  int64_t count = 1;
  for (int64_t i = 0; i < header.rank; ++i) count *= header.positions[i];
  return count;
}

// Bytes of one of the two tables (classes or log-probabilities; 4 bytes a value each).
int64_t tableBytes(const Header& header) { return header.rows * positionCount(header) * header.k * 4; }
int64_t expectedFileBytes(const Header& header) { return static_cast<int64_t>(sizeof(Header)) + 2 * tableBytes(header); }

std::string systemError(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

void writeAll(int fd, const void* data, size_t bytes, int64_t offset, const std::string& path) {
  const char* at = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t written = ::pwrite(fd, at, bytes, offset);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(systemError("cannot write the teacher's top-k cache", path));
    }
    at += written;
    bytes -= static_cast<size_t>(written);
    offset += written;
  }
}

// A file descriptor closed when it goes out of scope.
struct FileHandle {
  int fd = -1;
  explicit FileHandle(int descriptor) : fd(descriptor) {}
  ~FileHandle() {
    if (fd >= 0) ::close(fd);
  }
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
};

// What the top K leave out, summed over the rows of `logits` [M, C] into `mass` and `kl`: the
// teacher's probability outside its top K, and KL(p || p') at T = 1 where p' keeps the top K
// and spreads the rest evenly over the other C - K classes (how far logits access from the
// cache is from the teacher): sum over the rest of p_j log(p_j / u), u = rest / (C - K).
void addTailStatistics(const torch::Tensor& logits, const torch::Tensor& top_log_probs, int64_t classes, double& mass,
                       double& kl) {
  const int64_t kept = top_log_probs.size(-1);
  if (kept >= classes) return;
  const auto log_p = torch::log_softmax(logits.to(torch::kFloat64), -1);
  const auto top = top_log_probs.to(torch::kFloat64);
  const auto rest = (1.0 - top.exp().sum(-1)).clamp_min(0.0);
  // sum over the rest of p log p: all classes' minus the top K's.
  const auto rest_entropy_term = (log_p.exp() * log_p).sum(-1) - (top.exp() * top).sum(-1);
  const auto spread = (rest / static_cast<double>(classes - kept)).clamp_min(1e-300).log();
  mass += rest.sum().item<double>();
  kl += (rest_entropy_term - rest * spread).clamp_min(0.0).sum().item<double>();
}

std::string temporaryPath() {
  static std::atomic<int> counter{0};
  return (std::filesystem::temp_directory_path() /
          ("distill-teacher-topk-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".bin"))
      .string();
}

}  // namespace

// ---- Fingerprint ------------------------------------------------------------------------------

void Fingerprint::word(uint64_t w) {
  // splitmix64's finaliser spreads every bit of the word before the FNV step.
  w += 0x9e3779b97f4a7c15ull;
  w = (w ^ (w >> 30)) * 0xbf58476d1ce4e5b9ull;
  w = (w ^ (w >> 27)) * 0x94d049bb133111ebull;
  w ^= w >> 31;
  hash_ = (hash_ ^ w) * 1099511628211ull;
}

void Fingerprint::add(const void* data, size_t bytes) {
  const auto* at = static_cast<const unsigned char*>(data);
  word(bytes);
  for (; bytes >= 8; bytes -= 8, at += 8) {
    uint64_t w;
    std::memcpy(&w, at, 8);
    word(w);
  }
  uint64_t rest = 0;
  std::memcpy(&rest, at, bytes);
  word(rest);
}

void Fingerprint::add(const std::string& text) { add(text.data(), text.size()); }

void Fingerprint::add(int64_t value) { word(static_cast<uint64_t>(value)); }

void Fingerprint::add(const torch::Tensor& tensor) {
  add(std::string(c10::toString(tensor.scalar_type())));
  add(static_cast<int64_t>(tensor.dim()));
  for (const auto size : tensor.sizes()) add(size);
  const auto values = tensor.detach().to(torch::kCPU).contiguous();
  add(values.data_ptr(), values.numel() * values.element_size());
}

// ---- TeacherTopkCache -------------------------------------------------------------------------

std::unique_ptr<TeacherTopkCache> TeacherTopkCache::open(const std::string& path, int64_t rows, int64_t k,
                                                         const TopkCacheSource& source, std::string& reason) {
  FileHandle file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.fd < 0) {
    reason = errno == ENOENT ? "there is none yet" : systemError("cannot open", path);
    return nullptr;
  }
  struct stat status {};
  if (::fstat(file.fd, &status) != 0) {
    reason = systemError("cannot read the size of", path);
    return nullptr;
  }
  const auto size = static_cast<int64_t>(status.st_size);
  Header header{};
  if (size < static_cast<int64_t>(sizeof(Header)) || ::pread(file.fd, &header, sizeof(Header), 0) != sizeof(Header)) {
    reason = "it is cut short: " + std::to_string(size) + " bytes, less than its header";
    return nullptr;
  }
  if (std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0) {
    reason = "it is not a top-k cache file";
    return nullptr;
  }
  if (header.version != kVersion || header.header_bytes != sizeof(Header)) {
    reason = "it is of version " + std::to_string(header.version) + ", not " + std::to_string(kVersion);
    return nullptr;
  }
  const bool positive_positions =
      header.rank >= 0 && header.rank <= kMaxPositionRank &&
      std::all_of(header.positions, header.positions + header.rank, [](int64_t p) { return p >= 1; });
  if (header.checksum != headerChecksum(header) || !positive_positions || header.rows < 1 || header.classes < 1 ||
      header.k < 1) {
    reason = "its header is damaged";
    return nullptr;
  }
  if (header.teacher != source.teacher) {
    reason = "it was made by another teacher";
    return nullptr;
  }
  if (header.inputs != source.inputs || header.rows != rows) {
    reason = "it was made from other training inputs";
    return nullptr;
  }
  if (header.k != std::min(k, header.classes)) {
    reason = "it keeps " + std::to_string(header.k) + " log-probabilities per position, not " +
             std::to_string(std::min(k, header.classes));
    return nullptr;
  }
  if (size != expectedFileBytes(header)) {
    reason = "it is " + std::string(size < expectedFileBytes(header) ? "cut short" : "too long") + ": " +
             std::to_string(size) + " of " + std::to_string(expectedFileBytes(header)) + " bytes";
    return nullptr;
  }
  void* mapping = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, file.fd, 0);
  if (mapping == MAP_FAILED) {
    reason = systemError("cannot map", path);
    return nullptr;
  }
  std::unique_ptr<TeacherTopkCache> cache(new TeacherTopkCache());
  cache->mapping_ = mapping;
  cache->bytes_ = static_cast<size_t>(size);
  cache->k_ = header.k;
  cache->classes_ = header.classes;
  cache->positions_.assign(header.positions, header.positions + header.rank);
  cache->tail_mass_ = header.tail_mass;
  cache->tail_kl_ = header.tail_kl;
  const std::vector<int64_t> shape{header.rows, positionCount(header), header.k};
  char* base = static_cast<char*>(mapping);
  // Read-only pages: the tables are only ever read (index_select copies out of them).
  cache->classes_table_ = torch::from_blob(base + sizeof(Header), shape, torch::kInt32);
  cache->log_probs_table_ = torch::from_blob(base + sizeof(Header) + tableBytes(header), shape, torch::kFloat32);
  return cache;
}

std::unique_ptr<TeacherTopkCache> TeacherTopkCache::build(const std::string& path, int64_t rows, int64_t k,
                                                          const TopkCacheSource& source, int64_t chunk_rows,
                                                          const TeacherLogits& teacher_logits) {
  if (rows < 1 || k < 1 || chunk_rows < 1) throw std::invalid_argument("top-k cache: rows, k and chunk must be >= 1");
  const bool temporary = path.empty();
  const std::string final_path = temporary ? temporaryPath() : path;
  const std::string partial = final_path + ".partial";
  Header header{};
  {
    FileHandle file(::open(partial.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644));
    if (file.fd < 0) throw std::runtime_error(systemError("cannot create the teacher's top-k cache", partial));
    try {
      int64_t position_count = 0;
      double tail_mass = 0.0, tail_kl = 0.0;  // sums over positions
      for (int64_t begin = 0; begin < rows; begin += chunk_rows) {
        const int64_t end = std::min(begin + chunk_rows, rows);
        const torch::Tensor logits = teacher_logits(begin, end);
        if (begin == 0) {
          if (logits.dim() < 2 || logits.dim() - 2 > kMaxPositionRank)
            throw std::runtime_error("top-k cache: teacher outputs of shape " + c10::str(logits.sizes()) +
                                     " (expected [rows, positions..., classes] with at most 4 position dimensions)");
          std::memcpy(header.magic, kMagic, sizeof(kMagic));
          header.version = kVersion;
          header.header_bytes = sizeof(Header);
          header.rows = rows;
          header.classes = logits.size(-1);
          header.k = std::min(k, header.classes);
          header.rank = logits.dim() - 2;
          for (int64_t i = 0; i < header.rank; ++i) header.positions[i] = logits.size(i + 1);
          header.teacher = source.teacher;
          header.inputs = source.inputs;
          header.checksum = headerChecksum(header);
          position_count = positionCount(header);
          // The whole length at once: a full disk fails here rather than in the middle.
          const int error = ::posix_fallocate(file.fd, 0, expectedFileBytes(header));
          if (error != 0 && error != EOPNOTSUPP && error != EINVAL) {
            errno = error;
            throw std::runtime_error(systemError("cannot make room for the teacher's top-k cache", partial));
          }
        }
        if (logits.size(0) != end - begin || logits.numel() != (end - begin) * position_count * header.classes)
          throw std::runtime_error("top-k cache: the teacher's outputs on rows " + std::to_string(begin) + ".." +
                                   std::to_string(end) + " are " + c10::str(logits.sizes()) +
                                   ", unlike the first rows'");
        // float32 as the loss computes with them: topk access reads exactly these numbers.
        const auto rows_logits = logits.detach().reshape({-1, header.classes}).to(torch::kFloat32);
        const auto top = topkLogProbs(rows_logits, header.k);
        addTailStatistics(rows_logits, top.first, header.classes, tail_mass, tail_kl);
        const auto log_probs = top.first.to(torch::kCPU).contiguous();
        const auto classes = top.second.to(torch::kCPU).to(torch::kInt32).contiguous();
        const int64_t offset = begin * position_count * header.k * 4;
        writeAll(file.fd, classes.data_ptr(), classes.numel() * 4, static_cast<int64_t>(sizeof(Header)) + offset, partial);
        writeAll(file.fd, log_probs.data_ptr(), log_probs.numel() * 4,
                 static_cast<int64_t>(sizeof(Header)) + tableBytes(header) + offset, partial);
      }
      // The header last: a file is a cache only once every row is in it.
      const double positions = static_cast<double>(rows * position_count);
      header.tail_mass = tail_mass / positions;
      header.tail_kl = tail_kl / positions;
      header.checksum = headerChecksum(header);
      writeAll(file.fd, &header, sizeof(Header), 0, partial);
      if (::fsync(file.fd) != 0) throw std::runtime_error(systemError("cannot flush the teacher's top-k cache", partial));
    } catch (...) {
      ::unlink(partial.c_str());
      throw;
    }
  }
  if (::rename(partial.c_str(), final_path.c_str()) != 0) {
    const std::string message = systemError("cannot rename the teacher's top-k cache to", final_path);
    ::unlink(partial.c_str());
    throw std::runtime_error(message);
  }
  std::string reason;
  auto cache = open(final_path, rows, k, source, reason);
  if (temporary) ::unlink(final_path.c_str());  // the mapping keeps the pages
  if (!cache) throw std::runtime_error("the teacher's top-k cache " + final_path + " cannot be read back: " + reason);
  return cache;
}

TeacherTopkCache::~TeacherTopkCache() {
  classes_table_ = torch::Tensor();
  log_probs_table_ = torch::Tensor();
  if (mapping_) ::munmap(mapping_, bytes_);
}

int64_t TeacherTopkCache::positionsPerRow() const { return classes_table_.size(1); }

std::pair<torch::Tensor, torch::Tensor> TeacherTopkCache::rows(const torch::Tensor& indices) const {
  const auto on_cpu = indices.to(torch::kCPU, torch::kInt64);
  std::vector<int64_t> shape{on_cpu.size(0)};
  shape.insert(shape.end(), positions_.begin(), positions_.end());
  shape.push_back(k_);
  return {log_probs_table_.index_select(0, on_cpu).reshape(shape),
          classes_table_.index_select(0, on_cpu).to(torch::kInt64).reshape(shape)};
}

}  // namespace distill
