#include "core/data/csv.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "core/errors.h"

namespace distill {

namespace fs = std::filesystem;

namespace {

// More classes than this is taken as a wrong label column (an id or a measurement).
constexpr int64_t kMaxClasses = 10000;

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

// "column 3 ("petal_width")", the way every cell error names its column.
std::string columnName(const CsvTable& table, size_t column) {
  return fmt::format("column {} (\"{}\")", column + 1, table.header[column]);
}

// Parses a whole field as a finite number. std::from_chars rather than strtod: strtod follows
// the C locale, which a Qt application sets from the environment, so "1.5" would fail to
// parse under a German locale in the GUI and not in the CLI.
bool parseNumber(const std::string& text, double& value) {
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (begin != end && *begin == '+') ++begin;
  if (begin == end) return false;
  const auto [next, error] = std::from_chars(begin, end, value);
  return error == std::errc() && next == end && std::isfinite(value);
}

bool parseInteger(const std::string& text, int64_t& value) {
  const char* end = text.data() + text.size();
  const auto [next, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && next == end;
}

// Features of some rows as a [rows, F] double tensor, in the order of `columns`.
torch::Tensor parseFeatures(const CsvTable& table, const std::vector<size_t>& columns) {
  auto features = torch::empty({static_cast<int64_t>(table.rows.size()), static_cast<int64_t>(columns.size())},
                               torch::kFloat64);
  auto cells = features.accessor<double, 2>();
  for (size_t r = 0; r < table.rows.size(); ++r) {
    for (size_t f = 0; f < columns.size(); ++f) {
      const std::string text = trim(table.rows[r][columns[f]]);
      double value = 0;
      if (text.empty())
        throw DataError(fmt::format("{}:{}: {} is empty (missing values are not supported: fill or drop them)",
                                    table.path, table.row_lines[r], columnName(table, columns[f])));
      if (!parseNumber(text, value))
        throw DataError(fmt::format("{}:{}: {} holds \"{}\", expected a finite number (every column but the label "
                                    "column is a feature; remove non-numeric columns)",
                                    table.path, table.row_lines[r], columnName(table, columns[f]), text));
      cells[static_cast<int64_t>(r)][static_cast<int64_t>(f)] = value;
    }
  }
  return features;
}

std::vector<std::string> labelsOf(const CsvTable& table, size_t column) {
  std::vector<std::string> labels;
  labels.reserve(table.rows.size());
  for (size_t r = 0; r < table.rows.size(); ++r) {
    labels.push_back(trim(table.rows[r][column]));
    if (labels.back().empty())
      throw DataError(fmt::format("{}:{}: {} (the label) is empty", table.path, table.row_lines[r],
                                  columnName(table, column)));
  }
  return labels;
}

// "a", "b, c": quoted, since a column name may itself hold a comma.
std::string quotedList(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "\"" : ", \"") + name + "\"";
  return text;
}

size_t findColumn(const CsvTable& table, const std::string& name, const std::string& role) {
  const auto it = std::find(table.header.begin(), table.header.end(), name);
  if (it == table.header.end())
    throw DataError(fmt::format("{}:1: no column \"{}\" ({}); the columns are: {}", table.path, name, role,
                                quotedList(table.header)));
  return static_cast<size_t>(it - table.header.begin());
}

// Maps label strings to class indices (see loadCsvDataset) and fills the class names.
struct ClassMap {
  std::map<std::string, int64_t> index;
  std::vector<std::string> names;
};

ClassMap classMap(const std::vector<std::string>& labels, const std::string& where) {
  ClassMap map;
  const std::set<std::string> distinct(labels.begin(), labels.end());
  std::vector<std::pair<int64_t, std::string>> integers;
  bool all_integers = true;
  for (const auto& label : distinct) {
    int64_t value = 0;
    if (!parseInteger(label, value)) {
      all_integers = false;
      break;
    }
    integers.push_back({value, label});
  }
  int64_t count = static_cast<int64_t>(distinct.size());
  if (all_integers && !integers.empty()) {
    std::sort(integers.begin(), integers.end());
    if (integers.front().first >= 0) {
      // Class indices as they are: "0".."K-1", even where a class has no rows.
      count = integers.back().first + 1;
      if (count <= kMaxClasses) {
        for (const auto& [value, text] : integers) map.index[text] = value;
        for (int64_t i = 0; i < count; ++i) map.names.push_back(std::to_string(i));
      }
    } else {
      for (const auto& [value, text] : integers) {
        map.index[text] = static_cast<int64_t>(map.names.size());
        map.names.push_back(text);
      }
    }
  } else {
    for (const auto& label : distinct) {  // std::set iterates in sorted order
      map.index[label] = static_cast<int64_t>(map.names.size());
      map.names.push_back(label);
    }
  }
  if (count > kMaxClasses)
    throw DataError(fmt::format("{}: the label column would give {} classes (at most {}): is it a class label?",
                                where, count, kMaxClasses));
  if (distinct.size() < 2)
    throw DataError(fmt::format("{}: the label column holds a single class; at least two are needed to classify",
                                where));
  return map;
}

torch::Tensor classIndices(const std::vector<std::string>& labels, const ClassMap& map) {
  auto targets = torch::empty({static_cast<int64_t>(labels.size())}, torch::kInt64);
  auto out = targets.accessor<int64_t, 1>();
  for (size_t i = 0; i < labels.size(); ++i) out[static_cast<int64_t>(i)] = map.index.at(labels[i]);
  return targets;
}

torch::Tensor rowsOf(const torch::Tensor& tensor, const std::vector<int64_t>& rows) {
  return tensor.index_select(0, torch::tensor(rows, torch::kInt64));
}

torch::Tensor firstRows(const torch::Tensor& tensor, int64_t limit) {
  return limit > 0 && limit < tensor.size(0) ? tensor.slice(0, 0, limit) : tensor;
}

}  // namespace

CsvTable parseCsv(const std::string& text, const std::string& path) {
  CsvTable table;
  table.path = path;
  const size_t n = text.size();
  size_t pos = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  int64_t line = 1;
  std::vector<std::vector<std::string>> records;
  std::vector<int64_t> record_lines;

  while (pos < n) {
    const int64_t record_line = line;
    std::vector<std::string> fields;
    bool quoted_any = false;
    while (true) {
      std::string field;
      if (pos < n && text[pos] == '"') {
        quoted_any = true;
        const int64_t quote_line = line;
        ++pos;
        while (true) {
          if (pos >= n)
            throw DataError(fmt::format("{}:{}: column {}: unterminated quoted field (its opening \" is never closed)",
                                        path, quote_line, fields.size() + 1));
          const char c = text[pos];
          if (c == '"') {
            if (pos + 1 < n && text[pos + 1] == '"') {
              field += '"';
              pos += 2;
              continue;
            }
            ++pos;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++pos;
        }
        if (pos < n && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r')
          throw DataError(fmt::format("{}:{}: column {}: text after a closing quote (a \" inside a quoted field "
                                      "must be doubled)",
                                      path, line, fields.size() + 1));
      } else {
        // Unquoted: up to the next delimiter. A stray quote inside is kept as text.
        size_t end = text.find_first_of(",\r\n", pos);
        if (end == std::string::npos) end = n;
        field.assign(text, pos, end - pos);
        pos = end;
      }
      fields.push_back(std::move(field));
      if (pos < n && text[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < n && text[pos] == '\r') ++pos;
      if (pos < n && text[pos] == '\n') ++pos;
      ++line;
      break;
    }
    const bool blank = !quoted_any && fields.size() == 1 && trim(fields[0]).empty();
    if (blank) continue;
    records.push_back(std::move(fields));
    record_lines.push_back(record_line);
  }

  if (records.empty()) throw DataError(path + ": file is empty (expected a header row, then one sample a row)");
  for (const auto& name : records[0]) table.header.push_back(trim(name));
  std::set<std::string> seen;
  for (size_t c = 0; c < table.header.size(); ++c) {
    // Refused rather than read as a feature: it is most often a row index (pandas writes one
    // unless index=False), and a row index would leak the file's order into the model.
    if (table.header[c].empty())
      throw DataError(fmt::format("{}:{}: column {} has no name (an unnamed first column is usually a pandas index: "
                                  "write the file with index=False, or name the column)",
                                  path, record_lines[0], c + 1));
    if (!seen.insert(table.header[c]).second)
      throw DataError(fmt::format("{}:{}: column {}: duplicate column name \"{}\"", path, record_lines[0], c + 1,
                                  table.header[c]));
  }
  for (size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != table.header.size())
      throw DataError(fmt::format("{}:{}: ragged row: {} fields, the header has {} columns", path, record_lines[r],
                                  records[r].size(), table.header.size()));
    table.rows.push_back(std::move(records[r]));
    table.row_lines.push_back(record_lines[r]);
  }
  return table;
}

CsvTable readCsvFile(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw DataError(path + ": file not found (expected a CSV file)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw DataError(path + ": read failed");
  return parseCsv(buffer.str(), path);
}

SplitIndices splitRows(int64_t rows, double test_fraction, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) order[static_cast<size_t>(i)] = i;
  // Fisher-Yates with a plain modulo draw: std::shuffle and uniform_int_distribution may
  // differ between standard libraries, and the split must not. The bias of `% (i + 1)` on
  // a 64-bit draw is below 2^-40 for any table that fits in memory.
  std::mt19937_64 rng(seed);
  for (int64_t i = rows - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  const auto wanted = static_cast<int64_t>(std::llround(static_cast<double>(rows) * test_fraction));
  const int64_t test_count = std::clamp<int64_t>(wanted, 1, std::max<int64_t>(rows - 1, 1));
  SplitIndices split;
  split.test.assign(order.begin(), order.begin() + test_count);
  split.train.assign(order.begin() + test_count, order.end());
  return split;
}

DatasetSplits loadCsvDataset(const DatasetConfig& config, uint64_t seed) {
  const fs::path path = config.path;
  std::error_code ec;
  const bool is_folder = fs::is_directory(path, ec);
  if (!is_folder && !fs::is_regular_file(path, ec))
    throw DataError(path.string() + ": not found (dataset.path must be a .csv file, or a folder with train.csv and "
                                    "test.csv)");
  if (is_folder) {
    std::vector<std::string> missing;
    for (const char* name : {"train.csv", "test.csv"})
      if (!fs::is_regular_file(path / name, ec)) missing.push_back(name);
    if (!missing.empty())
      throw DataError(fmt::format("{}: missing {} (a CSV dataset folder holds train.csv and test.csv; or set "
                                  "dataset.path to one .csv file to split it by dataset.test_fraction)",
                                  path.string(), fmt::join(missing, " and ")));
  }

  const CsvTable train_table = readCsvFile(is_folder ? (path / "train.csv").string() : path.string());
  const size_t label_column = findColumn(train_table, config.label_column, "dataset.label_column");
  std::vector<std::string> feature_names;
  std::vector<size_t> train_columns;
  for (size_t c = 0; c < train_table.header.size(); ++c) {
    if (c == label_column) continue;
    feature_names.push_back(train_table.header[c]);
    train_columns.push_back(c);
  }
  if (feature_names.empty())
    throw DataError(train_table.path + ":1: no feature columns: only the label column \"" + config.label_column + "\"");
  if (train_table.rows.empty()) throw DataError(train_table.path + ": no data rows after the header");

  torch::Tensor train_features = parseFeatures(train_table, train_columns);
  std::vector<std::string> train_labels = labelsOf(train_table, label_column);
  torch::Tensor test_features;
  std::vector<std::string> test_labels;
  std::vector<int64_t> train_rows, test_rows;

  if (is_folder) {
    const CsvTable test_table = readCsvFile((path / "test.csv").string());
    // The test file may order its columns differently; it must have the same ones.
    const size_t test_label_column = findColumn(test_table, config.label_column, "dataset.label_column");
    std::vector<size_t> test_columns;
    for (const auto& name : feature_names)
      test_columns.push_back(findColumn(test_table, name, "a feature column of " + train_table.path));
    if (test_table.header.size() != feature_names.size() + 1) {
      std::vector<std::string> extra;
      for (const auto& name : test_table.header)
        if (name != config.label_column && std::find(feature_names.begin(), feature_names.end(), name) == feature_names.end())
          extra.push_back(name);
      throw DataError(fmt::format("{}:1: column(s) {} not in {}", test_table.path, quotedList(extra),
                                  train_table.path));
    }
    if (test_table.rows.empty()) throw DataError(test_table.path + ": no data rows after the header");
    test_features = parseFeatures(test_table, test_columns);
    test_labels = labelsOf(test_table, test_label_column);
  } else {
    if (train_table.rows.size() < 2)
      throw DataError(train_table.path + ": one data row cannot be split into train and test");
    const SplitIndices split = splitRows(static_cast<int64_t>(train_table.rows.size()), config.test_fraction, seed);
    train_rows = split.train;
    test_rows = split.test;
  }

  // Classes come from every row of the file(s), before the split and the limits, so that a
  // class index means the same thing whatever the limits.
  std::vector<std::string> all_labels = train_labels;
  all_labels.insert(all_labels.end(), test_labels.begin(), test_labels.end());
  const ClassMap classes = classMap(all_labels, is_folder ? path.string() : train_table.path);

  DatasetSplits splits;
  splits.folder = path.string();
  torch::Tensor train_targets = classIndices(train_labels, classes);
  torch::Tensor test_targets = is_folder ? classIndices(test_labels, classes) : torch::Tensor();
  if (!is_folder) {
    test_features = rowsOf(train_features, test_rows);
    test_targets = rowsOf(train_targets, test_rows);
    train_features = rowsOf(train_features, train_rows);
    train_targets = rowsOf(train_targets, train_rows);
  }
  train_features = firstRows(train_features, config.limit_train);
  train_targets = firstRows(train_targets, config.limit_train);
  test_features = firstRows(test_features, config.limit_test);
  test_targets = firstRows(test_targets, config.limit_test);

  // Standardise with the training split's statistics only, so nothing about the test rows
  // leaks into training. Population std; a constant column (std 0) is only centred.
  const auto mean = train_features.mean(0);
  auto std = train_features.std(0, /*unbiased=*/false);
  std = torch::where(std > 1e-12, std, torch::ones_like(std));
  splits.train.inputs = ((train_features - mean) / std).to(torch::kFloat32).contiguous();
  splits.test.inputs = ((test_features - mean) / std).to(torch::kFloat32).contiguous();
  splits.train.targets = train_targets.contiguous();
  splits.test.targets = test_targets.contiguous();
  splits.num_classes = static_cast<int64_t>(classes.names.size());
  splits.class_names = classes.names;
  splits.input_shape = {static_cast<int64_t>(feature_names.size())};
  return splits;
}

}  // namespace distill
