// Reader for the binary versions of CIFAR-10 and CIFAR-100
// (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version" archives).
//
// CIFAR-10: data_batch_1.bin .. data_batch_5.bin and test_batch.bin, each a run of 3073-byte
// records: one label byte (0..9), then 3072 pixel bytes, channel-major (1024 red, 1024 green,
// 1024 blue, each 32x32 row-major). batches.meta.txt holds the ten class names.
// CIFAR-100: train.bin and test.bin, 3074-byte records: coarse label byte (0..19), fine label
// byte (0..99), 3072 pixel bytes. We classify the 100 fine labels; fine_label_names.txt holds
// their names.
// Thread contract: plain functions without shared state; call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/data/dataset.h"

namespace distill {

enum class CifarVersion { kCifar10, kCifar100 };

// Record layout of one version of the binary format.
struct CifarLayout {
  int64_t label_offset;  // byte of the record holding the label we train on
  int64_t record_bytes;  // label bytes + 3072 pixel bytes
  int64_t num_classes;
  std::vector<std::string> train_files;
  std::string test_file;
  std::string names_file;  // class names, one a line; optional
  std::string archive_folder;  // what the archive unpacks to, looked for inside dataset.path
};
const CifarLayout& cifarLayout(CifarVersion version);

// Records of one or more batch files: pixel bytes [N, 3, 32, 32] and labels [N], both uint8.
struct CifarRecords {
  torch::Tensor pixels;
  torch::Tensor labels;
};

// Reads at most `limit` records (0: all) from the files in order, reading no further than
// needed. Throws DataError naming the file for a missing or empty file, a size that is not a
// whole number of records (truncated, or not the binary version), or a label out of range.
CifarRecords readCifarFiles(const std::vector<std::string>& paths, CifarVersion version, int64_t limit);

// Loads train and test splits from config.path (the folder holding the .bin files, or the
// folder the archive was unpacked into). Pixels become (x/255 - config.mean) / config.std
// with the single mean and std for all three channels: per-channel statistics would need a
// list-valued config key, and a single pair is within a few percent of them for CIFAR.
DatasetSplits loadCifar(const DatasetConfig& config, CifarVersion version);

}  // namespace distill
