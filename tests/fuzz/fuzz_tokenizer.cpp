// libFuzzer target: a Hugging Face tokenizer.json (core/text/bpe). The input is the file;
// DataError is the only accepted refusal. A tokenizer that loads encodes a few fixed texts and
// the input itself (when it is UTF-8): every id must be one of its ids, and decoding them must
// not fail.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/errors.h"
#include "core/text/bpe/bpe_tokenizer.h"
#include "core/text/utf8.h"

namespace {

void encodeAndDecode(const distill::BpeTokenizer& tokenizer, distill::BpeEncoder& encoder, const std::string& text,
                     bool added_tokens) {
  const auto ids = encoder.encode(text, added_tokens);
  for (int32_t id : ids) {
    if (id < 0 || id >= tokenizer.vocabSize()) __builtin_trap();
  }
  (void)tokenizer.decode(ids);
  (void)tokenizer.decode(ids, /*skip_special=*/true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  try {
    const auto tokenizer = distill::BpeTokenizer::fromTokenizerJsonText(input, "fuzz.json");
    distill::BpeEncoder encoder(tokenizer);
    static const char* const texts[] = {"Hello world", " the thing 12345 he's", "caf\xC3\xA9 cafe\xCC\x81 <|endoftext|>",
                                        "a  b\n\n\t", "<|begin_of_text|>dog hotdog <|eot|>", ""};
    for (const char* text : texts) {
      encodeAndDecode(tokenizer, encoder, text, true);
      encodeAndDecode(tokenizer, encoder, text, false);
    }
    if (distill::isValidUtf8(input)) encodeAndDecode(tokenizer, encoder, input.substr(0, 1024), true);
    (void)tokenizer.describe();
  } catch (const distill::DataError&) {
  }
  return 0;
}
