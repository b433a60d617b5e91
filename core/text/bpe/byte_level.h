// GPT-2's byte-level alphabet: each of the 256 byte values is written as one printable Unicode
// character, so that a vocabulary of strings covers every byte sequence. The printable Latin-1
// bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves; the 68 others
// (controls, space, NBSP, soft hyphen) become U+0100 + n in byte order, so a space is 'Ġ'
// (U+0120) and '\n' is 'Ċ' (U+010A). (openai/gpt-2 encoder.py, bytes_to_unicode.)
//
// Thread contract: plain functions over constant tables; call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace distill::bpe {

// The character that stands for `byte`.
char32_t byteSymbol(uint8_t byte);
// The byte that `symbol` stands for, or -1 when it is not in the alphabet.
int symbolByte(char32_t symbol);

// " the" -> "Ġthe": each byte as its symbol, UTF-8 encoded.
std::string bytesToSymbols(std::string_view bytes);
// "Ġthe" -> " the". nullopt when the text is not UTF-8 or holds a character outside the alphabet.
std::optional<std::string> symbolsToBytes(std::string_view symbols);

// What Hugging Face's ByteLevel decoder makes of a vocabulary string: its bytes when every
// character is in the alphabet, else the string's own UTF-8 (as for "<|endoftext|>"-like
// added tokens written in other characters).
std::string decodedBytes(std::string_view token);

// UTF-8 helpers for text already known to be valid.
void appendUtf8(std::string& out, char32_t code_point);
// The code point starting at `offset` and its length in bytes.
char32_t codePointAt(std::string_view text, size_t offset, size_t* length = nullptr);
// The offset of the code point that ends just before `offset` (offset > 0).
size_t previousCodePoint(std::string_view text, size_t offset);
// Unicode's White_Space property (what \s means to Hugging Face's Rust regex).
bool isUnicodeSpace(char32_t c);

}  // namespace distill::bpe
