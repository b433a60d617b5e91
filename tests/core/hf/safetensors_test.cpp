// safetensors reading and writing (core/hf/safetensors, core/hf/safetensors_header): round
// trips of every dtype, sharded checkpoints, files written and read by an independent Python
// implementation (tests/hf/write_safetensors.py), and every refusal checked by its message.
#include "core/hf/safetensors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>

#include "core/errors.h"
#include "support/test_support.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using distill::testing::TempDir;

std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string lengthPrefix(uint64_t length) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes;
}

// A file made by hand: the header text as given, then `data_bytes` bytes of data.
std::string handMadeFile(const TempDir& dir, const std::string& header, size_t data_bytes,
                         const std::string& name = "bad.safetensors") {
  const std::string path = dir.file(name);
  writeBytes(path, lengthPrefix(header.size()) + header + std::string(data_bytes, '\x01'));
  return path;
}

// Runs `action`, expecting a DataError whose message holds every one of `parts`.
void expectDataError(const std::function<void()>& action, std::initializer_list<std::string> parts) {
  try {
    action();
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    const std::string message = e.what();
    for (const auto& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  }
}

void expectSameTensor(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& name) {
  EXPECT_EQ(actual.scalar_type(), expected.scalar_type()) << name;
  EXPECT_EQ(actual.sizes(), expected.sizes()) << name;
  EXPECT_TRUE(torch::equal(actual, expected)) << name;
}

// ---------------------------------------------------------------------------------------------
// Round trips

class SafetensorsDtype : public ::testing::TestWithParam<torch::ScalarType> {};

TEST_P(SafetensorsDtype, RoundTripsValuesShapeAndDtype) {
  TempDir dir;
  const auto type = GetParam();
  torch::manual_seed(3);
  torch::Tensor values;
  if (type == torch::kBool) {
    values = torch::rand({3, 5}) > 0.5;
  } else if (c10::isFloatingType(type)) {
    values = torch::randn({3, 5}).to(type);
  } else {
    values = torch::randint(-100, 100, {3, 5}).to(type);
    if (type == torch::kUInt8) values = torch::randint(0, 256, {3, 5}).to(type);
  }
  // A non-contiguous view is written as its values.
  const auto transposed = values.t();
  const std::string path = dir.file("one.safetensors");
  writeSafetensors(path, {{"values", values}, {"transposed", transposed}}, {{"note", "round trip"}});

  const auto file = SafetensorsFile::open(path);
  expectSameTensor(file.tensor("values"), values, "values");
  expectSameTensor(file.tensor("transposed"), transposed.contiguous(), "transposed");
  EXPECT_EQ(file.metadata().at("note"), "round trip");
  EXPECT_EQ(file.metadata().at("format"), "pt");  // transformers needs it
  const auto as_float = file.tensorAsFloat("values");
  EXPECT_EQ(as_float.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(as_float, values.to(torch::kFloat32)));
}

INSTANTIATE_TEST_SUITE_P(EveryDtype, SafetensorsDtype,
                         ::testing::Values(torch::kFloat32, torch::kFloat16, torch::kBFloat16, torch::kFloat64,
                                           torch::kInt64, torch::kInt32, torch::kInt16, torch::kInt8, torch::kUInt8,
                                           torch::kBool),
                         [](const auto& info) { return std::string(c10::toString(info.param)); });

TEST(Safetensors, RoundTripsZeroDimensionalAndEmptyTensors) {
  TempDir dir;
  const std::string path = dir.file("edge.safetensors");
  const auto scalar = torch::tensor(2.5);
  const auto empty = torch::zeros({0, 7});
  const auto empty_int = torch::zeros({4, 0, 2}, torch::kInt64);
  writeSafetensors(path, {{"scalar", scalar}, {"empty", empty}, {"empty_int", empty_int}, {"last", torch::ones({2})}});
  const auto file = SafetensorsFile::open(path);
  expectSameTensor(file.tensor("scalar"), scalar, "scalar");
  EXPECT_EQ(file.tensor("scalar").dim(), 0);
  expectSameTensor(file.tensor("empty"), empty, "empty");
  expectSameTensor(file.tensor("empty_int"), empty_int, "empty_int");
  expectSameTensor(file.tensor("last"), torch::ones({2}), "last");
  EXPECT_EQ(file.entry("empty").begin, file.entry("empty").end);

  // No tensor at all is a valid file too.
  writeSafetensors(dir.file("none.safetensors"), {});
  EXPECT_TRUE(SafetensorsFile::open(dir.file("none.safetensors")).entries().empty());
}

TEST(Safetensors, WritesInTheGivenOrderWithAHeaderPaddedBySpaces) {
  TempDir dir;
  const std::string path = dir.file("order.safetensors");
  writeSafetensors(path, {{"z", torch::ones({3}, torch::kFloat16)}, {"a", torch::ones({1})}, {"m", torch::ones({2, 2})}});
  const std::string bytes = readBytes(path);
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ(length % 8, 0u);
  const std::string header = bytes.substr(8, length);
  EXPECT_EQ(header.front(), '{');
  const auto last = header.find_last_not_of(' ');
  EXPECT_EQ(header[last], '}');
  EXPECT_LT(length - 1 - last, 8u);
  EXPECT_EQ(bytes.size(), 8 + length + 6 + 4 + 16);

  const auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file.entries().size(), 3u);
  EXPECT_EQ(file.entries()[0].name, "z");
  EXPECT_EQ(file.entries()[1].name, "a");
  EXPECT_EQ(file.entries()[1].begin, 6u);  // misaligned for F32: read as a copy
  EXPECT_EQ(file.entries()[2].name, "m");
  expectSameTensor(file.tensor("a"), torch::ones({1}), "a");
}

TEST(Safetensors, ConvertsFloatingTensorsToTheTargetDtypeOnly) {
  TempDir dir;
  const std::string path = dir.file("bf16.safetensors");
  const auto weight = torch::randn({4, 3});
  const auto ids = torch::arange(5);
  writeSafetensors(path, {{"weight", weight}, {"ids", ids}}, {}, torch::kBFloat16);
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.entry("weight").dtype, "BF16");
  EXPECT_EQ(file.entry("ids").dtype, "I64");
  expectSameTensor(file.tensor("weight"), weight.to(torch::kBFloat16), "weight");
  expectSameTensor(file.tensor("ids"), ids, "ids");
  EXPECT_THROW(writeSafetensors(path, {{"weight", weight}}, {}, torch::kInt32), std::invalid_argument);
}

TEST(Safetensors, TensorsOutliveTheFileObjectAndWritingThemLeavesTheFileAlone) {
  TempDir dir;
  const std::string path = dir.file("keep.safetensors");
  const auto original = torch::arange(12, torch::kFloat32).reshape({3, 4});
  writeSafetensors(path, {{"w", original}});
  const std::string before = readBytes(path);
  torch::Tensor borrowed;
  torch::Tensor as_float;
  {
    const auto file = SafetensorsFile::open(path);
    borrowed = file.tensor("w");
    as_float = file.tensorAsFloat("w");
  }
  expectSameTensor(borrowed, original, "after the file object is gone");
  borrowed.mul_(2);  // copy-on-write: neither the file nor a fresh read changes
  as_float.add_(1);
  EXPECT_EQ(readBytes(path), before);
  expectSameTensor(SafetensorsFile::open(path).tensor("w"), original, "read again");
  EXPECT_TRUE(torch::equal(borrowed, original * 2));
  EXPECT_TRUE(torch::equal(as_float, original + 1));
}

TEST(Safetensors, ReadsTheLargestIntegersExactly) {
  TempDir dir;
  const std::string path = dir.file("ints.safetensors");
  const auto big = torch::tensor({std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(), int64_t{1}});
  writeSafetensors(path, {{"big", big}});
  expectSameTensor(SafetensorsFile::open(path).tensor("big"), big, "big");
}

// ---------------------------------------------------------------------------------------------
// Sharded checkpoints

NamedTensors sampleModel() {
  torch::manual_seed(7);
  return {{"embed.weight", torch::randn({16, 8})},          // 512 bytes
          {"layers.0.weight", torch::randn({8, 8})},        // 256
          {"layers.0.bias", torch::randn({8})},             // 32
          {"layers.1.weight", torch::randn({8, 8})},        // 256
          {"huge", torch::randn({40, 8})},                  // 1280: alone, above the limit
          {"head.weight", torch::randn({16, 8}).to(torch::kFloat16)}};   // 256
}

TEST(SafetensorsSharded, SplitsLikeTransformersAndReadsBack) {
  TempDir dir;
  const auto tensors = sampleModel();
  const auto written = writeSafetensorsSharded(dir.path().string(), tensors, {}, /*max_shard_bytes=*/600);
  // huggingface_hub's split, which transformers uses: a tensor above the limit becomes a shard
  // of its own when it comes, while the current shard goes on filling: 512 | 1280 | 256+32+256 | 256
  ASSERT_EQ(written.size(), 5u);
  for (int i = 1; i <= 4; ++i) {
    EXPECT_TRUE(fs::exists(dir.file("model-0000" + std::to_string(i) + "-of-00004.safetensors")));
  }
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors")));
  EXPECT_EQ(written.back(), dir.file("model.safetensors.index.json"));

  const json index = json::parse(readBytes(dir.file("model.safetensors.index.json")));
  EXPECT_EQ(index["metadata"]["total_size"].get<int64_t>(), 512 + 256 + 32 + 256 + 1280 + 256);
  EXPECT_EQ(index["weight_map"]["embed.weight"], "model-00001-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["huge"], "model-00002-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["layers.0.weight"], "model-00003-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["layers.0.bias"], "model-00003-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["layers.1.weight"], "model-00003-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["head.weight"], "model-00004-of-00004.safetensors");

  const auto checkpoint = SafetensorsCheckpoint::open(dir.path().string());
  EXPECT_EQ(checkpoint.names(), (std::vector<std::string>{"embed.weight", "head.weight", "huge", "layers.0.bias",
                                                          "layers.0.weight", "layers.1.weight"}));
  for (const auto& [name, tensor] : tensors) {
    ASSERT_TRUE(checkpoint.contains(name));
    expectSameTensor(checkpoint.tensor(name), tensor, name);
  }
  EXPECT_EQ(checkpoint.fileOf("huge"), dir.file("model-00002-of-00004.safetensors"));
  EXPECT_FALSE(checkpoint.contains("missing"));
  EXPECT_EQ(checkpoint.metadata().at("format"), "pt");
  // The index file itself opens the same checkpoint.
  EXPECT_EQ(SafetensorsCheckpoint::open(dir.file("model.safetensors.index.json")).names(), checkpoint.names());
}

TEST(SafetensorsSharded, OneShardIsModelSafetensorsAndStaleFilesGo) {
  TempDir dir;
  const auto tensors = sampleModel();
  writeSafetensorsSharded(dir.path().string(), tensors, {}, 600);
  writeBytes(dir.file("model-00009-of-00012.safetensors"), "stale");
  writeBytes(dir.file("notes.txt"), "kept");
  const auto written = writeSafetensorsSharded(dir.path().string(), tensors, {}, 1'000'000, torch::kBFloat16);
  EXPECT_EQ(written, std::vector<std::string>{dir.file("model.safetensors")});
  std::vector<std::string> left;
  for (const auto& item : fs::directory_iterator(dir.path())) left.push_back(item.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"model.safetensors", "notes.txt"}));

  const auto checkpoint = SafetensorsCheckpoint::open(dir.path().string());
  EXPECT_EQ(checkpoint.fileOf("embed.weight"), dir.file("model.safetensors"));
  expectSameTensor(checkpoint.tensor("head.weight"), tensors.back().second.to(torch::kBFloat16), "head.weight");
  // A file path opens it too.
  EXPECT_EQ(SafetensorsCheckpoint::open(dir.file("model.safetensors")).names(), checkpoint.names());
}

// ---------------------------------------------------------------------------------------------
// An independent implementation (Python, by hand)

const char* const kPython = "/usr/bin/python3";

std::string script() { return std::string(DISTILL_SOURCE_DIR) + "/tests/hf/write_safetensors.py"; }

// Why the Python checks cannot run here, or empty when they can.
std::string pythonTorchMissing() {
  if (!fs::exists(kPython)) return std::string(kPython) + " is not installed";
  const auto result = distill::testing::runCommand(std::string(kPython) + " -c 'import torch'");
  if (result.exit_code != 0) return std::string(kPython) + " has no torch (python3-torch): " + result.err;
  return "";
}

torch::Tensor expectedTensor(const json& described) {
  const auto type = torchTypeOfSafetensors(described["dtype"].get<std::string>());
  EXPECT_TRUE(type.has_value()) << described["dtype"];
  const auto shape = described["shape"].get<std::vector<int64_t>>();
  const json& values = described["values"];
  if (c10::isFloatingType(*type)) {
    return torch::tensor(values.get<std::vector<double>>(), torch::kFloat64).to(*type).reshape(shape);
  }
  if (*type == torch::kBool) {
    std::vector<int64_t> bits;
    for (const auto& v : values) bits.push_back(v.get<bool>() ? 1 : 0);
    return torch::tensor(bits, torch::kInt64).to(torch::kBool).reshape(shape);
  }
  return torch::tensor(values.get<std::vector<int64_t>>(), torch::kInt64).to(*type).reshape(shape);
}

TEST(SafetensorsPython, ReadsFilesWrittenByAnIndependentWriter) {
  if (const auto missing = pythonTorchMissing(); !missing.empty()) GTEST_SKIP() << missing;
  TempDir dir;
  for (const std::string padding : {"", " --no-padding"}) {
    SCOPED_TRACE("padding option '" + padding + "'");
    const std::string path = dir.file("python.safetensors");
    const std::string expected_path = dir.file("expected.json");
    const auto result = distill::testing::runCommand(std::string(kPython) + " " + script() + " write " + path + " " +
                                                     expected_path + padding);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json expected = json::parse(readBytes(expected_path));

    const auto file = SafetensorsFile::open(path);
    EXPECT_EQ(file.metadata().at("writer"), "write_safetensors.py");
    std::vector<std::string> order;
    for (const auto& entry : file.entries()) order.push_back(entry.name);
    EXPECT_EQ(order, expected["order"].get<std::vector<std::string>>());
    for (const auto& [name, described] : expected["tensors"].items()) {
      ASSERT_TRUE(file.contains(name)) << name;
      EXPECT_EQ(file.entry(name).dtype, described["dtype"].get<std::string>()) << name;
      expectSameTensor(file.tensor(name), expectedTensor(described), name);
    }
    const auto checkpoint = SafetensorsCheckpoint::open(path);
    EXPECT_EQ(checkpoint.names().size(), expected["tensors"].size());
  }
}

TEST(SafetensorsPython, AnIndependentReaderReadsWhatWeWrite) {
  if (const auto missing = pythonTorchMissing(); !missing.empty()) GTEST_SKIP() << missing;
  TempDir dir;
  torch::manual_seed(11);
  const NamedTensors tensors = {{"f32", torch::randn({2, 3})},
                                {"f16", torch::randn({3}).to(torch::kFloat16)},
                                {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
                                {"f64", torch::randn({2}, torch::kFloat64)},
                                {"i64", torch::tensor({int64_t{-5}, int64_t{1} << 40})},
                                {"i32", torch::tensor({-7, 9}, torch::kInt32)},
                                {"i16", torch::tensor({-300, 300}, torch::kInt16)},
                                {"i8", torch::tensor({-1, 1}, torch::kInt8)},
                                {"u8", torch::tensor({0, 255}, torch::kUInt8)},
                                {"bool", torch::tensor({1, 0, 1}, torch::kInt64).to(torch::kBool)},
                                {"scalar", torch::tensor(4.0)},
                                {"empty", torch::zeros({0, 3})}};
  const std::string path = dir.file("ours.safetensors");
  writeSafetensors(path, tensors, {{"source", "workbench"}});
  const auto result =
      distill::testing::runCommand(std::string(kPython) + " " + script() + " read " + path + " " + dir.file("read.json"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json read = json::parse(readBytes(dir.file("read.json")));
  EXPECT_EQ(read["header_length"].get<int64_t>() % 8, 0);
  EXPECT_TRUE(read["padding_is_spaces"].get<bool>());
  EXPECT_EQ(read["metadata"]["source"], "workbench");
  EXPECT_EQ(read["metadata"]["format"], "pt");
  std::vector<std::string> order;
  for (const auto& [name, tensor] : tensors) order.push_back(name);
  EXPECT_EQ(read["order"].get<std::vector<std::string>>(), order);
  for (const auto& [name, tensor] : tensors) {
    ASSERT_TRUE(read["tensors"].contains(name)) << name;
    expectSameTensor(expectedTensor(read["tensors"][name]), tensor, name);
  }
}

// ---------------------------------------------------------------------------------------------
// Refusals: each a DataError naming the file and the tensor

TEST(SafetensorsRefuses, ATruncatedFile) {
  TempDir dir;
  const std::string path = dir.file("cut.safetensors");
  writeSafetensors(path, {{"first", torch::ones({4})}, {"second", torch::ones({4})}});
  const std::string whole = readBytes(path);
  writeBytes(path, whole.substr(0, whole.size() - 3));
  expectDataError([&] { SafetensorsFile::open(path); },
                  {path, "tensor \"second\"", "exceed the data section", "holds 29 bytes"});
  writeBytes(path, whole.substr(0, 5));
  expectDataError([&] { SafetensorsFile::open(path); }, {path, "truncated", "5 bytes"});
  writeBytes(path, "");
  expectDataError([&] { SafetensorsFile::open(path); }, {path, "truncated", "0 bytes"});
}

TEST(SafetensorsRefuses, AHeaderLengthBeyondTheFileOrTheLimit) {
  TempDir dir;
  const std::string path = dir.file("long.safetensors");
  writeBytes(path, lengthPrefix(1000) + "{}");
  expectDataError([&] { SafetensorsFile::open(path); }, {path, "header length is 1000 bytes", "beyond the end"});
  writeBytes(path, lengthPrefix(uint64_t{1} << 62) + "{}");
  expectDataError([&] { SafetensorsFile::open(path); }, {path, "above the limit of 100000000"});
}

TEST(SafetensorsRefuses, AHeaderThatIsNotAJsonObject) {
  TempDir dir;
  expectDataError([&] { SafetensorsFile::open(handMadeFile(dir, "{\"a\": [1, 2", 0)); }, {"bad.safetensors", "not JSON"});
  expectDataError([&] { SafetensorsFile::open(handMadeFile(dir, "[1, 2]  ", 0)); },
                  {"bad.safetensors", "does not start with '{'"});
  expectDataError([&] { SafetensorsFile::open(handMadeFile(dir, "{\"a\": 1e999999}", 0)); },
                  {"bad.safetensors", "not JSON"});
  expectDataError([&] { SafetensorsFile::open(handMadeFile(dir, "{} trailing", 0)); }, {"bad.safetensors", "not JSON"});
  expectDataError([&] { SafetensorsFile::open(handMadeFile(dir, "{\"a\": 3}", 0)); },
                  {"bad.safetensors", "tensor \"a\" is 3, expected an object"});
  expectDataError(
      [&] {
        SafetensorsFile::open(handMadeFile(
            dir, R"({"w": {"dtype": "F32", "shape": [[[1]]], "data_offsets": [0, 4]}})", 4));
      },
      {"bad.safetensors", "tensor \"w\"", "nests deeper"});
  expectDataError([&] { SafetensorsFile::open(handMadeFile(dir, R"({"__metadata__": {"format": 1}})", 0)); },
                  {"bad.safetensors", "__metadata__ \"format\" is 1, expected a string"});
}

TEST(SafetensorsRefuses, OffsetsThatOverlapLeaveAGapOrExceedTheData) {
  TempDir dir;
  const std::string a = R"("a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";
  expectDataError(
      [&] {
        SafetensorsFile::open(
            handMadeFile(dir, "{" + a + R"(, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12));
      },
      {"bad.safetensors", "tensor \"b\"", "data_offsets [4, 12] overlap tensor \"a\"", "ends at byte 8"});
  expectDataError(
      [&] {
        SafetensorsFile::open(
            handMadeFile(dir, "{" + a + R"(, "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}})", 20));
      },
      {"bad.safetensors", "tensor \"b\"", "leave a gap of 4 bytes", "tensor \"a\""});
  expectDataError(
      [&] {
        SafetensorsFile::open(
            handMadeFile(dir, "{" + a + R"(, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})", 12));
      },
      {"bad.safetensors", "tensor \"b\"", "exceed the data section, which holds 12 bytes"});
  expectDataError([&] { SafetensorsFile::open(handMadeFile(dir, "{" + a + "}", 11)); },
                  {"bad.safetensors", "holds 11 bytes, but the tensors end at byte 8", "tensor \"a\""});
  expectDataError(
      [&] {
        SafetensorsFile::open(
            handMadeFile(dir, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12));
      },
      {"bad.safetensors", "tensor \"a\"", "gap of 4 bytes after the start of the data section"});
  expectDataError(
      [&] {
        SafetensorsFile::open(
            handMadeFile(dir, R"({"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", 8));
      },
      {"bad.safetensors", "tensor \"a\"", "end before they begin"});
  expectDataError(
      [&] {
        SafetensorsFile::open(handMadeFile(dir, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", 8));
      },
      {"bad.safetensors", "tensor \"a\"", "expected [begin, end]"});
  expectDataError(
      [&] {
        SafetensorsFile::open(handMadeFile(dir, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}})", 8));
      },
      {"bad.safetensors", "tensor \"a\"", "data_offsets[0] is -8"});
}

TEST(SafetensorsRefuses, AShapeThatDisagreesWithTheOffsets) {
  TempDir dir;
  expectDataError(
      [&] {
        SafetensorsFile::open(handMadeFile(dir, R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8));
      },
      {"bad.safetensors", "tensor \"w\"", "needs 12 bytes", "hold 8"});
  expectDataError(
      [&] {
        SafetensorsFile::open(
            handMadeFile(dir, R"({"w": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 8]}})", 8));
      },
      {"bad.safetensors", "tensor \"w\"", "shape[1] is -1"});
  expectDataError(
      [&] {
        SafetensorsFile::open(
            handMadeFile(dir, R"({"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})", 8));
      },
      {"bad.safetensors", "tensor \"w\"", "shape[0] is 2.0"});
  expectDataError(
      [&] {
        SafetensorsFile::open(handMadeFile(
            dir, R"({"w": {"dtype": "F32", "shape": [4611686018427387904, 8], "data_offsets": [0, 0]}})", 0));
      },
      {"bad.safetensors", "tensor \"w\"", "overflows"});
  // Empty, yet LibTorch's strides would overflow: refused as well.
  expectDataError(
      [&] {
        SafetensorsFile::open(handMadeFile(
            dir, R"({"w": {"dtype": "F32", "shape": [0, 4611686018427387904, 8], "data_offsets": [0, 0]}})", 0));
      },
      {"bad.safetensors", "tensor \"w\"", "overflows"});
  const auto wide = SafetensorsFile::open(handMadeFile(
      dir, R"({"w": {"dtype": "F32", "shape": [1099511627776, 0], "data_offsets": [0, 0]}})", 0, "wide.safetensors"));
  EXPECT_EQ(wide.tensor("w").sizes(), (std::vector<int64_t>{int64_t{1} << 40, 0}));
  expectDataError(
      [&] { SafetensorsFile::open(handMadeFile(dir, R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", 8)); },
      {"bad.safetensors", "tensor \"w\" has no \"shape\""});
}

TEST(SafetensorsRefuses, AnUnknownDtypeAndReadsOnlyWhatLibTorchHas) {
  TempDir dir;
  expectDataError(
      [&] {
        SafetensorsFile::open(handMadeFile(dir, R"({"w": {"dtype": "F17", "shape": [2], "data_offsets": [0, 8]}})", 8));
      },
      {"bad.safetensors", "tensor \"w\"", "unknown dtype \"F17\""});
  // U32 is in the format but not in LibTorch 1.13: the file opens, that tensor is refused.
  const auto path = handMadeFile(
      dir, R"({"u": {"dtype": "U32", "shape": [2], "data_offsets": [0, 8]}, "f": {"dtype": "U8", "shape": [1], "data_offsets": [8, 9]}})",
      9, "u32.safetensors");
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.tensor("f").item<uint8_t>(), 1);
  expectDataError([&] { file.tensor("u"); }, {"u32.safetensors", "tensor \"u\"", "dtype U32", "LibTorch"});
}

TEST(SafetensorsRefuses, DuplicateNames) {
  TempDir dir;
  const std::string w = R"("w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]})";
  expectDataError([&] { SafetensorsFile::open(handMadeFile(dir, "{" + w + ", " + w + "}", 1)); },
                  {"bad.safetensors", "tensor \"w\" is named twice"});
  expectDataError(
      [&] {
        SafetensorsFile::open(
            handMadeFile(dir, R"({"w": {"dtype": "U8", "dtype": "F32", "shape": [1], "data_offsets": [0, 1]}})", 1));
      },
      {"bad.safetensors", "tensor \"w\" has the key \"dtype\" twice"});
  EXPECT_THROW(writeSafetensors(dir.file("dup.safetensors"), {{"x", torch::ones(1)}, {"x", torch::ones(1)}}), DataError);
  EXPECT_THROW(writeSafetensors(dir.file("dup.safetensors"), {{"__metadata__", torch::ones(1)}}), DataError);
}

TEST(SafetensorsRefuses, ABoolTensorHoldingOtherBytes) {
  TempDir dir;
  const auto path = handMadeFile(dir, R"({"mask": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}})", 0);
  writeBytes(path, readBytes(path) + std::string("\x01\x00\x02", 3));
  expectDataError([&] { SafetensorsFile::open(path).tensor("mask"); },
                  {"bad.safetensors", "tensor \"mask\"", "byte 2 is 2", "expected 0 or 1"});
}

TEST(SafetensorsRefuses, AMissingFileOrTensor) {
  TempDir dir;
  expectDataError([&] { SafetensorsFile::open(dir.file("none.safetensors")); }, {"none.safetensors", "does not exist"});
  expectDataError([&] { SafetensorsCheckpoint::open(dir.file("nowhere")); }, {"nowhere", "no such checkpoint"});
  expectDataError([&] { SafetensorsCheckpoint::open(dir.path().string()); },
                  {dir.path().string(), "no model.safetensors and no model.safetensors.index.json"});
  writeSafetensorsSharded(dir.path().string(), {{"a", torch::ones({2})}}, {}, 1000);
  const auto checkpoint = SafetensorsCheckpoint::open(dir.path().string());
  expectDataError([&] { checkpoint.tensor("b"); }, {dir.path().string(), "no tensor \"b\""});
  expectDataError([&] { checkpoint.fileOf("b"); }, {dir.path().string(), "no tensor \"b\""});
  expectDataError([&] { SafetensorsFile::open(dir.file("model.safetensors")).tensor("b"); },
                  {"model.safetensors", "no tensor \"b\""});
}

class SafetensorsIndexRefusal : public ::testing::Test {
 protected:
  void SetUp() override {
    writeSafetensorsSharded(dir_.path().string(), {{"a", torch::ones({100})}, {"b", torch::ones({100})}}, {}, 500);
    index_ = json::parse(readBytes(index()));
  }
  std::string index() const { return dir_.file("model.safetensors.index.json"); }
  void rewriteIndex(const json& value) { writeBytes(index(), value.dump()); }

  TempDir dir_;
  json index_;
};

TEST_F(SafetensorsIndexRefusal, AMissingShard) {
  fs::remove(dir_.file("model-00002-of-00002.safetensors"));
  expectDataError([&] { SafetensorsCheckpoint::open(dir_.path().string()); },
                  {index(), "shard \"model-00002-of-00002.safetensors\"", "tensor \"b\"", "is missing"});
}

TEST_F(SafetensorsIndexRefusal, ATensorItsShardLacks) {
  index_["weight_map"]["c"] = "model-00001-of-00002.safetensors";
  rewriteIndex(index_);
  expectDataError([&] { SafetensorsCheckpoint::open(dir_.path().string()); },
                  {index(), "tensor \"c\"", "model-00001-of-00002.safetensors", "has no such tensor"});
}

TEST_F(SafetensorsIndexRefusal, AShardOutsideTheFolder) {
  index_["weight_map"]["b"] = "../elsewhere/model-00002-of-00002.safetensors";
  rewriteIndex(index_);
  expectDataError([&] { SafetensorsCheckpoint::open(dir_.path().string()); },
                  {index(), "tensor \"b\"", "outside the index's folder"});
  index_["weight_map"]["b"] = "sub/../../x.safetensors";
  rewriteIndex(index_);
  expectDataError([&] { SafetensorsCheckpoint::open(dir_.path().string()); }, {index(), "outside the index's folder"});
  index_["weight_map"]["b"] = dir_.file("model-00002-of-00002.safetensors");
  rewriteIndex(index_);
  expectDataError([&] { SafetensorsCheckpoint::open(dir_.path().string()); }, {index(), "tensor \"b\"", "absolute path"});
}

TEST_F(SafetensorsIndexRefusal, AnIndexThatIsNotOne) {
  writeBytes(index(), "{\"weight_map\": ");
  expectDataError([&] { SafetensorsCheckpoint::open(dir_.path().string()); }, {index(), "not JSON"});
  rewriteIndex(json{{"metadata", {{"total_size", 800}}}});
  expectDataError([&] { SafetensorsCheckpoint::open(dir_.path().string()); }, {index(), "\"weight_map\""});
  index_["weight_map"]["b"] = 2;
  rewriteIndex(index_);
  expectDataError([&] { SafetensorsCheckpoint::open(dir_.path().string()); }, {index(), "tensor \"b\"", "expected a file name"});
}

TEST_F(SafetensorsIndexRefusal, ACorruptShardNamingTheIndexAndTheShard) {
  const std::string shard = dir_.file("model-00001-of-00002.safetensors");
  const std::string bytes = readBytes(shard);
  writeBytes(shard, bytes.substr(0, bytes.size() - 1));
  expectDataError([&] { SafetensorsCheckpoint::open(dir_.path().string()); },
                  {index(), shard, "tensor \"a\"", "exceed the data section"});
}

}  // namespace
}  // namespace distill
