#include "core/store/run_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "core/runtime/file_io.h"
#include "core/runtime/runtime.h"

namespace distill {

namespace fs = std::filesystem;

namespace {

constexpr const char* kOwnerMagic = "distill-checkpoint-owner 1";
constexpr const char* kLockMagic = "distill-run-lock 1";
constexpr const char* kEndedPrefix = "ended: ";
// The lock file's fixed size: recordEnd() overwrites these bytes in place.
constexpr size_t kLockFileBytes = 4096;

std::string oneLine(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

std::string systemError(const std::string& what, const std::string& path) {
  return what + " " + path + " (" + std::strerror(errno) + ")";
}

}  // namespace

std::string newRunUuid() {
  // std::random_device reads the kernel's entropy (getrandom) on Linux with libstdc++.
  std::random_device device;
  unsigned char bytes[16];
  for (size_t i = 0; i < sizeof bytes; i += 4) {
    const unsigned value = device();
    std::memcpy(bytes + i, &value, 4);
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char text[37];
  std::snprintf(text, sizeof text, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
                bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10],
                bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return text;
}

std::string ownerTagPath(const std::string& checkpoint_path) { return checkpoint_path + ".owner"; }

void writeCheckpointOwner(const std::string& checkpoint_path, const CheckpointOwner& owner) {
  std::ostringstream text;
  text << kOwnerMagic << "\nrun_uuid=" << owner.run_uuid << "\nrun_id=" << owner.run_id << "\nrole=" << owner.role
       << "\ndatabase=" << oneLine(owner.database) << "\n";
  const std::string path = ownerTagPath(checkpoint_path);
  const std::string temporary = path + ".tmp";
  writeWholeFile(temporary, text.str());
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) {
    fs::remove(temporary, ec);
    throw std::runtime_error("cannot write the checkpoint owner tag " + path + " (" + ec.message() + ")");
  }
}

std::optional<CheckpointOwner> readCheckpointOwner(const std::string& checkpoint_path) {
  const std::string path = ownerTagPath(checkpoint_path);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line) || line != kOwnerMagic)
    throw std::runtime_error(path + ": not a checkpoint owner tag (expected a first line '" + std::string(kOwnerMagic) +
                             "')");
  CheckpointOwner owner;
  while (std::getline(in, line)) {
    const auto equals = line.find('=');
    if (equals == std::string::npos) continue;
    const std::string key = line.substr(0, equals), value = line.substr(equals + 1);
    if (key == "run_uuid")
      owner.run_uuid = value;
    else if (key == "role")
      owner.role = value;
    else if (key == "database")
      owner.database = value;
    else if (key == "run_id")
      owner.run_id = std::strtoll(value.c_str(), nullptr, 10);
  }
  if (owner.run_uuid.empty() || owner.role.empty())
    throw std::runtime_error(path + ": the checkpoint owner tag lacks run_uuid or role");
  return owner;
}

LockProbe probeRunLock(const std::string& lock_path) {
  LockProbe probe;
  const int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    probe.state = errno == ENOENT ? LockProbe::State::NoFile : LockProbe::State::Unsupported;
    return probe;
  }
  // flock locks belong to an open file description: this probe conflicts with the holder
  // even inside the same process (the window testing its own running run).
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
    probe.state = LockProbe::State::Free;
    ::flock(fd, LOCK_UN);
  } else {
    probe.state = errno == EWOULDBLOCK ? LockProbe::State::Held : LockProbe::State::Unsupported;
  }
  struct stat info {};
  if (::fstat(fd, &info) == 0)
    probe.last_alive = static_cast<double>(info.st_mtim.tv_sec) + static_cast<double>(info.st_mtim.tv_nsec) * 1e-9;
  char buffer[kLockFileBytes + 1] = {};
  const ssize_t got = ::pread(fd, buffer, kLockFileBytes, 0);
  ::close(fd);
  if (got > 0) {
    std::string text(buffer, static_cast<size_t>(got));
    const auto ended = text.find(std::string("\n") + kEndedPrefix);
    if (ended != std::string::npos) {
      const auto start = ended + 1 + std::strlen(kEndedPrefix);
      const auto end = text.find('\n', start);
      probe.end_reason = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
  }
  return probe;
}

RunLock::RunLock(std::string lock_path) : path_(std::move(lock_path)) {
  std::error_code ec;
  fs::create_directories(fs::path(path_).parent_path(), ec);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(systemError("cannot create the run's lock file", path_));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const bool held = errno == EWOULDBLOCK;
    const std::string message = held ? path_ + ": the run is driven by another process (it holds this lock)"
                                     : systemError("cannot lock", path_);
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(message);
  }
  std::string header = std::string(kLockMagic) + "\npid=" + std::to_string(::getpid()) + "\nhost=" + oneLine(hostName()) + "\n";
  header_bytes_ = std::min(header.size(), kLockFileBytes - 2);
  header.resize(kLockFileBytes, ' ');
  header.back() = '\n';
  // Written through and synced now, while there is room: recordEnd() only overwrites.
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()) ||
      ::fsync(fd_) != 0) {
    const std::string message = systemError("cannot write the run's lock file", path_);
    ::close(fd_);
    fd_ = -1;
    std::remove(path_.c_str());
    throw std::runtime_error(message);
  }
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  if (recorded_) std::remove(path_.c_str());  // while still holding it: no one takes a stale file
  ::close(fd_);
}

void RunLock::recordEnd(const std::string& reason) noexcept {
  if (fd_ < 0) return;
  std::string ended = std::string(kEndedPrefix) + oneLine(reason) + "\n";
  const size_t room = kLockFileBytes - header_bytes_ - 1;
  if (ended.size() > room) ended = ended.substr(0, room - 1) + "\n";
  if (::pwrite(fd_, ended.data(), ended.size(), static_cast<off_t>(header_bytes_)) > 0) ::fdatasync(fd_);
}

}  // namespace distill
