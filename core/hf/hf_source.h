// The Hugging Face values of teacher.source and student.source, and what a language-model run
// makes of them:
//
//   hf:<folder>          (teacher.source, student.source) a model folder as the hub ships it:
//                        config.json and model.safetensors (or shards and their index), with its
//                        tokenizer files. A leading "~/" is the home folder: a shell does not
//                        expand it after "hf:" (`--set teacher.source=hf:~/models/gpt2`).
//   teacher-blocks:<k>   (student.source) the teacher's blocks 0, k, 2k, ... with its embeddings,
//                        final norm and head (core/hf/layer_subset.h), for a teacher that exists
//                        when the run starts: hf:<folder>, run:<id> or a weights file.
//
// The tokenizer follows the model: with an hf: teacher (else an hf: student), lm.tokenizer at its
// default `byte` means that folder's tokenizer (byte ids mean nothing to a Hugging Face model);
// any other lm.tokenizer must tokenize as the folder's does (checked by fingerprint in the task).
//
// Usage:
//   if (isHfSource(config.teacher.source)) {
//     const HfConfig hf = checkHfSource("teacher.source", config.teacher.source);  // ConfigError
//     Model teacher = loadHfModel(hfSourceFolder(config.teacher.source), {config.lm.context});
//   }
//
// Thread contract: plain functions, any thread.
#pragma once

#include <cstdint>
#include <string>

#include "core/config/config.h"
#include "core/hf/hf_config.h"

namespace distill {

bool isHfSource(const std::string& source);
// The folder of an hf: source, "~/" expanded; empty for other sources.
std::string hfSourceFolder(const std::string& source);

bool isTeacherBlocksSource(const std::string& source);
// k of teacher-blocks:<k>; 0 when the text after the colon is no whole number >= 1.
int64_t teacherBlocksStep(const std::string& source);

// Whether a model folder holds tokenizer files (tokenizer.json, vocab.json + merges.txt, or
// tokenizer.model): what lm.tokenizer hf:<folder> reads.
bool hasTokenizerFiles(const std::string& folder);

// The config.json of an hf: source, read and checked. Throws ConfigError naming `key` (and the
// path): a folder that does not exist, a folder without config.json, a config.json that
// readHfConfig refuses (an unsupported architecture, a key with a value the workbench does not
// compute: its message, naming config.json and the key), a folder without model.safetensors or
// model.safetensors.index.json.
HfConfig checkHfSource(const std::string& key, const std::string& source);

// lm.tokenizer as a run uses it: the value given, except that the default `byte` becomes
// hf:<folder> of the hf: teacher (else of the hf: student) when that folder holds a tokenizer.
std::string runTokenizerSpec(const ExperimentConfig& config);

}  // namespace distill
