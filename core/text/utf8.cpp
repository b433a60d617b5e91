#include "core/text/utf8.h"

#include <fmt/format.h>

namespace distill {

namespace {

// One step of decoding at `offset`: a well-formed sequence (valid, its code point and length),
// or an ill-formed one whose `length` is its maximal subpart (the longest prefix that some
// well-formed sequence starts with, at least one byte), which is what U+FFFD replaces.
struct Step {
  bool valid = false;
  char32_t code_point = 0;
  size_t length = 1;
};

Step decodeAt(std::string_view text, size_t offset) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[offset + i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return {true, lead, 1};
  size_t length = 0;
  char32_t code_point = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte (RFC 3629, table 3-7)
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, code_point = lead & 0x0F;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, code_point = lead & 0x07;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return {};  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  for (size_t i = 1; i < length; ++i) {
    if (offset + i >= text.size()) return {false, 0, i};
    const unsigned char next = byte(i);
    const unsigned char min = i == 1 ? low : 0x80, max = i == 1 ? high : 0xBF;
    if (next < min || next > max) return {false, 0, i};
    code_point = (code_point << 6) | (next & 0x3F);
  }
  return {true, code_point, length};
}

// Markus Kuhn's wcwidth ranges, abridged to the blocks a run name may plausibly hold.
bool isZeroWidth(char32_t c) {
  return (c >= 0x0300 && c <= 0x036F) || (c >= 0x0483 && c <= 0x0489) || (c >= 0x0591 && c <= 0x05BD) ||
         (c >= 0x0610 && c <= 0x061A) || (c >= 0x064B && c <= 0x065F) || (c >= 0x0E31 && c <= 0x0E3A && c != 0x0E32 && c != 0x0E33) ||
         (c >= 0x1AB0 && c <= 0x1AFF) || (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0x200B && c <= 0x200F) ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x2064) || (c >= 0x20D0 && c <= 0x20FF) ||
         (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xFE20 && c <= 0xFE2F) || c == 0xFEFF || (c >= 0xE0100 && c <= 0xE01EF);
}

bool isWide(char32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF && c != 0x303F) || (c >= 0xAC00 && c <= 0xD7A3) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
         (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) || (c >= 0x1F900 && c <= 0x1F9FF) ||
         (c >= 0x20000 && c <= 0x3FFFD);
}

size_t columnsOf(char32_t c) {
  if (isZeroWidth(c)) return 0;
  return isWide(c) ? 2 : 1;
}

}  // namespace

size_t firstInvalidUtf8(std::string_view text) {
  for (size_t offset = 0; offset < text.size();) {
    const Step step = decodeAt(text, offset);
    if (!step.valid) return offset;
    offset += step.length;
  }
  return std::string_view::npos;
}

std::string describeInvalidUtf8(std::string_view text) {
  const size_t offset = firstInvalidUtf8(text);
  if (offset == std::string_view::npos) return "valid UTF-8";
  return fmt::format("not valid UTF-8 (byte 0x{:02x} at offset {})", static_cast<unsigned char>(text[offset]), offset);
}

std::string repairUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const Step step = decodeAt(text, offset);
    if (step.valid)
      out.append(text.substr(offset, step.length));
    else
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
    offset += step.length;
  }
  return out;
}

std::string escapeControlChars(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const Step step = decodeAt(text, offset);
    const char32_t c = step.code_point;
    if (!step.valid) {
      out.append(text.substr(offset, step.length));  // not a character: left to repairUtf8
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == 0x1B) {
      out += "\\e";
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    } else if (c >= 0x80 && c <= 0x9F) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out.append(text.substr(offset, step.length));
    }
    offset += step.length;
  }
  return out;
}

size_t displayColumns(std::string_view text) {
  size_t columns = 0;
  for (size_t offset = 0; offset < text.size();) {
    const Step step = decodeAt(text, offset);
    columns += step.valid ? columnsOf(step.code_point) : 1;
    offset += step.length;
  }
  return columns;
}

std::string truncateToColumns(std::string_view text, size_t columns, std::string_view marker) {
  if (displayColumns(text) <= columns) return std::string(text);
  const size_t marker_columns = displayColumns(marker);
  if (marker_columns > columns) return truncateToColumns(marker, columns, "");
  const size_t room = columns - marker_columns;
  size_t used = 0, end = 0;
  for (size_t offset = 0; offset < text.size();) {
    const Step step = decodeAt(text, offset);
    const size_t width = step.valid ? columnsOf(step.code_point) : 1;
    if (used + width > room) break;
    used += width;
    offset += step.length;
    end = offset;
  }
  return std::string(text.substr(0, end)) + std::string(marker);
}

std::string terminalText(std::string_view text, size_t columns) {
  std::string shown = escapeControlChars(repairUtf8(text));
  if (columns == std::string_view::npos) return shown;
  shown = truncateToColumns(shown, columns);
  shown.append(columns - displayColumns(shown), ' ');
  return shown;
}

}  // namespace distill
