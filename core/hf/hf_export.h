// A language-model run's trained model written as a Hugging Face model folder, with its
// tokenizer: what `distill export-model RUN --format hf --out DIR` writes, so that transformers'
// from_pretrained(DIR) and AutoTokenizer.from_pretrained(DIR) load it with no converter.
//
//   config.json, model.safetensors   saveHfModel (core/hf/hf_weights.h): the task's GPT and GPT-2
//                                    as GPT2LMHeadModel, the Llama family as itself, in float32,
//                                    bfloat16 or float16; the token ids of `source` (the
//                                    teacher's config.json the run recorded)
//   tokenizer files                  copied from where the run's tokenizer was read: tokenizer.json,
//                                    vocab.json + merges.txt or tokenizer.model, with
//                                    tokenizer_config.json and special_tokens_map.json when present
//
// The byte and char tokenizers have no Hugging Face form: no tokenizer file is written, and the
// result says so (the ids are the text's bytes, or the run's alphabet: `distill tokenize` shows
// them).
//
// Thread contract: plain functions; the model is read on the calling thread only.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/hf/hf_config.h"
#include "core/models/model.h"
#include "core/tasks/lm/tokenizer.h"

namespace distill {

struct HfExportResult {
  std::vector<std::string> files;  // written into the folder, in order
  std::string tokenizer_note;      // why no tokenizer file was written; empty when they were
};

// Writes `model` and `tokenizer` into `folder` as above. Throws ModelError for a model saveHfModel
// refuses, DataError naming the file that cannot be read or written.
HfExportResult exportHfFolder(const ModelImpl& model, const Tokenizer& tokenizer, const HfConfig* source,
                              const std::string& folder, torch::ScalarType dtype);

// The tokenizer files of a model tokenizer (hf:<folder> or a file) copied into `folder` under the
// names Hugging Face reads; the names written. None for byte and char.
std::vector<std::string> copyTokenizerFiles(const Tokenizer& tokenizer, const std::string& folder);

}  // namespace distill
