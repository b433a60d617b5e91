#include "core/hf/hf_export.h"

#include <filesystem>

#include "core/errors.h"
#include "core/hf/hf_weights.h"

namespace distill {

namespace {

namespace fs = std::filesystem;

void copyInto(const fs::path& from, const fs::path& folder, const std::string& name, std::vector<std::string>& written) {
  std::error_code ec;
  fs::copy_file(from, folder / name, fs::copy_options::overwrite_existing, ec);
  if (ec) throw DataError((folder / name).string() + ": cannot copy " + from.string() + " (" + ec.message() + ")");
  written.push_back(name);
}

}  // namespace

std::vector<std::string> copyTokenizerFiles(const Tokenizer& tokenizer, const std::string& folder) {
  std::vector<std::string> written;
  if (!tokenizer.isModel()) return written;
  const std::string& spec = tokenizer.spec();
  const fs::path given(spec.rfind("hf:", 0) == 0 ? spec.substr(3) : spec);
  std::error_code ec;
  fs::create_directories(folder, ec);
  const bool is_folder = fs::is_directory(given, ec);
  const fs::path source_folder = is_folder ? given : given.parent_path();
  auto present = [&](const char* name) { return fs::is_regular_file(source_folder / name, ec); };
  if (is_folder) {
    // What the tokenizer read (tokenizer.h): tokenizer.model first, then tokenizer.json, then
    // vocab.json + merges.txt; the others beside it travel too (Llama 2 ships both forms).
    for (const char* name : {"tokenizer.model", "tokenizer.json", "vocab.json", "merges.txt"})
      if (present(name)) copyInto(source_folder / name, folder, name, written);
  } else if (given.extension() == ".model") {
    copyInto(given, folder, "tokenizer.model", written);
  } else if (given.filename() == "vocab.json" || given.filename() == "merges.txt") {
    copyInto(source_folder / "vocab.json", folder, "vocab.json", written);
    copyInto(source_folder / "merges.txt", folder, "merges.txt", written);
  } else {
    copyInto(given, folder, "tokenizer.json", written);
  }
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"})
    if (present(name)) copyInto(source_folder / name, folder, name, written);
  return written;
}

HfExportResult exportHfFolder(const ModelImpl& model, const Tokenizer& tokenizer, const HfConfig* source,
                              const std::string& folder, torch::ScalarType dtype) {
  HfSaveOptions options;
  options.source = source;
  options.dtype = dtype;
  saveHfModel(model, folder, options);
  HfExportResult result;
  result.files.push_back("config.json");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec))
    if (entry.path().extension() == ".safetensors" || entry.path().filename() == "model.safetensors.index.json")
      result.files.push_back(entry.path().filename().string());
  const auto tokenizer_files = copyTokenizerFiles(tokenizer, folder);
  result.files.insert(result.files.end(), tokenizer_files.begin(), tokenizer_files.end());
  if (!tokenizer.isModel())
    result.tokenizer_note = "the " + tokenizer.kind() + " tokenizer has no Hugging Face form: no tokenizer files "
                            "written (" + (tokenizer.kind() == "byte" ? "ids 0-255 are the text's bytes"
                                                                        : "ids are the run's alphabet; distill tokenize "
                                                                          "shows them") + ")";
  return result;
}

}  // namespace distill
