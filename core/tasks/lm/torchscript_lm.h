// The language-model room's TorchScript bridge, both ways:
//
// - Export (`distill export-model` on an lm run): a GPT rebuilt as a torch::jit::Module whose
//   forward() is TorchScript written out block by block (LibTorch's C++ frontend cannot script
//   a C++ module), with the weights as parameters and the causal mask as a buffer, so that
//   Python's torch.jit.load needs no workbench code. It takes int64 tokens [N, T] (T up to the
//   context) and returns float logits [N, T, V], the workbench model's (to float rounding).
//   The tokenizer travels with it as module attributes:
//     tokenizer     str   "byte", "char", "bpe" or "sentencepiece"
//     vocab_size    int   V
//     context       int   the longest T
//     separator_id  int   the token between documents (0; a model's tokenizer: its end of text)
//     alphabet      str   char: the characters of ids 1, 2, ... in order; others: ""
//     tokenizer_fingerprint  str  Tokenizer::fingerprint() ("bpe:9f1c0d3e5a7b2c41")
//     tokenizer_description  str  Tokenizer::describe(), for messages
//   (byte: ids are the UTF-8 bytes; char: id = alphabet.index(c) + 1; bpe, sentencepiece: the
//   ids of the tokenizer files lm.tokenizer named.)
//
// - Import (`teacher.source: torchscript:<path>` in an lm run): the module is loaded, probed
//   once on tokens [2, lm.context], and refused with a ModelError naming teacher.source and the
//   shapes unless it returns [2, lm.context, V] with V the run's vocabulary size. A module
//   that carries the attributes above (one this file exported) is checked by them first: its
//   vocab_size (both sizes named), then the run's tokenizer (its fingerprint, both tokenizers
//   named; a module without one by kind and, for char, alphabet), or its token ids would mean
//   other text.
//
// Thread contract: plain functions; a model is used by one thread at a time.
#pragma once

#include <torch/script.h>

#include <string>

#include "core/models/model.h"
#include "core/tasks/lm/corpus.h"
#include "core/tasks/lm/gpt.h"

namespace distill {

// The TorchScript twin of `model` (weights copied to the CPU, eval mode) with `tokenizer`'s
// facts as attributes. Throws ModelError when the model's vocabulary is not the tokenizer's.
torch::jit::Module toTorchScript(const GptImpl& model, const Tokenizer& tokenizer);

// Writes toTorchScript(model, tokenizer) to `path`. Throws ModelError naming the file when it
// cannot be written.
void exportTorchScript(const GptImpl& model, const Tokenizer& tokenizer, const std::string& path);

// The teacher of `source` (torchscript:<path>) for an lm run with `tokenizer` and `context`:
// a frozen-teacher-ready model whose forward maps tokens [N, T] to logits [N, T, V]. Throws
// ModelError starting "teacher.source: " for a file that is not TorchScript, fails on the probe,
// returns another shape ("vocabulary mismatch" naming both sizes when only V differs), or was
// exported with another vocabulary size or tokenizer.
Model loadTorchScriptTeacher(const std::string& source, const Tokenizer& tokenizer, int64_t context);

}  // namespace distill
