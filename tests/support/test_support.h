// Helpers shared by the tests: scratch folders and tiny synthetic IDX datasets.
#pragma once

#include <filesystem>
#include <string>

namespace distill::testing {

// A fresh folder under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Writes train-/t10k- image and label IDX files of a learnable toy problem: class k is a
// bright square at a class-specific position on a noisy 28x28 background.
void writeToyIdxDataset(const std::filesystem::path& folder, int train_count, int test_count, int classes,
                        bool gzip, unsigned seed = 1);

// Runs a command through the shell, capturing stdout and stderr separately.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult runCommand(const std::string& command);

}  // namespace distill::testing
