#include <gtest/gtest.h>

#include "core/text/utf8.h"

namespace distill {
namespace {

struct ValidityCase {
  const char* label;
  std::string text;
  size_t first_invalid;  // npos: valid
  std::string repaired;
};

class Utf8Validity : public ::testing::TestWithParam<ValidityCase> {};

TEST_P(Utf8Validity, FindsTheFirstBadByteAndRepairsByMaximalSubparts) {
  const auto& c = GetParam();
  EXPECT_EQ(firstInvalidUtf8(c.text), c.first_invalid) << c.label;
  EXPECT_EQ(isValidUtf8(c.text), c.first_invalid == std::string_view::npos) << c.label;
  EXPECT_EQ(repairUtf8(c.text), c.repaired) << c.label;
  EXPECT_TRUE(isValidUtf8(repairUtf8(c.text))) << c.label;
}

constexpr size_t kValid = std::string_view::npos;
const std::string kFffd = "\xEF\xBF\xBD";

INSTANTIATE_TEST_SUITE_P(
    Table, Utf8Validity,
    ::testing::Values(
        ValidityCase{"empty", "", kValid, ""},
        ValidityCase{"ascii", "mlp kd T4", kValid, "mlp kd T4"},
        ValidityCase{"two three four bytes", "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", kValid,
                     "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
        ValidityCase{"lone 0xff", "ab\xFF" "c", 2, "ab" + kFffd + "c"},
        ValidityCase{"lone continuation", "\x80x", 0, kFffd + "x"},
        ValidityCase{"overlong slash", "\xC0\xAF", 0, kFffd + kFffd},
        ValidityCase{"overlong three bytes", "\xE0\x80\xAF", 0, kFffd + kFffd + kFffd},
        ValidityCase{"surrogate", "\xED\xA0\x80", 0, kFffd + kFffd + kFffd},
        ValidityCase{"above U+10FFFF", "\xF4\x90\x80\x80", 0, kFffd + kFffd + kFffd + kFffd},
        ValidityCase{"truncated at the end", "ok\xE2\x82", 2, "ok" + kFffd},
        ValidityCase{"truncated before ascii", "\xF0\x9F\x98!", 0, kFffd + "!"},
        ValidityCase{"latin-1 name", "caf\xE9 run", 3, "caf" + kFffd + " run"}));

TEST(Utf8, DescribesTheFirstBadByte) {
  EXPECT_EQ(describeInvalidUtf8("ab\xFF"), "not valid UTF-8 (byte 0xff at offset 2)");
}

TEST(Utf8, EscapesControlCharactersAndKeepsTheRest) {
  EXPECT_EQ(escapeControlChars("a\tb\nc\rd"), "a\\tb\\nc\\rd");
  EXPECT_EQ(escapeControlChars("red \x1B[31mX"), "red \\e[31mX");
  using namespace std::string_literals;
  EXPECT_EQ(escapeControlChars("nul\0bell\x07 del\x7F"s), "nul\\x00bell\\x07 del\\x7f");
  EXPECT_EQ(escapeControlChars("next line \xC2\x85"), "next line \\u0085");
  EXPECT_EQ(escapeControlChars("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");
}

TEST(Utf8, CountsWideAndZeroWidthColumns) {
  EXPECT_EQ(displayColumns("abc"), 3u);
  EXPECT_EQ(displayColumns("\xC3\xA9"), 1u);                  // é
  EXPECT_EQ(displayColumns("e\xCC\x81"), 1u);                 // e + combining acute
  EXPECT_EQ(displayColumns("\xE8\x92\xB8\xE7\x95\x99"), 4u);  // 蒸留
  EXPECT_EQ(displayColumns("\xF0\x9F\x98\x80"), 2u);          // 😀
}

TEST(Utf8, TruncatesAtCodePointBoundariesWithinTheColumns) {
  EXPECT_EQ(truncateToColumns("short", 10), "short");
  EXPECT_EQ(truncateToColumns("abcdefgh", 5), "abcd~");
  // "éééé" is 8 bytes: a byte cut at 3 would split the second é.
  EXPECT_EQ(truncateToColumns("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3), "\xC3\xA9\xC3\xA9~");
  // Wide characters: 蒸留蒸留 is 8 columns; 5 columns hold two of them and the marker.
  const std::string wide = "\xE8\x92\xB8\xE7\x95\x99\xE8\x92\xB8\xE7\x95\x99";
  EXPECT_EQ(truncateToColumns(wide, 5), "\xE8\x92\xB8\xE7\x95\x99~");
  EXPECT_EQ(truncateToColumns(wide, 4), "\xE8\x92\xB8~");
  EXPECT_EQ(truncateToColumns("abc", 0), "");
  for (size_t columns = 0; columns < 12; ++columns) {
    const std::string cut = truncateToColumns(wide + "\xC3\xA9" + "x", columns);
    EXPECT_TRUE(isValidUtf8(cut)) << columns;
    EXPECT_LE(displayColumns(cut), columns) << columns;
  }
}

TEST(Utf8, TerminalTextRepairsEscapesTruncatesAndPads) {
  EXPECT_EQ(terminalText("a\nb\xFF"), "a\\nb" + kFffd);
  EXPECT_EQ(terminalText("ab", 4), "ab  ");
  EXPECT_EQ(terminalText("\xE8\x92\xB8\xE7\x95\x99\xE8\x92\xB8", 5), "\xE8\x92\xB8\xE7\x95\x99~");
  EXPECT_EQ(displayColumns(terminalText("\xE8\x92\xB8 x", 4)), 4u);
}

}  // namespace
}  // namespace distill
