#include "core/text/bpe/byte_level.h"

#include "core/text/utf8.h"

#include <array>

namespace distill::bpe {

namespace {

bool standsForItself(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

struct Alphabet {
  std::array<char32_t, 256> symbol{};
  std::array<int16_t, 324> byte{};  // indexed by code point; every symbol is below U+0144

  Alphabet() {
    byte.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      symbol[b] = standsForItself(b) ? static_cast<char32_t>(b) : next++;
      byte[symbol[b]] = static_cast<int16_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet table;
  return table;
}

}  // namespace

char32_t byteSymbol(uint8_t byte) { return alphabet().symbol[byte]; }

int symbolByte(char32_t symbol) {
  return symbol < alphabet().byte.size() ? alphabet().byte[symbol] : -1;
}

std::string bytesToSymbols(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) appendUtf8(out, byteSymbol(b));
  return out;
}

std::optional<std::string> symbolsToBytes(std::string_view symbols) {
  if (!isValidUtf8(symbols)) return std::nullopt;
  std::string out;
  out.reserve(symbols.size());
  for (size_t offset = 0; offset < symbols.size();) {
    size_t length = 0;
    const int b = symbolByte(codePointAt(symbols, offset, &length));
    if (b < 0) return std::nullopt;
    out.push_back(static_cast<char>(b));
    offset += length;
  }
  return out;
}

std::string decodedBytes(std::string_view token) {
  auto bytes = symbolsToBytes(token);
  return bytes ? *bytes : std::string(token);
}

void appendUtf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

char32_t codePointAt(std::string_view text, size_t offset, size_t* length) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[offset + i]); };
  const unsigned char lead = byte(0);
  size_t n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (offset + n > text.size()) n = text.size() - offset;  // not valid UTF-8: never read past the end
  char32_t c = n == 1 ? lead : n == 2 ? (lead & 0x1F) : n == 3 ? (lead & 0x0F) : (lead & 0x07);
  for (size_t i = 1; i < n; ++i) c = (c << 6) | (byte(i) & 0x3F);
  if (length) *length = n;
  return c;
}

size_t previousCodePoint(std::string_view text, size_t offset) {
  size_t start = offset - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

bool isUnicodeSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace distill::bpe
