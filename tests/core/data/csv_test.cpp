#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/data/csv.h"
#include "core/data/dataset.h"
#include "core/errors.h"
#include "support/test_support.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void writeText(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

DatasetConfig csvConfig(const fs::path& path) {
  DatasetConfig config;
  config.name = "csv";
  config.path = path.string();
  return config;
}

std::string parseError(const std::string& text) {
  try {
    parseCsv(text, "t.csv");
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

std::string loadError(const DatasetConfig& config) {
  try {
    loadDataset(config);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(CsvParse, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  const auto table = parseCsv("\xEF\xBB\xBF" "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n\n2,\"two\nlines\",\"\"\n3,,z", "t.csv");
  EXPECT_EQ(table.header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(table.rows.size(), 3u);
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"2", "two\nlines", ""}));
  EXPECT_EQ(table.rows[2], (std::vector<std::string>{"3", "", "z"}));
  // Lines count physical lines: the blank line 3 is skipped, the quoted line break counts.
  EXPECT_EQ(table.row_lines, (std::vector<int64_t>{2, 4, 6}));
}

TEST(CsvParse, ErrorsNameFileLineAndColumn) {
  struct Case {
    std::string text;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases{
      {"", {"t.csv", "empty"}},
      {"\n  \n", {"t.csv", "empty"}},
      {"a,b\n1,2\n3\n", {"t.csv:3", "ragged row: 1 fields, the header has 2"}},
      {"a,b\n1,2,\n", {"t.csv:2", "ragged row: 3 fields"}},
      {"a,b\n1,\"open\n2,3\n", {"t.csv:2", "column 2", "unterminated quoted field"}},
      {"a,b\n\"x\"y,2\n", {"t.csv:2", "column 1", "text after a closing quote"}},
      {"a,b,a\n1,2,3\n", {"t.csv:1", "column 3", "duplicate column name \"a\""}},
      {",a,b\n0,1,2\n", {"t.csv:1", "column 1 has no name", "index=False"}},
  };
  for (const auto& c : cases) {
    const auto message = parseError(c.text);
    for (const auto& part : c.expected) EXPECT_NE(message.find(part), std::string::npos) << c.text << " -> " << message;
  }
}

TEST(CsvSplit, IsSeededAndCoversEveryRowOnce) {
  const auto a = splitRows(10, 0.2, 7), b = splitRows(10, 0.2, 7), c = splitRows(10, 0.2, 8);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.test, b.test);
  EXPECT_NE(a.test, c.test);
  EXPECT_EQ(a.test.size(), 2u);
  std::vector<int64_t> all = a.train;
  all.insert(all.end(), a.test.begin(), a.test.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(all[static_cast<size_t>(i)], i);
  // Never an empty side.
  EXPECT_EQ(splitRows(3, 0.01, 0).test.size(), 1u);
  EXPECT_EQ(splitRows(3, 0.99, 0).train.size(), 1u);
}

TEST(Csv, LoadsAFolderStandardisedWithTrainStatistics) {
  TempDir dir;
  // test.csv orders its columns differently; features are matched by name.
  writeText(dir.file("train.csv"), "x,label,y\n1,0,10\n2,1,10\n3,2,10\n6,1,10\n");
  writeText(dir.file("test.csv"), "label,y,x\n2,11,3\n0,10,5\n");
  const auto splits = loadDataset(csvConfig(dir.path()));
  EXPECT_EQ(splits.input_shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(splits.num_classes, 3);
  EXPECT_EQ(splits.class_names, (std::vector<std::string>{"0", "1", "2"}));
  ASSERT_EQ(splits.train.inputs.sizes(), (std::vector<int64_t>{4, 2}));
  ASSERT_EQ(splits.test.inputs.sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(splits.train.inputs.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(splits.train.targets, torch::tensor({0, 1, 2, 1}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(splits.test.targets, torch::tensor({2, 0}, torch::kInt64)));
  // x: train mean 3, population std sqrt(3.5). y: constant in train, so only centred.
  const double sd = std::sqrt(3.5);
  EXPECT_NEAR(splits.train.inputs[0][0].item<float>(), (1 - 3) / sd, 1e-5);
  EXPECT_NEAR(splits.test.inputs[1][0].item<float>(), (5 - 3) / sd, 1e-5);
  EXPECT_NEAR(splits.train.inputs[2][1].item<float>(), 0.0, 1e-6);
  EXPECT_NEAR(splits.test.inputs[0][1].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(splits.train.inputs.mean(0)[0].item<float>(), 0.0, 1e-5);
}

TEST(Csv, StringLabelsAreSortedIntoClassNames) {
  TempDir dir;
  writeText(dir.file("iris.csv"),
            "sepal,\"petal, width\",species\n"
            "5.1,0.2,setosa\n4.9,\" 0.3 \",setosa\n6.3,1.8,virginica\n5.8,1.2,versicolor\n"
            "6.0,2.1,virginica\n5.5,1.3,versicolor\n1e1,+2,setosa\n7.7,-2.3e-1,virginica\n");
  auto config = csvConfig(dir.file("iris.csv"));
  config.label_column = "species";
  config.test_fraction = 0.25;
  const auto splits = loadDataset(config);
  EXPECT_EQ(splits.class_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  EXPECT_EQ(splits.num_classes, 3);
  EXPECT_EQ(splits.train.size(), 6);
  EXPECT_EQ(splits.test.size(), 2);
  EXPECT_EQ(splits.folder, dir.file("iris.csv"));
  // The same seed gives the same split; another seed another one.
  const auto again = loadDataset(config);
  EXPECT_TRUE(torch::equal(splits.test.inputs, again.test.inputs));
  EXPECT_TRUE(torch::equal(splits.train.targets, again.train.targets));
  const auto other = loadDataset(config, /*split_seed=*/3);
  EXPECT_FALSE(torch::equal(splits.test.inputs, other.test.inputs) &&
               torch::equal(splits.train.inputs, other.train.inputs));
  // Standardised with the (shuffled) training rows.
  EXPECT_NEAR(splits.train.inputs.mean(0).abs().max().item<float>(), 0.0, 1e-5);
  EXPECT_NEAR(splits.train.inputs.std(0, /*unbiased=*/false).min().item<float>(), 1.0, 1e-4);
}

TEST(Csv, NegativeIntegerLabelsAreSortedNumerically) {
  TempDir dir;
  writeText(dir.file("d.csv"), "f,label\n1,-1\n2,1\n3,-10\n4,1\n5,-1\n");
  const auto splits = loadDataset(csvConfig(dir.file("d.csv")));
  EXPECT_EQ(splits.class_names, (std::vector<std::string>{"-10", "-1", "1"}));
}

TEST(Csv, LimitsKeepTheFirstRowsOfEachSplit) {
  TempDir dir;
  writeText(dir.file("train.csv"), "f,label\n1,0\n2,1\n3,0\n4,1\n");
  writeText(dir.file("test.csv"), "f,label\n5,1\n6,0\n7,4\n");
  auto config = csvConfig(dir.path());
  config.limit_train = 2;
  config.limit_test = 1;
  const auto splits = loadDataset(config);
  EXPECT_TRUE(torch::equal(splits.train.targets, torch::tensor({0, 1}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(splits.test.targets, torch::tensor({1}, torch::kInt64)));
  // Classes come from all rows, limits or not; the statistics from the rows kept.
  EXPECT_EQ(splits.num_classes, 5);
  EXPECT_NEAR(splits.train.inputs[0][0].item<float>(), -1.0, 1e-6);
}

TEST(Csv, LoadErrorsNameFileLineAndColumn) {
  TempDir dir;
  struct Case {
    std::string file;
    std::string text;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases{
      {"nolabel.csv", "a,b,class\n1,2,0\n3,4,1\n", {"nolabel.csv:1", "no column \"label\"", "the columns are: \"a\", \"b\", \"class\""}},
      {"text.csv", "a,b,label\n1,2,0\n3,high,1\n", {"text.csv:3", "column 2 (\"b\")", "\"high\"", "expected a finite number"}},
      {"nan.csv", "a,label\n1,0\nnan,1\n", {"nan.csv:3", "column 1 (\"a\")", "\"nan\""}},
      {"missing.csv", "a,label\n1,0\n,1\n", {"missing.csv:3", "column 1 (\"a\") is empty"}},
      {"nolab.csv", "a,label\n1,0\n2,\n", {"nolab.csv:3", "column 2 (\"label\") (the label) is empty"}},
      {"ragged.csv", "a,label\n1,0\n2,1,3\n", {"ragged.csv:3", "ragged row"}},
      {"empty.csv", "", {"empty.csv", "file is empty"}},
      {"header.csv", "a,label\n", {"header.csv", "no data rows"}},
      {"one.csv", "a,label\n1,0\n", {"one.csv", "cannot be split"}},
      {"single.csv", "a,label\n1,3\n2,3\n", {"single.csv", "single class"}},
      {"onlylabel.csv", "label\n1\n0\n", {"onlylabel.csv:1", "no feature columns"}},
      {"ids.csv", "a,label\n1,0\n2,123456\n", {"ids.csv", "123457 classes"}},
  };
  for (const auto& c : cases) {
    writeText(dir.file(c.file), c.text);
    const auto message = loadError(csvConfig(dir.file(c.file)));
    for (const auto& part : c.expected) EXPECT_NE(message.find(part), std::string::npos) << c.file << " -> " << message;
  }
}

TEST(Csv, FolderErrorsNameTheFiles) {
  TempDir dir;
  EXPECT_NE(loadError(csvConfig(dir.path())).find("missing train.csv and test.csv"), std::string::npos);
  EXPECT_NE(loadError(csvConfig(dir.file("nope.csv"))).find("nope.csv: not found"), std::string::npos);

  writeText(dir.file("train.csv"), "a,b,label\n1,2,0\n3,4,1\n");
  writeText(dir.file("test.csv"), "a,label\n1,0\n");
  auto message = loadError(csvConfig(dir.path()));
  EXPECT_NE(message.find("test.csv:1: no column \"b\""), std::string::npos) << message;

  writeText(dir.file("test.csv"), "a,b,c,label\n1,2,3,0\n");
  message = loadError(csvConfig(dir.path()));
  EXPECT_NE(message.find("test.csv:1: column(s) \"c\" not in"), std::string::npos) << message;

  writeText(dir.file("test.csv"), "a,b,label\n1,2,0\n1,x,1\n");
  message = loadError(csvConfig(dir.path()));
  EXPECT_NE(message.find("test.csv:3: column 2 (\"b\")"), std::string::npos) << message;
}

}  // namespace
}  // namespace distill
