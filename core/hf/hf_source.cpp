#include "core/hf/hf_source.h"

#include <cstdlib>
#include <filesystem>

#include "core/errors.h"

namespace distill {

namespace {

namespace fs = std::filesystem;

constexpr const char* kHfPrefix = "hf:";
constexpr const char* kTeacherBlocksPrefix = "teacher-blocks:";

bool startsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

bool isHfSource(const std::string& source) { return startsWith(source, kHfPrefix); }

std::string hfSourceFolder(const std::string& source) {
  if (!isHfSource(source)) return {};
  std::string folder = source.substr(3);
  const char* home = std::getenv("HOME");
  if ((folder == "~" || startsWith(folder, "~/")) && home && *home) folder = std::string(home) + folder.substr(1);
  return folder;
}

bool isTeacherBlocksSource(const std::string& source) { return startsWith(source, kTeacherBlocksPrefix); }

int64_t teacherBlocksStep(const std::string& source) {
  if (!isTeacherBlocksSource(source)) return 0;
  const std::string digits = source.substr(std::string(kTeacherBlocksPrefix).size());
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(digits);
}

bool hasTokenizerFiles(const std::string& folder) {
  std::error_code ec;
  const fs::path f(folder);
  return fs::is_regular_file(f / "tokenizer.model", ec) || fs::is_regular_file(f / "tokenizer.json", ec) ||
         (fs::is_regular_file(f / "vocab.json", ec) && fs::is_regular_file(f / "merges.txt", ec));
}

HfConfig checkHfSource(const std::string& key, const std::string& source) {
  const std::string folder = hfSourceFolder(source);
  std::error_code ec;
  if (folder.empty()) throw ConfigError({{key, "'" + source + "' names no folder; expected hf:<model folder>"}});
  if (!fs::is_directory(folder, ec))
    throw ConfigError({{key, "'" + folder + "': no such folder (expected a Hugging Face model folder with "
                                            "config.json and model.safetensors)"}});
  const fs::path config_file = fs::path(folder) / "config.json";
  if (!fs::is_regular_file(config_file, ec))
    throw ConfigError({{key, "'" + config_file.string() + "': no such file; a Hugging Face model folder holds "
                                                          "config.json beside model.safetensors"}});
  HfConfig config;
  try {
    config = readHfConfig(folder);
  } catch (const DataError& e) {
    throw ConfigError({{key, e.what()}});
  }
  if (!fs::is_regular_file(fs::path(folder) / "model.safetensors", ec) &&
      !fs::is_regular_file(fs::path(folder) / "model.safetensors.index.json", ec))
    throw ConfigError({{key, "'" + folder + "' holds no model.safetensors (nor model.safetensors.index.json with "
                                            "shards); only safetensors weights are read"}});
  return config;
}

std::string runTokenizerSpec(const ExperimentConfig& config) {
  if (config.lm.tokenizer != "byte") return config.lm.tokenizer;
  for (const std::string* source : {&config.teacher.source, &config.student_source}) {
    if (!isHfSource(*source)) continue;
    const std::string folder = hfSourceFolder(*source);
    if (hasTokenizerFiles(folder)) return kHfPrefix + folder;
  }
  return config.lm.tokenizer;
}

}  // namespace distill
