// A tokenizer's identity as 16 hex digits: FNV-1a (64-bit) over what decides its ids, fed field
// by field. Not a cryptographic hash: it tells two tokenizers apart (a run tokenized one way, a
// teacher exported another), it does not defend against a forged file.
//
// Each field is fed with its length first, so that ("ab", "c") and ("a", "bc") differ.
//
// Usage:
//   Fingerprint f;
//   f.add("bpe");
//   for (int32_t id = 0; id < size; ++id) f.add(token(id)).add(id);
//   std::string hex = f.hex();  // "9f1c0d3e5a7b2c41"
//
// Thread contract: a plain value; one thread at a time per object.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace distill {

class Fingerprint {
 public:
  Fingerprint& add(std::string_view text) {
    add(static_cast<int64_t>(text.size()));
    for (const char c : text) byte(static_cast<unsigned char>(c));
    return *this;
  }
  Fingerprint& add(int64_t value) {
    for (int shift = 0; shift < 64; shift += 8) byte(static_cast<unsigned char>((static_cast<uint64_t>(value) >> shift) & 0xFF));
    return *this;
  }
  uint64_t value() const { return hash_; }
  std::string hex() const {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash_));
    return text;
  }

 private:
  void byte(unsigned char c) { hash_ = (hash_ ^ c) * 0x100000001b3ull; }
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

}  // namespace distill
