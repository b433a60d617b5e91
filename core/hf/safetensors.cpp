#include "core/hf/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/errors.h"
#include "core/text/utf8.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors files are little-endian; this reader and writer copy bytes as they are"
#endif

namespace distill {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string jsonQuoted(const std::string& name) {
  return json(name).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string systemReason() { return std::strerror(errno); }

// A file descriptor closed on every path.
struct Descriptor {
  int fd = -1;
  explicit Descriptor(int value) : fd(value) {}
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
};

const char* safetensorsNameOf(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return "F32";
    case torch::kFloat16: return "F16";
    case torch::kBFloat16: return "BF16";
    case torch::kFloat64: return "F64";
    case torch::kInt64: return "I64";
    case torch::kInt32: return "I32";
    case torch::kInt16: return "I16";
    case torch::kInt8: return "I8";
    case torch::kUInt8: return "U8";
    case torch::kBool: return "BOOL";
    default: return nullptr;
  }
}

}  // namespace

std::optional<torch::ScalarType> torchTypeOfSafetensors(const std::string& dtype) {
  static const std::map<std::string, torch::ScalarType> types = {
      {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16}, {"F64", torch::kFloat64},
      {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},     {"I8", torch::kInt8},
      {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
  };
  const auto it = types.find(dtype);
  if (it == types.end()) return std::nullopt;
  return it->second;
}

// ---------------------------------------------------------------------------------------------
// SafetensorsFile

struct SafetensorsFile::State {
  std::string path;
  void* mapping = nullptr;
  size_t mapped_bytes = 0;
  // The mapping is writable copy-on-write when the system grants it; otherwise it is read-only
  // and tensor() copies, so that no caller can fault by writing into a tensor.
  bool read_only = false;
  SafetensorsHeader header;
  std::unordered_map<std::string, size_t> index;  // name -> position in header.entries

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (mapping) ::munmap(mapping, mapped_bytes);
  }
  const uint8_t* bytes() const { return static_cast<const uint8_t*>(mapping); }
};

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  Descriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.fd < 0) {
    if (errno == ENOENT) throw DataError(path + ": the safetensors file does not exist");
    throw DataError(path + ": cannot open the safetensors file (" + systemReason() + ")");
  }
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) throw DataError(path + ": cannot read its size (" + systemReason() + ")");
  if (S_ISDIR(info.st_mode)) throw DataError(path + ": is a folder, expected a safetensors file");
  if (!S_ISREG(info.st_mode)) throw DataError(path + ": is not a regular file, expected a safetensors file");
  const auto file_size = static_cast<uint64_t>(info.st_size);
  if (file_size < 8) {
    // mmap refuses an empty length; the header reader words the refusal.
    const uint8_t none[8] = {};
    readSafetensorsHeaderLength(none, static_cast<size_t>(file_size), file_size, path);
  }

  auto state = std::make_shared<State>();
  state->path = path;
  state->mapped_bytes = static_cast<size_t>(file_size);
  // MAP_NORESERVE: a private writable mapping of a large checkpoint must not be charged to
  // the commit limit; pages are copied only where a caller writes.
  void* mapping = ::mmap(nullptr, state->mapped_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, file.fd, 0);
  if (mapping == MAP_FAILED) {
    mapping = ::mmap(nullptr, state->mapped_bytes, PROT_READ, MAP_PRIVATE, file.fd, 0);
    if (mapping == MAP_FAILED) throw DataError(path + ": cannot map the file (" + systemReason() + ")");
    state->read_only = true;
  }
  state->mapping = mapping;
  state->header = parseSafetensorsHeader(state->bytes(), state->mapped_bytes, file_size, path);
  for (size_t i = 0; i < state->header.entries.size(); ++i) state->index.emplace(state->header.entries[i].name, i);
  return SafetensorsFile(std::move(state));
}

const std::string& SafetensorsFile::path() const { return state_->path; }
const std::vector<SafetensorsEntry>& SafetensorsFile::entries() const { return state_->header.entries; }
const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return state_->header.metadata; }
bool SafetensorsFile::contains(const std::string& name) const { return state_->index.count(name) > 0; }

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  const auto it = state_->index.find(name);
  if (it == state_->index.end()) {
    throw DataError(state_->path + ": no tensor " + jsonQuoted(name) + " in the file (it holds " +
                    std::to_string(state_->header.entries.size()) + " tensors)");
  }
  return state_->header.entries[it->second];
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry& stored = entry(name);
  const auto type = torchTypeOfSafetensors(stored.dtype);
  if (!type) {
    throw DataError(state_->path + ": tensor " + jsonQuoted(name) + " has dtype " + stored.dtype +
                    ", which LibTorch 1.13 has no type for (readable: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
  }
  const auto options = torch::TensorOptions().dtype(*type);
  if (stored.elements() == 0) return torch::empty(stored.shape, options);
  const uint8_t* data = state_->bytes() + state_->header.data_offset + stored.begin;
  if (*type == torch::kBool) {
    for (uint64_t i = 0; i < stored.bytes(); ++i) {
      if (data[i] > 1) {
        throw DataError(state_->path + ": tensor " + jsonQuoted(name) + " is BOOL but its byte " + std::to_string(i) +
                        " is " + std::to_string(data[i]) + ", expected 0 or 1");
      }
    }
  }
  const size_t item_size = safetensorsItemSize(stored.dtype);
  if (state_->read_only || reinterpret_cast<uintptr_t>(data) % item_size != 0) {
    auto copy = torch::empty(stored.shape, options);
    std::memcpy(copy.data_ptr(), data, stored.bytes());
    return copy;
  }
  // The deleter holds the mapping alive for as long as the tensor (or a view of it) lives.
  std::shared_ptr<const State> keep = state_;
  return torch::from_blob(const_cast<uint8_t*>(data), stored.shape, [keep](void*) {}, options);
}

torch::Tensor SafetensorsFile::tensorAsFloat(const std::string& name) const {
  return tensor(name).to(torch::TensorOptions().dtype(torch::kFloat32), /*non_blocking=*/false, /*copy=*/true,
                         torch::MemoryFormat::Contiguous);
}

// ---------------------------------------------------------------------------------------------
// SafetensorsCheckpoint

namespace {

std::string readIndexFile(const std::string& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  if (error) throw DataError(path + ": cannot read the index (" + error.message() + ")");
  if (size > kMaxSafetensorsHeaderBytes) {
    throw DataError(path + ": the index is " + std::to_string(size) + " bytes, above the limit of " +
                    std::to_string(kMaxSafetensorsHeaderBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot read the index");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// A shard's name from the index, as a path inside `folder`; refused when it would leave it.
fs::path shardPath(const std::string& index_path, const fs::path& folder, const std::string& shard,
                   const std::string& tensor) {
  const fs::path relative(shard);
  const std::string where = index_path + ": weight_map gives tensor " + jsonQuoted(tensor) + " the shard " + jsonQuoted(shard);
  if (shard.empty() || shard.find('\0') != std::string::npos) throw DataError(where + ", expected a file name");
  if (relative.is_absolute() || relative.has_root_name()) {
    throw DataError(where + ", an absolute path; expected a file beside the index");
  }
  const fs::path normal = relative.lexically_normal();
  if (normal.empty() || *normal.begin() == ".." || normal == ".") {
    throw DataError(where + ", which is outside the index's folder; expected a file beside the index");
  }
  return folder / normal;
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& folder_or_file) {
  SafetensorsCheckpoint checkpoint;
  checkpoint.path_ = folder_or_file;
  std::error_code error;
  const auto status = fs::status(folder_or_file, error);
  if (!fs::exists(status)) throw DataError(folder_or_file + ": no such checkpoint (neither a folder nor a file)");

  std::string single;
  std::string index_path;
  if (fs::is_directory(status)) {
    const fs::path folder(folder_or_file);
    if (fs::exists(folder / "model.safetensors", error)) {
      single = (folder / "model.safetensors").string();
    } else if (fs::exists(folder / "model.safetensors.index.json", error)) {
      index_path = (folder / "model.safetensors.index.json").string();
    } else {
      std::vector<std::string> found;
      for (const auto& item : fs::directory_iterator(folder, error)) {
        if (item.path().extension() == ".safetensors") found.push_back(item.path().filename().string());
      }
      std::sort(found.begin(), found.end());
      std::string listing;
      for (size_t i = 0; i < found.size() && i < 5; ++i) listing += (i ? ", " : "") + found[i];
      throw DataError(folder_or_file + ": no model.safetensors and no model.safetensors.index.json in the folder" +
                      (found.empty() ? std::string(" (and no .safetensors file at all)")
                                     : " (it holds " + listing + (found.size() > 5 ? ", ..." : "") + ")"));
    }
  } else if (folder_or_file.size() >= 11 && folder_or_file.compare(folder_or_file.size() - 11, 11, ".index.json") == 0) {
    index_path = folder_or_file;
  } else {
    single = folder_or_file;
  }

  if (!single.empty()) {
    checkpoint.files_.push_back(SafetensorsFile::open(single));
    for (const auto& entry : checkpoint.files_[0].entries()) checkpoint.file_of_.emplace(entry.name, 0);
    return checkpoint;
  }

  json index;
  try {
    index = json::parse(readIndexFile(index_path));
  } catch (const json::exception& e) {
    throw DataError(index_path + ": the index is not JSON (" + std::string(e.what()) + ")");
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw DataError(index_path + ": expected a JSON object with a \"weight_map\" object (tensor name -> shard file)");
  }
  const fs::path folder = fs::path(index_path).parent_path();
  std::map<std::string, size_t> shard_numbers;  // normalised shard path -> index in files_
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) {
      throw DataError(index_path + ": weight_map gives tensor " + jsonQuoted(name) + " the shard " +
                      shard.dump(-1, ' ', false, json::error_handler_t::replace) + ", expected a file name");
    }
    const fs::path shard_file = shardPath(index_path, folder, shard.get<std::string>(), name);
    auto [it, inserted] = shard_numbers.emplace(shard_file.string(), checkpoint.files_.size());
    if (inserted) {
      if (!fs::exists(shard_file, error)) {
        throw DataError(index_path + ": the shard " + jsonQuoted(shard.get<std::string>()) + " holding tensor " +
                        jsonQuoted(name) + " is missing (" + shard_file.string() + " does not exist)");
      }
      try {
        checkpoint.files_.push_back(SafetensorsFile::open(shard_file.string()));
      } catch (const DataError& e) {
        throw DataError(index_path + ": the shard holding tensor " + jsonQuoted(name) + " is not usable: " + e.what());
      }
    }
    const SafetensorsFile& file = checkpoint.files_[it->second];
    if (!file.contains(name)) {
      throw DataError(index_path + ": tensor " + jsonQuoted(name) + " is in the shard " + file.path() +
                      " according to the index, but that shard has no such tensor");
    }
    checkpoint.file_of_.emplace(name, it->second);
  }
  if (checkpoint.files_.empty()) throw DataError(index_path + ": the weight_map names no tensor");
  return checkpoint;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> names;
  names.reserve(file_of_.size());
  for (const auto& [name, file] : file_of_) names.push_back(name);
  return names;
}

bool SafetensorsCheckpoint::contains(const std::string& name) const { return file_of_.count(name) > 0; }

const SafetensorsFile& SafetensorsCheckpoint::fileHolding(const std::string& name) const {
  const auto it = file_of_.find(name);
  if (it == file_of_.end()) {
    throw DataError(path_ + ": the checkpoint has no tensor " + jsonQuoted(name) + " (it holds " +
                    std::to_string(file_of_.size()) + " tensors)");
  }
  return files_[it->second];
}

const SafetensorsEntry& SafetensorsCheckpoint::entry(const std::string& name) const {
  return fileHolding(name).entry(name);
}
torch::Tensor SafetensorsCheckpoint::tensor(const std::string& name) const { return fileHolding(name).tensor(name); }
torch::Tensor SafetensorsCheckpoint::tensorAsFloat(const std::string& name) const {
  return fileHolding(name).tensorAsFloat(name);
}
const std::string& SafetensorsCheckpoint::fileOf(const std::string& name) const { return fileHolding(name).path(); }
const std::map<std::string, std::string>& SafetensorsCheckpoint::metadata() const {
  static const std::map<std::string, std::string> none;
  return files_.empty() ? none : files_[0].metadata();
}

// ---------------------------------------------------------------------------------------------
// Writing

namespace {

// What one tensor becomes in the file.
struct PlannedTensor {
  const std::string* name;
  const torch::Tensor* tensor;
  torch::ScalarType type;  // after the optional conversion
  uint64_t bytes;
};

std::vector<PlannedTensor> planTensors(const NamedTensors& tensors, std::optional<torch::ScalarType> dtype,
                                       const std::string& path) {
  if (dtype && *dtype != torch::kFloat32 && *dtype != torch::kFloat16 && *dtype != torch::kBFloat16) {
    throw std::invalid_argument(path + ": the target dtype must be float32, float16 or bfloat16, not " +
                                std::string(c10::toString(*dtype)));
  }
  std::set<std::string> seen;
  std::vector<PlannedTensor> planned;
  planned.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") throw DataError(path + ": \"__metadata__\" is reserved, not a tensor name");
    if (!isValidUtf8(name)) throw DataError(path + ": tensor name " + jsonQuoted(name) + " is not valid UTF-8");
    if (!seen.insert(name).second) throw DataError(path + ": tensor " + jsonQuoted(name) + " is given twice");
    if (!tensor.defined()) throw DataError(path + ": tensor " + jsonQuoted(name) + " is undefined (no tensor)");
    auto type = tensor.scalar_type();
    if (dtype && tensor.is_floating_point()) type = *dtype;
    if (!safetensorsNameOf(type)) {
      throw DataError(path + ": tensor " + jsonQuoted(name) + " has dtype " + std::string(c10::toString(type)) +
                      ", which is not written to safetensors here (float32/16, bfloat16, float64, int64/32/16/8, "
                      "uint8, bool)");
    }
    planned.push_back({&name, &tensor, type,
                       static_cast<uint64_t>(tensor.numel()) * static_cast<uint64_t>(c10::elementSize(type))});
  }
  return planned;
}

// A temporary file beside the destination, renamed over it once complete; removed if the
// writer is left before commit().
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path) : path_(path) {
    const fs::path target(path);
    std::string pattern = (target.parent_path() / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
    if (target.parent_path().empty()) pattern = "." + target.filename().string() + ".tmp-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0) throw std::runtime_error(path + ": cannot create a file beside it (" + systemReason() + ")");
    temp_ = name.data();
    ::fchmod(fd_, 0644);
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd_, bytes, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error(path_ + ": write failed (" + systemReason() + ")");
      bytes += n;
      size -= static_cast<size_t>(n);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) throw std::runtime_error(path_ + ": cannot flush to disk (" + systemReason() + ")");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw std::runtime_error(path_ + ": write failed on close (" + systemReason() + ")");
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      throw std::runtime_error(path_ + ": cannot replace it (" + systemReason() + ")");
    }
    committed_ = true;
    // The rename itself reaches the disk with the folder's entry.
    std::string folder = fs::path(path_).parent_path().string();
    if (folder.empty()) folder = ".";
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }

 private:
  std::string path_;
  std::string temp_;
  int fd_ = -1;
  bool committed_ = false;
};

void writeTextAtomically(const std::string& path, const std::string& text) {
  AtomicFile file(path);
  file.write(text.data(), text.size());
  file.commit();
}

void writePlanned(const std::string& path, const std::vector<PlannedTensor>& planned,
                  const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::map<std::string, std::string> full_metadata = metadata;
  full_metadata.emplace("format", "pt");
  for (const auto& [key, value] : full_metadata) {
    if (!isValidUtf8(key) || !isValidUtf8(value)) {
      throw DataError(path + ": metadata " + jsonQuoted(key) + " is not valid UTF-8");
    }
  }
  header["__metadata__"] = full_metadata;
  uint64_t offset = 0;
  for (const auto& item : planned) {
    header[*item.name] = {{"dtype", safetensorsNameOf(item.type)},
                          {"shape", item.tensor->sizes().vec()},
                          {"data_offsets", {offset, offset + item.bytes}}};
    offset += item.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  AtomicFile file(path);
  file.write(length, sizeof(length));
  file.write(text.data(), text.size());
  for (const auto& item : planned) {
    if (item.bytes == 0) continue;
    // One tensor converted at a time, so a whole-model dtype change never exists twice.
    const torch::Tensor stored = item.tensor->detach().to(torch::kCPU, item.type).contiguous();
    file.write(stored.data_ptr(), item.bytes);
  }
  file.commit();
}

}  // namespace

void writeSafetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata, std::optional<torch::ScalarType> dtype) {
  writePlanned(path, planTensors(tensors, dtype, path), metadata);
}

std::vector<std::string> writeSafetensorsSharded(const std::string& folder, const NamedTensors& tensors,
                                                 const std::map<std::string, std::string>& metadata,
                                                 int64_t max_shard_bytes, std::optional<torch::ScalarType> dtype) {
  if (max_shard_bytes <= 0) {
    throw std::invalid_argument(folder + ": max_shard_bytes must be positive, not " + std::to_string(max_shard_bytes));
  }
  const fs::path dir(folder);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw std::runtime_error(folder + ": cannot create the folder (" + error.message() + ")");
  const auto planned = planTensors(tensors, dtype, (dir / "model.safetensors").string());

  // transformers' split (huggingface_hub's split_state_dict_into_shards_factory).
  const auto limit = static_cast<uint64_t>(max_shard_bytes);
  std::vector<std::vector<PlannedTensor>> shards;
  std::vector<PlannedTensor> current;
  uint64_t current_bytes = 0;
  uint64_t total_bytes = 0;
  for (const auto& item : planned) {
    total_bytes += item.bytes;
    if (item.bytes > limit) {
      shards.push_back({item});
      continue;
    }
    if (current_bytes + item.bytes > limit && !current.empty()) {
      shards.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.push_back(item);
    current_bytes += item.bytes;
  }
  if (!current.empty() || shards.empty()) shards.push_back(std::move(current));

  std::vector<std::string> written;
  std::set<std::string> keep;
  const std::string index_name = "model.safetensors.index.json";
  if (shards.size() == 1) {
    written.push_back((dir / "model.safetensors").string());
    writePlanned(written.back(), shards[0], metadata);
    keep.insert("model.safetensors");
  } else {
    json weight_map = json::object();
    char name[64];
    for (size_t i = 0; i < shards.size(); ++i) {
      std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      written.push_back((dir / name).string());
      writePlanned(written.back(), shards[i], metadata);
      keep.insert(name);
      for (const auto& item : shards[i]) weight_map[*item.name] = name;
    }
    const json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
    written.push_back((dir / index_name).string());
    writeTextAtomically(written.back(), index.dump(2) + "\n");
    keep.insert(index_name);
  }

  // Files of an earlier save that a loader could pick up instead of these.
  static const std::regex shard_pattern(R"(model-\d{5}-of-\d{5}\.safetensors)");
  std::vector<fs::path> stale;
  for (const auto& item : fs::directory_iterator(dir, error)) {
    const std::string name = item.path().filename().string();
    const bool ours = name == "model.safetensors" || name == index_name || std::regex_match(name, shard_pattern);
    if (ours && !keep.count(name)) stale.push_back(item.path());
  }
  for (const auto& path : stale) fs::remove(path, error);
  return written;
}

}  // namespace distill
