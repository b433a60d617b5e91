// UTF-8 at the edges: names and notes come from users, configs and old databases, and leave
// through JSON (which must be valid UTF-8) and terminals (where a control character moves the
// cursor and a cut in the middle of a character prints garbage). Validation follows RFC 3629:
// no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
//
// Thread contract: plain functions without shared state; call from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace distill {

// Byte offset of the first byte that does not start a well-formed UTF-8 sequence, or
// std::string_view::npos when the whole text is valid.
size_t firstInvalidUtf8(std::string_view text);
inline bool isValidUtf8(std::string_view text) { return firstInvalidUtf8(text) == std::string_view::npos; }

// "not valid UTF-8 (byte 0xff at offset 3)": for messages that name the field themselves.
std::string describeInvalidUtf8(std::string_view text);

// The text with each maximal ill-formed subsequence replaced by U+FFFD (the Unicode standard's
// "substitution of maximal subparts", as browsers decode); valid text comes back unchanged.
std::string repairUtf8(std::string_view text);

// Control characters (C0, DEL, C1) written visibly: \n, \r, \t, \e and \xHH / \u0085, so that a
// name cannot move a terminal's cursor or break a line of a table. Other text is unchanged.
std::string escapeControlChars(std::string_view text);

// Terminal columns of valid UTF-8 text: 2 for East Asian wide and fullwidth characters and
// emoji, 0 for combining marks and zero-width characters, 1 otherwise.
size_t displayColumns(std::string_view text);

// The longest prefix that ends at a code-point boundary and fits `columns` columns. When the
// text is cut, the prefix is followed by `marker` within the same columns ("~" by default).
std::string truncateToColumns(std::string_view text, size_t columns, std::string_view marker = "~");

// For a terminal or a table: repaired, control characters escaped, truncated to `columns`
// (no truncation when columns is npos), then padded with spaces to `columns`.
std::string terminalText(std::string_view text, size_t columns = std::string_view::npos);

}  // namespace distill
