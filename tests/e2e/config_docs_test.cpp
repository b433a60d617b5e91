// docs/config.md and the man page hold the config key table that `distill config-keys
// --markdown` / `--man` generate from core/config/config_keys.cpp, between their markers; a
// key added, renamed or re-described without packaging/update-config-docs.sh fails here.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "core/config/config.h"

namespace {

const std::string kSourceDir = std::string(DISTILL_PRESETS_DIR) + "/../..";

std::string commandOutput(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return {};
  std::string out;
  std::array<char, 4096> buffer{};
  for (size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0;) out.append(buffer.data(), n);
  return out;
}

// The lines strictly between the line starting with `begin` and the line equal to `end`.
std::string between(const std::string& path, const std::string& begin, const std::string& end) {
  std::ifstream in(path);
  std::string line, out;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line.rfind(begin, 0) == 0) {
      inside = true;
    } else if (inside && line == end) {
      return out;
    } else if (inside) {
      out += line + "\n";
    }
  }
  return "(markers '" + begin + "' and '" + end + "' not found in " + path + ")";
}

const char* kRegenerate = "run packaging/update-config-docs.sh after changing core/config/config_keys.cpp";

}  // namespace

TEST(ConfigDocs, TheConfigReferenceHoldsTheGeneratedKeyTable) {
  const std::string generated = commandOutput(std::string(DISTILL_CLI_PATH) + " config-keys --markdown");
  ASSERT_NE(generated.find("| `train.lr` |"), std::string::npos) << generated;
  EXPECT_EQ(between(kSourceDir + "/docs/config.md", "<!-- config-keys:begin", "<!-- config-keys:end -->"), generated)
      << kRegenerate;
}

TEST(ConfigDocs, TheManPageHoldsTheGeneratedKeyList) {
  const std::string generated = commandOutput(std::string(DISTILL_CLI_PATH) + " config-keys --man");
  ASSERT_NE(generated.find(".B train.lr"), std::string::npos) << generated;
  EXPECT_EQ(between(kSourceDir + "/packaging/man/distill.1", ".\\\" config-keys:begin", ".\\\" config-keys:end"),
            generated)
      << kRegenerate;
}

// Every key the parser accepts is in `distill config-keys`, each once, with its default.
TEST(ConfigDocs, ConfigKeysListsEveryKeyTheParserAccepts) {
  const std::string listed = "\n" + commandOutput(std::string(DISTILL_CLI_PATH) + " config-keys");
  for (const auto& [key, value] : distill::flatten(distill::defaultConfig())) {
    // Accepted by the parser as an override with its own default value...
    EXPECT_NO_THROW(distill::parseConfigWithOverrides("", {key + "=" + (value.empty() ? "''" : value)})) << key;
    // ... and listed: the key padded to its column, then the default.
    EXPECT_NE(listed.find("\n" + key + " "), std::string::npos) << key;
  }
}
