#include "core/text/sentencepiece_tokenizer.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/text/fingerprint.h"
#include "core/text/isolated_library.h"
#include "core/text/utf8.h"

namespace distill {

namespace {

namespace fs = std::filesystem;

const char kReplacement[] = "\xEF\xBF\xBD";   // U+FFFD
const char kUnknownSurface[] = " \xE2\x81\x87 ";  // " ⁇ ", the library's default unk_surface
const char kSpaceMark[] = "\xE2\x96\x81";      // U+2581 "▁", SentencePiece's space

std::optional<int32_t> idOrNone(int id) { return id < 0 ? std::nullopt : std::optional<int32_t>(id); }

std::string replaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) text.replace(at, from.size(), to);
  return text;
}

}  // namespace

namespace {

// The module's functions (core/text/sentencepiece_module.cpp), opened once.
struct Module {
  void* (*load)(const char*, size_t, char*, size_t) = nullptr;
  void (*free)(void*) = nullptr;
  int (*size)(const void*) = nullptr;
  const char* (*piece)(const void*, int, size_t*) = nullptr;
  float (*score)(const void*, int) = nullptr;
  int (*flags)(const void*, int) = nullptr;
  int (*special)(const void*, int) = nullptr;
  int (*encode)(const void*, const char*, size_t, int32_t*, size_t, size_t*, char*, size_t) = nullptr;
  int (*decode)(const void*, const int32_t*, size_t, char*, size_t, size_t*, char*, size_t) = nullptr;
  std::string problem;  // why it is not there; empty when loaded
};

// Where the module may be: DISTILL_SENTENCEPIECE_MODULE, beside an installed program
// (<prefix>/bin/distill -> <prefix>/lib/distill-workbench/), the build tree, the configured
// install location.
std::vector<std::string> moduleCandidates() {
  std::vector<std::string> paths;
  if (const char* given = std::getenv("DISTILL_SENTENCEPIECE_MODULE"); given && *given) paths.push_back(given);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) paths.push_back((exe.parent_path().parent_path() / "lib" / "distill-workbench" / "libdistill_sentencepiece.so").string());
#ifdef DISTILL_SENTENCEPIECE_MODULE_BUILD
  paths.push_back(DISTILL_SENTENCEPIECE_MODULE_BUILD);
#endif
#ifdef DISTILL_SENTENCEPIECE_MODULE_INSTALLED
  paths.push_back(DISTILL_SENTENCEPIECE_MODULE_INSTALLED);
#endif
  return paths;
}

const Module& sentencePieceModule() {
  static const Module module = [] {
    Module m;
    std::string tried;
    for (const auto& path : moduleCandidates()) {
      std::error_code ec;
      if (!fs::exists(path, ec)) continue;
      std::string error;
      void* library = openIsolatedLibrary(path, error);
      if (!library) {
        tried += (tried.empty() ? "" : "; ") + path + ": " + error;
        continue;
      }
      auto bind = [&](auto& function, const char* name) {
        function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(isolatedSymbol(library, name));
        if (!function) tried += (tried.empty() ? "" : "; ") + path + ": no " + name;
        return function != nullptr;
      };
      if (bind(m.load, "distill_spm_load") && bind(m.free, "distill_spm_free") && bind(m.size, "distill_spm_size") &&
          bind(m.piece, "distill_spm_piece") && bind(m.score, "distill_spm_score") && bind(m.flags, "distill_spm_flags") &&
          bind(m.special, "distill_spm_special") && bind(m.encode, "distill_spm_encode") &&
          bind(m.decode, "distill_spm_decode"))
        return m;
      m = Module();
    }
    m.problem = "SentencePiece support is not available: " +
                (tried.empty() ? "its module libdistill_sentencepiece.so was not found (set DISTILL_SENTENCEPIECE_MODULE)"
                               : tried);
    return m;
  }();
  return module;
}

}  // namespace

struct SentencePieceTokenizer::Model {
  std::string source;
  void* handle = nullptr;  // the module's model
  std::vector<std::string> pieces;
  std::vector<std::string> surfaces;  // pieceText() by id
  std::vector<float> scores;
  std::vector<int> flags;  // 1 control, 2 unknown, 4 unused, 8 byte
  int unk = -1, bos = -1, eos = -1, pad = -1;
  ~Model() {
    if (handle) sentencePieceModule().free(handle);
  }
};

SentencePieceTokenizer SentencePieceTokenizer::load(const std::string& path) {
  std::error_code ec;
  fs::path file = path;
  if (fs::is_directory(file, ec)) {
    file /= "tokenizer.model";
    if (!fs::exists(file, ec)) throw DataError(path + ": the folder holds no tokenizer.model (a SentencePiece model)");
  } else if (!fs::exists(file, ec)) {
    throw DataError(path + ": no such file (expected a SentencePiece tokenizer.model)");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(file.string() + ": cannot be read");
  std::stringstream bytes;
  bytes << in.rdbuf();
  return fromSerialized(bytes.str(), file.string());
}

SentencePieceTokenizer SentencePieceTokenizer::fromSerialized(const std::string& bytes, const std::string& path) {
  const Module& module = sentencePieceModule();
  if (!module.problem.empty()) throw DataError(path + ": " + module.problem);
  auto model = std::make_shared<Model>();
  model->source = path;
  if (bytes.empty()) throw DataError(path + ": empty file; expected a SentencePiece model (tokenizer.model)");
  char error[512] = "";
  model->handle = module.load(bytes.data(), bytes.size(), error, sizeof error);
  if (!model->handle)
    throw DataError(path + ": not a SentencePiece model (" + error +
                    "); expected a tokenizer.model as Llama 2 and Mistral ship it");
  const int size = module.size(model->handle);
  if (size <= 0) throw DataError(path + ": a SentencePiece model with no pieces");
  for (int id = 0; id < size; ++id) {
    size_t length = 0;
    const char* text = module.piece(model->handle, id, &length);
    std::string piece(text, length);
    const int flags = module.flags(model->handle, id);
    std::string surface;
    if ((flags & 8) && piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece.back() == '>') {
      surface = std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
    } else if (flags & 2) {
      surface = kUnknownSurface;
    } else if (!(flags & (1 | 4))) {
      surface = replaceAll(piece, kSpaceMark, " ");
    }
    model->pieces.push_back(std::move(piece));
    model->surfaces.push_back(std::move(surface));
    model->scores.push_back(module.score(model->handle, id));
    model->flags.push_back(flags);
  }
  model->unk = module.special(model->handle, 0);
  model->bos = module.special(model->handle, 1);
  model->eos = module.special(model->handle, 2);
  model->pad = module.special(model->handle, 3);
  return SentencePieceTokenizer(std::move(model));
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
  if (!isValidUtf8(text))
    throw DataError("text to encode with " + model_->source + " is " + describeInvalidUtf8(text) +
                    "; SentencePiece reads UTF-8");
  const Module& module = sentencePieceModule();
  std::vector<int32_t> ids(text.size() + 16);
  size_t needed = 0;
  char error[512] = "";
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!module.encode(model_->handle, text.data(), text.size(), ids.data(), ids.size(), &needed, error, sizeof error))
      throw DataError(model_->source + ": cannot encode a text (" + error + ")");
    if (needed <= ids.size()) break;
    ids.resize(needed);
  }
  ids.resize(needed);
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
  // The library rejects a whole sequence for one id outside the vocabulary: those become
  // U+FFFD between the decoded runs of valid ids.
  std::string text;
  std::vector<int32_t> run;
  auto flush = [&] {
    if (run.empty()) return;
    const Module& module = sentencePieceModule();
    std::string part(run.size() * 8 + 16, '\0');
    size_t needed = 0;
    char error[512] = "";
    bool ok = true;
    for (int attempt = 0; attempt < 2 && ok; ++attempt) {
      ok = module.decode(model_->handle, run.data(), run.size(), part.data(), part.size(), &needed, error, sizeof error);
      if (needed <= part.size()) break;
      part.resize(needed);
    }
    part.resize(ok ? needed : 0);
    text += ok ? part : kReplacement;
    run.clear();
  };
  for (const int32_t id : ids) {
    if (id >= 0 && id < vocabSize()) {
      run.push_back(id);
    } else {
      flush();
      text += kReplacement;
    }
  }
  flush();
  return text;
}

std::string SentencePieceTokenizer::pieceText(int32_t id) const {
  return id >= 0 && id < vocabSize() ? model_->surfaces[static_cast<size_t>(id)] : std::string(kReplacement);
}

int32_t SentencePieceTokenizer::vocabSize() const { return static_cast<int32_t>(model_->surfaces.size()); }

std::string SentencePieceTokenizer::piece(int32_t id) const {
  return id >= 0 && id < vocabSize() ? model_->pieces[static_cast<size_t>(id)] : std::string();
}

std::optional<int32_t> SentencePieceTokenizer::pieceId(std::string_view piece) const {
  const auto it = std::find(model_->pieces.begin(), model_->pieces.end(), piece);
  if (it == model_->pieces.end()) return std::nullopt;
  return static_cast<int32_t>(it - model_->pieces.begin());
}

std::optional<int32_t> SentencePieceTokenizer::bosId() const { return idOrNone(model_->bos); }
std::optional<int32_t> SentencePieceTokenizer::eosId() const { return idOrNone(model_->eos); }
std::optional<int32_t> SentencePieceTokenizer::unkId() const { return idOrNone(model_->unk); }
std::optional<int32_t> SentencePieceTokenizer::padId() const { return idOrNone(model_->pad); }

bool SentencePieceTokenizer::isControl(int32_t id) const {
  return id >= 0 && id < vocabSize() && (model_->flags[static_cast<size_t>(id)] & 1);
}
bool SentencePieceTokenizer::isByte(int32_t id) const {
  return id >= 0 && id < vocabSize() && (model_->flags[static_cast<size_t>(id)] & 8);
}

const std::string& SentencePieceTokenizer::source() const { return model_->source; }

std::string SentencePieceTokenizer::describe() const {
  int control = 0, bytes = 0;
  for (int32_t id = 0; id < vocabSize(); ++id) {
    control += isControl(id) ? 1 : 0;
    bytes += isByte(id) ? 1 : 0;
  }
  auto special = [&](const char* name, std::optional<int32_t> id) {
    return id ? fmt::format(", {} {} {}", name, *id, piece(*id)) : fmt::format(", no {}", name);
  };
  return fmt::format("SentencePiece from {}: {} pieces ({} control, {} byte){}{}{}", model_->source, vocabSize(), control,
                     bytes, special("bos", bosId()), special("eos", eosId()), special("unk", unkId()));
}

std::string SentencePieceTokenizer::fingerprint() const {
  Fingerprint f;
  f.add("SentencePiece").add(vocabSize());
  for (size_t id = 0; id < model_->pieces.size(); ++id) {
    const float score = model_->scores[id];
    int32_t score_bits = 0;
    static_assert(sizeof score == sizeof score_bits);
    std::memcpy(&score_bits, &score, sizeof score);
    f.add(model_->pieces[id]).add(score_bits).add(model_->flags[id]);
  }
  f.add(model_->bos).add(model_->eos).add(model_->unk).add(model_->pad);
  return f.hex();
}

}  // namespace distill
