#include "core/hf/safetensors_header.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <set>

#include "core/errors.h"

namespace distill {

namespace {

using json = nlohmann::json;

// A name as JSON writes it: quoted, control characters escaped.
std::string jsonQuoted(const std::string& name) {
  return json(name).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string tensorLabel(const std::string& name) { return "tensor " + jsonQuoted(name); }

// A JSON value in a message, cut short when long.
std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

class HeaderReader {
 public:
  explicit HeaderReader(const std::string& path) : path_(path) {}

  [[noreturn]] void fail(const std::string& what) const { throw DataError(path_ + ": " + what); }

  json parse(const char* begin, const char* end) {
    // Duplicate names are refused here: nlohmann keeps the last value of a repeated key
    // silently. A header is an object of objects of arrays, so anything nested deeper is
    // refused before it is built.
    std::set<std::string> top_keys;
    std::set<std::string> entry_keys;
    std::string entry_name;
    auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
      if (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) {
        if (depth >= 3) {
          fail("the header nests deeper than a safetensors header does (at " +
               (entry_name.empty() ? std::string("the top") : tensorLabel(entry_name)) +
               "; expected {name: {dtype, shape: [...], data_offsets: [begin, end]}})");
        }
        if (depth == 1) entry_keys.clear();
      } else if (event == json::parse_event_t::key) {
        const std::string key = parsed.get<std::string>();
        if (depth == 1) {
          if (!top_keys.insert(key).second) fail(tensorLabel(key) + " is named twice in the header");
          entry_name = key;
        } else if (depth == 2) {
          if (!entry_keys.insert(key).second) {
            fail(tensorLabel(entry_name) + " has the key " + jsonQuoted(key) + " twice");
          }
        }
      }
      return true;
    };
    try {
      return json::parse(begin, end, callback);
    } catch (const json::exception& e) {  // parse_error; out_of_range for a number like 1e999999
      fail("the header is not JSON (" + std::string(e.what()) + ")");
    }
  }

  // A non-negative integer that fits int64 (and so uint64), or a refusal naming `what`.
  uint64_t unsignedInteger(const json& value, const std::string& what) const {
    if (value.is_number_unsigned()) {
      const auto number = value.get<uint64_t>();
      if (number <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return number;
    } else if (value.is_number_integer() && value.get<int64_t>() >= 0) {
      return static_cast<uint64_t>(value.get<int64_t>());
    }
    fail(what + " is " + shown(value) + ", expected an integer from 0 to 2^63-1");
  }

  SafetensorsEntry entry(const std::string& name, const json& info, uint64_t data_bytes) const {
    const std::string label = tensorLabel(name);
    if (!info.is_object()) {
      fail(label + " is " + shown(info) + ", expected an object {dtype, shape, data_offsets}");
    }
    SafetensorsEntry entry;
    entry.name = name;
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
      if (!info.contains(key)) fail(label + " has no \"" + key + "\"");
    }
    const json& dtype = info["dtype"];
    if (!dtype.is_string()) fail(label + ": dtype is " + shown(dtype) + ", expected a string such as \"F32\"");
    entry.dtype = dtype.get<std::string>();
    const size_t item_size = safetensorsItemSize(entry.dtype);
    if (item_size == 0) {
      fail(label + ": unknown dtype " + jsonQuoted(entry.dtype) +
           ", expected one of F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, U16, U32, U64, F8_E4M3, F8_E5M2");
    }

    const json& shape = info["shape"];
    if (!shape.is_array()) fail(label + ": shape is " + shown(shape) + ", expected a list of non-negative integers");
    // The product of the non-zero dimensions must fit in int64 even when a 0 makes the tensor
    // empty: LibTorch computes strides from them ([0, 2^62, 2^62] would overflow its strides).
    uint64_t product = 1;
    bool empty = false;
    bool overflow = false;
    constexpr auto kMaxElements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    for (size_t i = 0; i < shape.size(); ++i) {
      const uint64_t dim = unsignedInteger(shape[i], label + ": shape[" + std::to_string(i) + "]");
      entry.shape.push_back(static_cast<int64_t>(dim));
      if (dim == 0) {
        empty = true;
      } else if (!overflow) {
        if (product > kMaxElements / dim) {
          overflow = true;
        } else {
          product *= dim;
        }
      }
    }
    const uint64_t elements = empty ? 0 : product;
    if (overflow || elements > std::numeric_limits<uint64_t>::max() / item_size) {
      fail(label + ": shape " + shown(shape) + " of " + entry.dtype +
           " is larger than any file (its element count or byte size overflows 64 bits)");
    }
    const uint64_t expected_bytes = elements * item_size;

    const json& offsets = info["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2) {
      fail(label + ": data_offsets is " + shown(offsets) + ", expected [begin, end]");
    }
    entry.begin = unsignedInteger(offsets[0], label + ": data_offsets[0]");
    entry.end = unsignedInteger(offsets[1], label + ": data_offsets[1]");
    if (entry.end < entry.begin) {
      fail(label + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
           "] end before they begin");
    }
    if (entry.end > data_bytes) {
      fail(label + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
           "] exceed the data section, which holds " + std::to_string(data_bytes) + " bytes (the file is cut short?)");
    }
    if (entry.end - entry.begin != expected_bytes) {
      fail(label + ": shape " + shown(shape) + " of " + entry.dtype + " needs " + std::to_string(expected_bytes) +
           " bytes, but data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "] hold " +
           std::to_string(entry.end - entry.begin));
    }
    return entry;
  }

 private:
  const std::string& path_;
};

}  // namespace

int64_t SafetensorsEntry::elements() const {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim == 0) return 0;
    count *= dim;  // cannot overflow: the parser checked the product of the non-zero dimensions
  }
  return count;
}

size_t safetensorsItemSize(const std::string& dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8},
  };
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

uint64_t readSafetensorsHeaderLength(const uint8_t* prefix, size_t prefix_size, uint64_t file_size,
                                     const std::string& path) {
  if (prefix_size < 8 || file_size < 8) {
    throw DataError(path + ": truncated: " + std::to_string(std::min<uint64_t>(prefix_size, file_size)) +
                    " bytes, but a safetensors file starts with an 8-byte header length");
  }
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | prefix[i];  // little-endian
  if (length > kMaxSafetensorsHeaderBytes) {
    throw DataError(path + ": the header length is " + std::to_string(length) + " bytes, above the limit of " +
                    std::to_string(kMaxSafetensorsHeaderBytes) + " (not a safetensors file, or a corrupt one)");
  }
  if (length > file_size - 8) {
    throw DataError(path + ": the header length is " + std::to_string(length) + " bytes, beyond the end of the file (" +
                    std::to_string(file_size) + " bytes: truncated, or not a safetensors file)");
  }
  return length;
}

SafetensorsHeader parseSafetensorsHeader(const uint8_t* bytes, size_t size, uint64_t file_size,
                                         const std::string& path) {
  HeaderReader reader(path);
  SafetensorsHeader header;
  header.header_bytes = readSafetensorsHeaderLength(bytes, size, file_size, path);
  header.data_offset = 8 + header.header_bytes;
  header.data_bytes = file_size - header.data_offset;
  if (size < header.data_offset) {
    reader.fail("only " + std::to_string(size) + " bytes given to the header parser, but the header ends at byte " +
                std::to_string(header.data_offset));
  }
  const char* text = reinterpret_cast<const char*>(bytes + 8);
  if (header.header_bytes == 0 || text[0] != '{') {
    reader.fail("the header does not start with '{' (expected a JSON object; not a safetensors file?)");
  }
  const json root = reader.parse(text, text + header.header_bytes);
  if (!root.is_object()) reader.fail("the header is not a JSON object");

  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) reader.fail("__metadata__ is " + shown(value) + ", expected an object of strings");
      for (const auto& [key, item] : value.items()) {
        if (!item.is_string()) {
          reader.fail("__metadata__ " + jsonQuoted(key) + " is " + shown(item) + ", expected a string");
        }
        header.metadata[key] = item.get<std::string>();
      }
      continue;
    }
    header.entries.push_back(reader.entry(name, value, header.data_bytes));
  }

  // The tensors must tile the data section: sorted by offsets, each begins where the one before
  // ends, the first at 0 and the last at the section's end.
  std::sort(header.entries.begin(), header.entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  uint64_t position = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const auto& entry : header.entries) {
    const std::string range = "data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
    const std::string after = previous ? "the end of " + tensorLabel(previous->name) + " (byte " +
                                             std::to_string(position) + ")"
                                       : "the start of the data section (byte 0)";
    if (entry.begin < position) {
      reader.fail(tensorLabel(entry.name) + ": " + range + " overlap " + tensorLabel(previous->name) +
                  ", which ends at byte " + std::to_string(position) + "; expected it to begin there");
    }
    if (entry.begin > position) {
      reader.fail(tensorLabel(entry.name) + ": " + range + " leave a gap of " + std::to_string(entry.begin - position) +
                  " bytes after " + after + "; expected it to begin at byte " + std::to_string(position));
    }
    position = entry.end;
    previous = &entry;
  }
  if (position != header.data_bytes) {
    reader.fail("the data section holds " + std::to_string(header.data_bytes) + " bytes, but the tensors end at byte " +
                std::to_string(position) +
                (previous ? " (the last is " + tensorLabel(previous->name) + ")" : std::string(" (there are none)")) +
                "; expected the tensors to cover it exactly");
  }
  return header;
}

}  // namespace distill
