// Makes a file unwritable for the duration of a test, even for root (who ignores permission
// bits): the immutable flag as root, chmod 0444 otherwise. Undone when the object goes.
// Shared by the CLI's and the window's read-only-database tests.
#pragma once

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace distill::testing {

class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(std::string path) : path_(std::move(path)) {
    ok_ = geteuid() == 0 ? setImmutable(true) : chmod(path_.c_str(), 0444) == 0;
  }
  ~ReadOnlyFile() {
    if (geteuid() == 0)
      setImmutable(false);
    else
      chmod(path_.c_str(), 0644);
  }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;
  bool ok() const { return ok_; }

 private:
  bool setImmutable(bool on) {
    const int fd = open(path_.c_str(), O_RDONLY);
    if (fd < 0) return false;
    int flags = 0;
    bool done = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    done = done && ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
    close(fd);
    return done;
  }
  std::string path_;
  bool ok_ = false;
};

}  // namespace distill::testing
