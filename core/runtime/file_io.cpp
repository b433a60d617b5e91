#include "core/runtime/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace distill {

void writeWholeFile(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot create file (" + std::strerror(errno) + ")");
  const auto fail = [&](const char* what) {
    const int error = errno;
    ::close(fd);
    ::unlink(path.c_str());
    throw std::runtime_error(path + ": " + what + " (" + std::strerror(error) + ")");
  };
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write failed");
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot flush to disk");
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(path.c_str());
    throw std::runtime_error(path + ": write failed on close (" + std::string(std::strerror(error)) + ")");
  }
}

}  // namespace distill
