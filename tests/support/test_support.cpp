#include "support/test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

#include "core/data/idx.h"

namespace distill::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "distill-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
  std::filesystem::remove_all(path_, ec);
}

void writeToyIdxDataset(const std::filesystem::path& folder, int train_count, int test_count, int classes, bool gzip,
                        unsigned seed) {
  std::filesystem::create_directories(folder);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 60);
  std::uniform_int_distribution<int> label(0, classes - 1);
  std::uniform_int_distribution<int> jitter(-1, 1);
  const std::string suffix = gzip ? ".gz" : "";
  for (const auto& [prefix, count] : {std::pair<std::string, int>{"train", train_count}, {"t10k", test_count}}) {
    IdxArray images{{count, 28, 28}, std::vector<uint8_t>(static_cast<size_t>(count) * 28 * 28)};
    IdxArray labels{{count}, std::vector<uint8_t>(static_cast<size_t>(count))};
    for (int i = 0; i < count; ++i) {
      const int y = label(rng);
      labels.data[i] = static_cast<uint8_t>(y);
      uint8_t* image = images.data.data() + static_cast<size_t>(i) * 784;
      for (int p = 0; p < 784; ++p) image[p] = static_cast<uint8_t>(noise(rng));
      const int row = 4 + (y / 4) * 7 + jitter(rng), col = 4 + (y % 4) * 6 + jitter(rng);
      for (int r = row; r < row + 5; ++r)
        for (int c = col; c < col + 5; ++c) image[r * 28 + c] = 230;
    }
    writeIdxFile((folder / (prefix + "-images-idx3-ubyte" + suffix)).string(), images, gzip);
    writeIdxFile((folder / (prefix + "-labels-idx1-ubyte" + suffix)).string(), labels, gzip);
  }
}

CommandResult runCommand(const std::string& command) {
  TempDir scratch;
  const std::string out_path = scratch.file("out"), err_path = scratch.file("err");
  const int status = std::system((command + " >" + out_path + " 2>" + err_path + " </dev/null").c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  };
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  return result;
}

}  // namespace distill::testing
