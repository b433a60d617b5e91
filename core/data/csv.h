// Tabular datasets from CSV files: a header row, one sample a row, numeric feature columns and
// one class-label column.
//
// The reader follows RFC 4180: comma-separated fields, fields in double quotes may hold commas,
// line breaks and doubled quotes (""), lines end in LF or CRLF. A UTF-8 byte-order mark is
// skipped and blank lines are ignored. It is small and written here because the Debian CSV
// libraries either fix the column count at compile time (libfccp) or would add a C
// dependency for a hundred lines of parsing (libcsv).
// Thread contract: plain functions without shared state; call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/data/dataset.h"

namespace distill {

// A parsed CSV file: the header's column names and the data rows' raw fields.
struct CsvTable {
  std::string path;                            // named in error messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as the header
  std::vector<int64_t> row_lines;              // 1-based line on which each row starts
};

// Parses CSV text. Throws DataError naming `path` and the line for an empty text, an
// unterminated quoted field, text after a closing quote, a row whose field count differs from
// the header's (ragged), or a duplicate column name.
CsvTable parseCsv(const std::string& text, const std::string& path);

// Reads and parses a CSV file; throws DataError naming it if it cannot be read.
CsvTable readCsvFile(const std::string& path);

// Row indices of a seeded split into train and test: round(n * test_fraction) rows, at
// least one and at most n - 1, go to test. The shuffle is a Fisher-Yates over mt19937_64,
// so a seed gives the same split with every compiler and standard library.
struct SplitIndices {
  std::vector<int64_t> train;
  std::vector<int64_t> test;
};
SplitIndices splitRows(int64_t rows, double test_fraction, uint64_t seed);

// Loads a tabular dataset. config.path is either a folder with train.csv and test.csv (same
// columns, any order), or one .csv file split by config.test_fraction with `seed`.
// config.label_column names the label column; every other column is a feature and must be
// numeric. Labels that are all non-negative integers are class indices (num_classes = the
// largest + 1, names "0".."K-1"); any other labels are sorted (numerically if all integers,
// else as strings) and numbered in that order, the values becoming the class names.
// Features are standardised per column with the training split's mean and standard
// deviation (a constant column becomes 0): dataset.mean and dataset.std are image settings
// and are not used. limit_train and limit_test keep the first rows of each split.
// inputs are [N, F] float32, input_shape {F}.
DatasetSplits loadCsvDataset(const DatasetConfig& config, uint64_t seed = 0);

}  // namespace distill
