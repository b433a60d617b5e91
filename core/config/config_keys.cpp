#include "core/config/config_keys.h"

#include "core/losses/methods.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <regex>

namespace distill {

ConfigKey& ConfigKey::withHelp(std::string text) { help = std::move(text); return *this; }
ConfigKey& ConfigKey::withChoices(std::vector<std::string> values) { choices = std::move(values); return *this; }
ConfigKey& ConfigKey::withRange(double min, double max) { minimum = min; maximum = max; return *this; }
ConfigKey& ConfigKey::withSpin(int spin_decimals, double spin_step) { decimals = spin_decimals; step = spin_step; return *this; }
ConfigKey& ConfigKey::withCheck(bool (*check)(const ConfigValue&), std::string expected_text) {
  valid = check;
  expected = std::move(expected_text);
  return *this;
}
ConfigKey& ConfigKey::checkedOnRead() { checked_on_read = true; return *this; }
ConfigKey& ConfigKey::autoZero() { zero_is_auto = true; return *this; }
ConfigKey& ConfigKey::withZeroLabel(std::string text) { zero_label = std::move(text); return *this; }
ConfigKey& ConfigKey::forArchs(std::vector<std::string> names) { archs = std::move(names); return *this; }
ConfigKey& ConfigKey::forTasks(std::vector<std::string> names) { tasks = std::move(names); return *this; }
ConfigKey& ConfigKey::enabledWhen(std::string key, std::vector<std::string> values) {
  enabled_by = std::move(key);
  enabled_values = std::move(values);
  return *this;
}

namespace {

// ---- validators: each says whether one value (one list element) is accepted ----------------

bool finite(double v) { return std::isfinite(v); }
bool positiveNumber(const ConfigValue& v) { return v.number > 0.0 && finite(v.number); }
bool nonNegativeNumber(const ConfigValue& v) { return v.number >= 0.0 && finite(v.number); }
bool inClosedUnit(const ConfigValue& v) { return v.number >= 0.0 && v.number <= 1.0; }     // [0, 1]
bool inHalfOpenUnit(const ConfigValue& v) { return v.number >= 0.0 && v.number < 1.0; }    // [0, 1)
bool inOpenUnit(const ConfigValue& v) { return v.number > 0.0 && v.number < 1.0; }         // (0, 1)
bool inUnitAboveZero(const ConfigValue& v) { return v.number > 0.0 && v.number <= 1.0; }   // (0, 1]
bool nonNegativeInteger(const ConfigValue& v) { return v.integer >= 0; }
bool positiveInteger(const ConfigValue& v) { return v.integer >= 1; }
bool promptCount(const ConfigValue& v) { return v.integer >= 0 && v.integer <= 64; }
bool threadCount(const ConfigValue& v) { return v.integer >= 0 && v.integer <= 1024; }  // 0 = auto
bool batchSize(const ConfigValue& v) { return v.integer >= 1 && v.integer <= 1'000'000; }
bool topK(const ConfigValue& v) { return v.integer >= 1 && v.integer <= 100000; }
bool residualBlocks(const ConfigValue& v) { return v.integer >= 1 && v.integer <= 32; }
bool oddKernel(const ConfigValue& v) { return v.integer >= 1 && v.integer <= 15 && v.integer % 2 == 1; }
bool hiddenWidth(const ConfigValue& v) { return v.integer >= 1 && v.integer <= 1'000'000; }
bool channelCount(const ConfigValue& v) { return v.integer >= 1 && v.integer <= 4096; }
bool deviceName(const ConfigValue& v) {
  static const std::regex pattern("auto|cpu|cuda|cuda:[0-9]+");
  return std::regex_match(v.text, pattern);
}
bool transformerLayers(const ConfigValue& v) { return v.integer >= 1 && v.integer <= 96; }
bool attentionHeads(const ConfigValue& v) { return v.integer >= 1 && v.integer <= 128; }
bool modelWidth(const ConfigValue& v) { return v.integer >= 1 && v.integer <= 16384; }
bool contextLength(const ConfigValue& v) { return v.integer >= 2 && v.integer <= 8192; }
bool fieldName(const ConfigValue& v) { return !v.text.empty(); }
bool taskName(const ConfigValue& v) {
  static const std::regex pattern("[a-z][a-z0-9_]{0,63}");
  return std::regex_match(v.text, pattern);
}
bool teacherSource(const ConfigValue& v) {
  static const std::regex run_pattern("run:[0-9]+");
  const std::string& s = v.text;
  return !(s.empty() || (s != "train" && s.rfind("run:", 0) == 0 && !std::regex_match(s, run_pattern)) ||
           s == "torchscript:" || s == "hf:");
}
// byte, char, hf:<path> or a path; the files themselves are checked when the task reads them.
bool tokenizerSpec(const ConfigValue& v) { return !v.text.empty() && v.text != "hf:"; }
bool studentSource(const ConfigValue& v) {
  static const std::regex blocks_pattern("teacher-blocks:0*[1-9][0-9]{0,5}");  // k >= 1
  const std::string& s = v.text;
  return s == "init" || (s.rfind("torchscript:", 0) == 0 && s != "torchscript:") ||
         (s.rfind("hf:", 0) == 0 && s != "hf:") || std::regex_match(s, blocks_pattern);
}

// ---- rows ------------------------------------------------------------------------------------

using Get = ConfigValue (*)(const ExperimentConfig&);
using Set = void (*)(ExperimentConfig&, const ConfigValue&);

ConfigKey row(const char* key, ConfigKind kind, FormSection section, const char* label, Get get, Set set) {
  ConfigKey k;
  k.key = key;
  k.kind = kind;
  k.section = section;
  k.label = label;
  k.get = get;
  k.set = set;
  return k;
}

// The two accessors of a member: SLOT is the ConfigValue slot of the key's kind.
#define DISTILL_CONFIG_FIELD(SLOT, MEMBER)                          \
  [](const ExperimentConfig& c) {                                   \
    ConfigValue v;                                                  \
    v.SLOT = c.MEMBER;                                              \
    return v;                                                       \
  },                                                                \
      [](ExperimentConfig& c, const ConfigValue& v) { c.MEMBER = v.SLOT; }

const std::vector<std::string> kArchs{"mlp", "cnn", "resnet", "gpt"};
const std::vector<std::string> kClassifierArchs{"mlp", "cnn", "resnet"};
const std::vector<std::string> kLanguageArchs{"gpt"};
const std::vector<std::string> kActivations{"relu", "gelu", "tanh", "sigmoid", "leaky_relu", "silu"};
const std::vector<std::string> kConvArchs{"cnn", "resnet"};

// The architecture keys, the same for teacher.* and student.* (only the member differs).
#define DISTILL_MODEL_ROWS(PREFIX, SECTION, MODEL)                                                                  \
  row(PREFIX ".arch", ConfigKind::Choice, SECTION, "Architecture", DISTILL_CONFIG_FIELD(text, MODEL.arch))          \
      .withChoices(kArchs)                                                                                           \
      .withHelp("`mlp`, `cnn` or `resnet` (image task); `gpt`, a decoder-only transformer (lm task)"),               \
      row(PREFIX ".hidden", ConfigKind::IntegerList, SECTION, "Hidden widths", DISTILL_CONFIG_FIELD(list, MODEL.hidden)) \
          .withCheck(hiddenWidth, "widths between 1 and 1000000")                                                    \
          .forArchs(kClassifierArchs)                                                                                \
          .withHelp("MLP hidden widths; for a CNN, the widths of its dense head"),                                   \
      row(PREFIX ".activation", ConfigKind::Choice, SECTION, "Activation", DISTILL_CONFIG_FIELD(text, MODEL.activation)) \
          .withChoices(kActivations)                                                                                 \
          .forArchs(kClassifierArchs)                                                                                \
          .withHelp("`relu`, `gelu`, `tanh`, `sigmoid`, `leaky_relu`, `silu`"),                                      \
      row(PREFIX ".layers", ConfigKind::Integer, SECTION, "Layers", DISTILL_CONFIG_FIELD(integer, MODEL.layers))      \
          .withRange(1, 96)                                                                                          \
          .withCheck(transformerLayers, "a layer count between 1 and 96")                                            \
          .forArchs(kLanguageArchs)                                                                                  \
          .withHelp("GPT: transformer blocks"),                                                                      \
      row(PREFIX ".heads", ConfigKind::Integer, SECTION, "Heads", DISTILL_CONFIG_FIELD(integer, MODEL.heads))         \
          .withRange(1, 128)                                                                                         \
          .withCheck(attentionHeads, "a head count between 1 and 128 that divides d_model")                          \
          .forArchs(kLanguageArchs)                                                                                  \
          .withHelp("GPT: attention heads; they must divide `d_model`"),                                             \
      row(PREFIX ".d_model", ConfigKind::Integer, SECTION, "Width", DISTILL_CONFIG_FIELD(integer, MODEL.d_model))     \
          .withRange(1, 16384)                                                                                       \
          .withCheck(modelWidth, "a width between 1 and 16384")                                                      \
          .forArchs(kLanguageArchs)                                                                                  \
          .withHelp("GPT: width of the residual stream (embedding size)"),                                           \
      row(PREFIX ".dropout", ConfigKind::Number, SECTION, "Dropout", DISTILL_CONFIG_FIELD(number, MODEL.dropout))   \
          .withRange(0.0, 0.99)                                                                                      \
          .withSpin(2, 0.05)                                                                                         \
          .withCheck(inHalfOpenUnit, "a probability in [0, 1)")                                                      \
          .withHelp("dropout after each hidden activation, in [0, 1)"),                                              \
      row(PREFIX ".channels", ConfigKind::IntegerList, SECTION, "Conv channels", DISTILL_CONFIG_FIELD(list, MODEL.channels)) \
          .withCheck(channelCount, "channel counts between 1 and 4096")                                              \
          .forArchs(kConvArchs)                                                                                      \
          .withHelp("CNN: output channels of each conv block (conv, activation, 2x2 pool), 1–4 blocks; ResNet: "     \
                    "channels of each stage (the first stage keeps the resolution, each later one halves it), 1–4 "  \
                    "stages"),                                                                                       \
      row(PREFIX ".blocks", ConfigKind::Integer, SECTION, "Residual blocks", DISTILL_CONFIG_FIELD(integer, MODEL.blocks)) \
          .withRange(1, 32)                                                                                          \
          .withCheck(residualBlocks, "1 to 32 residual blocks per stage")                                            \
          .forArchs({"resnet"})                                                                                      \
          .withHelp("ResNet: basic residual blocks per stage (He et al. 2016; 3x3 stem, no max-pool, global "        \
                    "average pooling)"),                                                                             \
      row(PREFIX ".kernel", ConfigKind::Integer, SECTION, "Kernel", DISTILL_CONFIG_FIELD(integer, MODEL.kernel))    \
          .withRange(1, 15)                                                                                          \
          .withSpin(0, 2) /* odd sizes only */                                                                       \
          .withCheck(oddKernel, "an odd kernel size between 1 and 15")                                               \
          .forArchs(kConvArchs)                                                                                      \
          .withHelp("CNN: odd square kernel size"),                                                                  \
      row(PREFIX ".pool", ConfigKind::Choice, SECTION, "Pooling", DISTILL_CONFIG_FIELD(text, MODEL.pool))           \
          .withChoices({"max", "avg"})                                                                               \
          .forArchs(kConvArchs)                                                                                      \
          .withHelp("CNN: `max` or `avg`")

std::vector<ConfigKey> buildTable() {
  using K = ConfigKind;
  using S = FormSection;
  return {
      // ---- run
      row("task", K::Text, S::Run, "Task", DISTILL_CONFIG_FIELD(text, task))
          .withChoices({"image", "lm"})
          .withCheck(taskName, "a task name (lower-case letters, digits, _)")
          .withHelp("what is learned: `image` (image or table classification, the default) or `lm` (causal language "
                    "modelling, token-level distillation); the workbench "
                    "checks the name against its registered tasks when a run starts"),
      row("name", K::Text, S::Run, "Name", DISTILL_CONFIG_FIELD(text, name))
          .withHelp("run name; empty: generated, e.g. `mlp1200x1200->mlp800x800 kd T4 a0.9`"),
      row("seed", K::Integer, S::Run, "Seed",
          [](const ExperimentConfig& c) {
            ConfigValue v;
            v.integer = static_cast<int64_t>(c.seed);
            return v;
          },
          [](ExperimentConfig& c, const ConfigValue& v) { c.seed = static_cast<uint64_t>(v.integer); })
          .withRange(0, 2147483647)
          .withCheck(nonNegativeInteger, "a whole number >= 0")
          .checkedOnRead()
          .withHelp("seeds model initialisation, dropout and shuffling; same seed, same run with the same build (the "
                    "CPU dropout masks come from the workbench's own generator, not ATen's Bernoulli stream; see "
                    "BENCHMARKS.md)"),
      row("device", K::Text, S::Run, "Device", DISTILL_CONFIG_FIELD(text, device))
          .withChoices({"auto", "cpu", "cuda"})
          .withCheck(deviceName, "auto, cpu, cuda or cuda:N")
          .withHelp("`auto` (CUDA when available, else CPU), `cpu`, `cuda`, `cuda:N`"),
      row("threads", K::Integer, S::Run, "Threads", DISTILL_CONFIG_FIELD(integer, threads))
          .withRange(0, 1024)
          .withCheck(threadCount, "'auto' or a thread count between 1 and 1024")
          .checkedOnRead()
          .autoZero()
          .withZeroLabel("auto")
          .withHelp("torch intra-op threads. `auto`: with oneDNN products (below), torch's threads on every core and "
                    "OpenBLAS on one; with `gemm: blas`, 1 torch thread and OpenBLAS on every core (4x faster than "
                    "torch's default here); the choice is printed and stored with the run"),
      row("gemm", K::Choice, S::Run, "Matrix products", DISTILL_CONFIG_FIELD(text, gemm))
          .withChoices({"auto", "onednn", "blas"})
          .withCheck(nullptr, "auto, onednn or blas")
          .withHelp("library of the linear layers' matrix products on the CPU: `auto` (oneDNN where LibTorch links "
                    "it, as Debian's does, else LibTorch's matmul), `onednn`, or `blas` (LibTorch's matmul, i.e. "
                    "OpenBLAS). oneDNN ran the Hinton MLPs' products about 1.8x faster here; the two agree to "
                    "float32 rounding, not bit for bit, so a run made with one reproduces exactly only with the same "
                    "setting. Printed and stored with the run (`environment` key `gemm`)"),
      // ---- dataset
      row("dataset.name", K::Choice, S::Dataset, "Dataset", DISTILL_CONFIG_FIELD(text, dataset.name))
          .forTasks({"image"})
          .withChoices({"fashion-mnist", "mnist", "idx", "cifar10", "cifar100", "csv"})
          .withHelp("`fashion-mnist`, `mnist`, `idx` (any folder of MNIST-style IDX files), `cifar10`, `cifar100` or "
                    "`csv` (see [Datasets](formats.md#datasets))"),
      row("dataset.path", K::Text, S::Dataset, "Path", DISTILL_CONFIG_FIELD(text, dataset.path))
          .forTasks({"image"})
          .withHelp("where the files are; empty: `/usr/share/datasets/<name>` for the MNIST family, required for the "
                    "others"),
      row("dataset.limit_train", K::Integer, S::Dataset, "Train samples", DISTILL_CONFIG_FIELD(integer, dataset.limit_train))
          .withRange(0, 100'000'000)
          .withZeroLabel("all")
          .withCheck(nonNegativeInteger, "0 (all) or a positive count")
          .withHelp("use only the first N training samples (0: all); for the lm task, N blocks of `lm.context` tokens, "
                    "evenly spaced over the corpus"),
      row("dataset.limit_test", K::Integer, S::Dataset, "Test samples", DISTILL_CONFIG_FIELD(integer, dataset.limit_test))
          .withRange(0, 100'000'000)
          .withZeroLabel("all")
          .withCheck(nonNegativeInteger, "0 (all) or a positive count")
          .withHelp("use only the first N test samples (0: all); for the lm task, N validation blocks, evenly spaced"),
      row("dataset.mean", K::Number, S::Dataset, "Mean", DISTILL_CONFIG_FIELD(number, dataset.mean))
          .forTasks({"image"})
          .withHelp("image normalisation `(x/255 - mean) / std`"),
      row("dataset.std", K::Number, S::Dataset, "Std", DISTILL_CONFIG_FIELD(number, dataset.std))
          .forTasks({"image"})
          .withCheck(positiveNumber, "a positive number")
          .withHelp("image normalisation `(x/255 - mean) / std`"),
      row("dataset.augment", K::Flag, S::Dataset, "Augment", DISTILL_CONFIG_FIELD(flag, dataset.augment))
          .forTasks({"image"})
          .withHelp("random 4-pixel-padded crop and horizontal flip of each training image (images only; turns the "
                    "teacher-logit cache off)"),
      row("lm.corpus", K::Text, S::Dataset, "Corpus", DISTILL_CONFIG_FIELD(text, lm.corpus))
          .forTasks({"lm"})
          .withHelp("lm task: a folder or file of text (documents separated by `%` lines, else by blank lines) or "
                    "of JSON Lines (`.jsonl`: one object a line, with a text field or a prompt and a response); "
                    "empty: Debian's `fortunes` (/usr/share/games/fortunes). Every 10th document is held out"),
      row("lm.tokenizer", K::Text, S::Dataset, "Tokenizer", DISTILL_CONFIG_FIELD(text, lm.tokenizer))
          .forTasks({"lm"})
          .withChoices({"byte", "char"})
          .withCheck(tokenizerSpec, "byte, char, hf:<folder> or the path of a tokenizer file")
          .withHelp("lm task: `byte` (256 byte values), `char` (the corpus's characters; needs UTF-8), or a "
                    "model's own tokenizer: `hf:<folder>` (a model folder holding `tokenizer.model`, "
                    "SentencePiece as Llama 2 and Mistral ship it, else `tokenizer.json` or `vocab.json` + "
                    "`merges.txt`, byte-level BPE as GPT-2, Qwen2, Llama 3 and SmolLM2 ship it) or the path of one "
                    "of those files. Documents are separated by the model's end-of-text token; the run records "
                    "the tokenizer's description and fingerprint, and a teacher tokenized otherwise is refused "
                    "(see [Hugging Face models](huggingface.md#tokenizers))"),
      row("lm.context", K::Integer, S::Dataset, "Context", DISTILL_CONFIG_FIELD(integer, lm.context))
          .forTasks({"lm"})
          .withRange(2, 8192)
          .withCheck(contextLength, "a context between 2 and 8192 tokens")
          .withHelp("lm task: tokens per training block and the models' context"),
      row("lm.text_field", K::Text, S::Dataset, "Text field", DISTILL_CONFIG_FIELD(text, lm.text_field))
          .forTasks({"lm"})
          .withCheck(fieldName, "a JSON field name")
          .withHelp("lm task, JSON Lines: the field holding a document's text"),
      row("lm.prompt_field", K::Text, S::Dataset, "Prompt field", DISTILL_CONFIG_FIELD(text, lm.prompt_field))
          .forTasks({"lm"})
          .withCheck(fieldName, "a JSON field name")
          .withHelp("lm task, JSON Lines: an instruction's prompt. A line with this field and `lm.response_field` "
                    "is one document, the prompt, a newline and the response; only the response's tokens (and the "
                    "end of the document) count as targets"),
      row("lm.response_field", K::Text, S::Dataset, "Response field", DISTILL_CONFIG_FIELD(text, lm.response_field))
          .forTasks({"lm"})
          .withCheck(fieldName, "a JSON field name")
          .withHelp("lm task, JSON Lines: an instruction's response (see `lm.prompt_field`)"),
      row("dataset.label_column", K::Text, S::Dataset, "Label column", DISTILL_CONFIG_FIELD(text, dataset.label_column))
          .forTasks({"image"})
          .withHelp("CSV: the column with the classes"),
      row("dataset.test_fraction", K::Number, S::Dataset, "Test fraction", DISTILL_CONFIG_FIELD(number, dataset.test_fraction))
          .forTasks({"image"})
          .withRange(0.01, 0.99)
          .withSpin(2, 0.05)
          .withCheck(inOpenUnit, "a fraction in (0, 1)")
          .withHelp("CSV: held-out share when `dataset.path` is one file"),
      // ---- teacher
      row("teacher.source", K::Text, S::Teacher, "Source", DISTILL_CONFIG_FIELD(text, teacher.source))
          .withChoices({"train"})
          .withCheck(teacherSource,
                     "'train', 'run:<id>', 'hf:<folder>', 'torchscript:<path>' or the path of a teacher .pt file")
          .withHelp("`train` (phase 1 trains it), `run:<id>` (reuse the teacher saved by that run, with its "
                    "architecture; lineage is recorded), `hf:<folder>` (lm task: a Hugging Face model folder, "
                    "GPT-2, Llama, Qwen2 or Mistral in safetensors, frozen; the run tokenizes with its tokenizer "
                    "and a student the workbench builds takes its vocabulary, see "
                    "[Hugging Face models](huggingface.md#use)), `torchscript:<path>` (a module exported from "
                    "Python, see [formats](formats.md#torchscript-teachers-and-students)), or a path to a teacher "
                    "`.pt` checkpoint of the configured architecture"),
      DISTILL_MODEL_ROWS("teacher", S::Teacher, teacher.model),
      row("teacher.epochs", K::Integer, S::Teacher, "Epochs", DISTILL_CONFIG_FIELD(integer, teacher.epochs))
          .withRange(0, 100'000)
          .withCheck(nonNegativeInteger, "a number of epochs >= 0")
          .withHelp("epochs of phase 1"),
      row("teacher.dtype", K::Choice, S::Teacher, "Frozen dtype", DISTILL_CONFIG_FIELD(text, teacher.dtype))
          .forTasks({"lm"})
          .withChoices({"float32", "bfloat16"})
          .withHelp("lm task: the frozen teacher's weights in the student phase. `bfloat16` casts them (and its "
                    "computation) to bfloat16 without gradients, half the memory of `float32`; its logits are "
                    "returned as float32 for the loss. Agreement with the float32 teacher is to bfloat16's 8 "
                    "significant bits (see [Hugging Face models](huggingface.md#memory-and-speed)). The teacher's "
                    "own training (phase 1) and evaluation are in float32"),
      // ---- student
      row("student.source", K::Text, S::Student, "Source", DISTILL_CONFIG_FIELD(text, student_source))
          .withChoices({"init"})
          .withCheck(studentSource, "'init', 'hf:<folder>', 'teacher-blocks:<k>' with k >= 1 or 'torchscript:<path>'")
          .withHelp("`init` (a fresh student of the configured architecture), `hf:<folder>` (lm task: a Hugging "
                    "Face model folder, trained from its weights), `teacher-blocks:<k>` (lm task: the teacher's "
                    "blocks 0, k, 2k, ... with its embeddings, final norm and head, as DistilGPT2 was made: of an "
                    "`hf:<folder>`, `run:<id>` or `.pt` teacher when the run starts, of a `train` teacher after "
                    "phase 1 trains it) or "
                    "`torchscript:<path>` (a trainable TorchScript module; a bare path means the same)"),
      DISTILL_MODEL_ROWS("student", S::Student, student),
      row("student.gradient_checkpointing", K::Flag, S::Student, "Gradient checkpointing",
          DISTILL_CONFIG_FIELD(flag, student_gradient_checkpointing))
          .forTasks({"lm"})
          .withHelp("lm task: keep only each transformer block's input in the forward pass and recompute the "
                    "block in backward (the same gradients, dropout included; activation memory of one block "
                    "instead of all, for about a third more compute per step; see "
                    "[Hugging Face models](huggingface.md#memory-and-speed))"),
      // ---- distillation
      row("distill.method", K::Choice, S::Distillation, "Method", DISTILL_CONFIG_FIELD(text, distill.method))
          .withChoices(lossMethods())  // the loss registry decides (core/losses/methods.h)
          .withHelp("the loss: `kd`, `reverse_kl`, `jsd`, `skew_kl`, `skew_reverse_kl`, `tvd`, `mse_logits`, `dkd`, "
                    "`fitnet` (see [Distillation losses](#distillation-losses))"),
      row("distill.temperature", K::Number, S::Distillation, "Temperature", DISTILL_CONFIG_FIELD(number, distill.temperature))
          .withRange(0.0, 1000.0)
          .withSpin(2, 0.5)
          .withCheck(positiveNumber, "a temperature > 0")
          .withHelp("T > 0"),
      row("distill.alpha", K::Number, S::Distillation, "Alpha", DISTILL_CONFIG_FIELD(number, distill.alpha))
          .withRange(0.0, 1.0)
          .withSpin(3, 0.05)
          .withCheck(inClosedUnit, "a weight in [0, 1]")
          .withHelp("weight of the distillation term in [0, 1]; 0 = the plain student baseline"),
      row("distill.teacher_access", K::Choice, S::Distillation, "Teacher access",
          DISTILL_CONFIG_FIELD(text, distill.teacher_access))
          .withChoices({"logits", "topk", "label", "text"})
          .withHelp("what the student sees of the teacher: `logits` (white-box), `topk` (an API's top-k "
                    "probabilities), `label` (its top-1 prediction) or, for language models, `text` (only its "
                    "generated text: sequence-level distillation alone); see [Black-box "
                    "distillation](#black-box-distillation)"),
      row("distill.topk", K::Integer, S::Distillation, "Top k", DISTILL_CONFIG_FIELD(integer, distill.topk))
          .withRange(1, 100000)
          .withCheck(topK, "k >= 1")
          .withHelp("`topk` access: how many probabilities the \"API\" returns"),
      row("distill.topk_renormalize", K::Flag, S::Distillation, "Renormalise top k",
          DISTILL_CONFIG_FIELD(flag, distill.topk_renormalize))
          .withHelp("`topk` access: renormalise over the k classes instead of keeping the rest as one tail bucket"),
      row("distill.jsd_beta", K::Number, S::Distillation, "JSD beta", DISTILL_CONFIG_FIELD(number, distill.jsd_beta))
          .withRange(0.0, 1.0)
          .withSpin(3, 0.05)
          .withCheck(inClosedUnit, "a weight in [0, 1]")
          .withHelp("`jsd`: the mixture weight beta in [0, 1]"),
      row("distill.skew", K::Number, S::Distillation, "Skew", DISTILL_CONFIG_FIELD(number, distill.skew))
          .withRange(0.0, 1.0)
          .withSpin(3, 0.05)
          .withCheck(inHalfOpenUnit, "a weight in [0, 1)")
          .withHelp("`skew_kl`, `skew_reverse_kl`: the weight lambda of the distribution mixed into the KL's second "
                    "argument, in [0, 1) (DistiLLM's 0.1)"),
      // ---- generation (lm task): sequence-level and on-policy distillation
      row("generation.sequence_kd", K::Flag, S::Distillation, "Teacher's text",
          DISTILL_CONFIG_FIELD(flag, generation.sequence_kd))
          .forTasks({"lm"})
          .withHelp("sequence-level distillation: the student trains on the teacher's completions of prompts drawn "
                    "from the training corpus, instead of on the corpus"),
      row("generation.on_policy", K::Number, S::Distillation, "On-policy", DISTILL_CONFIG_FIELD(number, generation.on_policy))
          .forTasks({"lm"})
          .withRange(0.0, 1.0)
          .withSpin(2, 0.1)
          .withCheck(inClosedUnit, "a probability in [0, 1]")
          .withHelp("on-policy distillation (GKD's lambda): the probability that a batch is the student's own "
                    "completions, scored by the teacher's token distributions"),
      row("generation.prompt_tokens", K::Integer, S::Distillation, "Prompt tokens",
          DISTILL_CONFIG_FIELD(integer, generation.prompt_tokens))
          .forTasks({"lm"})
          .withRange(1, 1'000'000)
          .withCheck(positiveInteger, "a number of tokens >= 1")
          .withHelp("length of the prompts drawn from the corpus (for generated batches and the evaluation's samples)"),
      row("generation.new_tokens", K::Integer, S::Distillation, "New tokens",
          DISTILL_CONFIG_FIELD(integer, generation.new_tokens))
          .forTasks({"lm"})
          .withRange(1, 1'000'000)
          .withCheck(positiveInteger, "a number of tokens >= 1")
          .withHelp("tokens generated per completion; prompt_tokens + new_tokens must fit in lm.context"),
      row("generation.temperature", K::Number, S::Distillation, "Sampling T",
          DISTILL_CONFIG_FIELD(number, generation.temperature))
          .forTasks({"lm"})
          .withRange(0.0, 100.0)
          .withSpin(2, 0.1)
          .withCheck(nonNegativeNumber, "a temperature >= 0 (0: greedy)")
          .withHelp("sampling temperature of generated training text (0: greedy)"),
      row("generation.top_p", K::Number, S::Distillation, "Top p", DISTILL_CONFIG_FIELD(number, generation.top_p))
          .forTasks({"lm"})
          .withRange(0.0, 1.0)
          .withSpin(2, 0.05)
          .withCheck(inUnitAboveZero, "a probability in (0, 1]")
          .withHelp("nucleus sampling of generated training text: the smallest set of tokens reaching this mass"),
      row("generation.eval_prompts", K::Integer, S::Distillation, "Sample prompts",
          DISTILL_CONFIG_FIELD(integer, generation.eval_prompts))
          .forTasks({"lm"})
          .withRange(0, 64)
          .withCheck(promptCount, "a number of prompts in [0, 64]")
          .withHelp("validation prompts that teacher and student complete at each evaluation (greedy and "
                    "sampled; prompts of at most half the context, completions of the rest), stored with the run; 0: none"),
      row("distill.dkd_alpha", K::Number, S::Distillation, "DKD alpha", DISTILL_CONFIG_FIELD(number, distill.dkd_alpha))
          .withCheck(nonNegativeNumber, "a weight >= 0")
          .withHelp("`dkd`: weight of the target-class part"),
      row("distill.dkd_beta", K::Number, S::Distillation, "DKD beta", DISTILL_CONFIG_FIELD(number, distill.dkd_beta))
          .withCheck(nonNegativeNumber, "a weight >= 0")
          .withHelp("`dkd`: weight of the non-target-class part"),
      row("distill.warmup_epochs", K::Number, S::Distillation, "Warm-up epochs",
          DISTILL_CONFIG_FIELD(number, distill.warmup_epochs))
          .withCheck(nonNegativeNumber, "a number of epochs >= 0")
          .withHelp("`dkd` and `fitnet`: the distillation weight ramps up linearly over these student epochs"),
      row("distill.hint_student_layer", K::Integer, S::Distillation, "Student hint",
          DISTILL_CONFIG_FIELD(integer, distill.hint_student_layer))
          .withRange(-1, 1000)
          .withHelp("`fitnet`: the student's hidden representation to guide (0-based; -1 = the last): an MLP's "
                    "hidden layers, a CNN's conv blocks, a ResNet's stages"),
      row("distill.hint_teacher_layer", K::Integer, S::Distillation, "Teacher hint",
          DISTILL_CONFIG_FIELD(integer, distill.hint_teacher_layer))
          .withRange(-1, 1000)
          .withHelp("`fitnet`: the teacher's hidden representation giving the hint (0-based; -1 = the last)"),
      row("distill.hint_weight", K::Number, S::Distillation, "Hint weight", DISTILL_CONFIG_FIELD(number, distill.hint_weight))
          .withCheck(nonNegativeNumber, "a weight >= 0")
          .withHelp("`fitnet`: weight of the hint term"),
      row("distill.hint_epochs", K::Integer, S::Distillation, "Hint epochs", DISTILL_CONFIG_FIELD(integer, distill.hint_epochs))
          .withRange(0, 100'000)
          .withCheck(nonNegativeInteger, "a number of epochs >= 0")
          .withHelp("`fitnet`: > 0 trains the hint alone for these epochs first (the paper's two stages), 0 adds it "
                    "to KD throughout"),
      row("distill.teacher_cache", K::Choice, S::Distillation, "Teacher cache",
          DISTILL_CONFIG_FIELD(text, distill.teacher_cache))
          .withChoices({"auto", "off", "logits", "topk"})
          .withHelp("compute the frozen teacher's outputs on the training set once (in chunks) instead of a teacher "
                    "forward pass per step: `logits` keeps them in memory (exact; off above 2 GiB), `topk` keeps its "
                    "`teacher_cache_k` largest log-probabilities per position in a memory-mapped file in the run's "
                    "folder, reused on resume (exact for `topk` and `label` access; for `logits` access an "
                    "approximation: the rest of the teacher's mass spread evenly over the other classes, named in the "
                    "run's environment and log), `auto` is `topk` for `topk` access and `logits` otherwise, `off` "
                    "none. Off anyway with `dataset.augment`, generated batches and `fitnet`. Replaces "
                    "`cache_teacher_logits` (`false` reads as `off`)"),
      row("distill.teacher_cache_k", K::Integer, S::Distillation, "Teacher cache k",
          DISTILL_CONFIG_FIELD(integer, distill.teacher_cache_k))
          .withRange(1, 100000)
          .withCheck(topK, "k >= 1")
          .enabledWhen("distill.teacher_cache", {"auto", "topk"})
          .withHelp("`topk` teacher cache: log-probabilities kept per position (20, what LLM APIs return; at "
                    "least `distill.topk` with `topk` access, at most the vocabulary); 8 bytes each on disk"),
      // ---- training
      row("train.epochs", K::Integer, S::Training, "Student epochs", DISTILL_CONFIG_FIELD(integer, train.epochs))
          .withRange(0, 100'000)
          .withCheck(nonNegativeInteger, "a number of epochs >= 0")
          .withHelp("epochs of phase 2 (the student)"),
      row("train.batch_size", K::Integer, S::Training, "Batch size", DISTILL_CONFIG_FIELD(integer, train.batch_size))
          .withRange(1, 1'000'000)
          .withCheck(batchSize, "a batch size between 1 and 1000000")
          .withHelp("batch size of both phases"),
      row("train.optimizer", K::Choice, S::Training, "Optimizer", DISTILL_CONFIG_FIELD(text, train.optimizer))
          .withChoices({"sgd", "adam", "adamw"})
          .withHelp("`sgd`, `adam`, `adamw` (used for both phases)"),
      row("train.lr", K::Number, S::Training, "Learning rate", DISTILL_CONFIG_FIELD(number, train.lr))
          .withCheck(positiveNumber, "a learning rate > 0")
          .withHelp("learning rate"),
      row("train.momentum", K::Number, S::Training, "Momentum", DISTILL_CONFIG_FIELD(number, train.momentum))
          .withRange(0.0, 0.9999)
          .withSpin(4, 0.05)
          .withCheck(inHalfOpenUnit, "a momentum in [0, 1)")
          .enabledWhen("train.optimizer", {"sgd"})
          .withHelp("SGD momentum"),
      row("train.nesterov", K::Flag, S::Training, "Nesterov", DISTILL_CONFIG_FIELD(flag, train.nesterov))
          .enabledWhen("train.optimizer", {"sgd"})
          .withHelp("SGD: Nesterov momentum"),
      row("train.weight_decay", K::Number, S::Training, "Weight decay", DISTILL_CONFIG_FIELD(number, train.weight_decay))
          .withCheck(nonNegativeNumber, "a weight decay >= 0")
          .withHelp("weight decay"),
      row("train.schedule", K::Choice, S::Training, "Schedule", DISTILL_CONFIG_FIELD(text, train.schedule))
          .withChoices({"constant", "step", "cosine"})
          .withHelp("`constant`, `step` (times `gamma` every `step_size` epochs) or `cosine` (per step, to 0 at the "
                    "end of each phase)"),
      row("train.step_size", K::Integer, S::Training, "Step size (epochs)", DISTILL_CONFIG_FIELD(integer, train.step_size))
          .withRange(1, 100'000)
          .withCheck(positiveInteger, "a number of epochs >= 1")
          .enabledWhen("train.schedule", {"step"})
          .withHelp("step schedule: epochs between decays"),
      row("train.gamma", K::Number, S::Training, "Gamma", DISTILL_CONFIG_FIELD(number, train.gamma))
          .withRange(0.0, 1.0)
          .withSpin(4, 0.05)
          .withCheck(inUnitAboveZero, "a decay factor in (0, 1]")
          .enabledWhen("train.schedule", {"step"})
          .withHelp("step schedule: decay factor"),
      row("train.log_every", K::Integer, S::Training, "Log every (steps)", DISTILL_CONFIG_FIELD(integer, train.log_every))
          .withRange(1, 1'000'000)
          .withCheck(positiveInteger, "a number of steps >= 1")
          .withHelp("steps between logged training points (mean over the interval)"),
      row("train.eval_every", K::Integer, S::Training, "Evaluate every", DISTILL_CONFIG_FIELD(integer, train.eval_every))
          .withRange(0, 100'000'000)
          .withZeroLabel("each epoch")
          .withCheck(nonNegativeInteger, "0 (each epoch) or a number of steps")
          .withHelp("steps between test-set evaluations; 0: at each epoch end"),
      row("train.autocast", K::Choice, S::Training, "Autocast (CUDA)", DISTILL_CONFIG_FIELD(text, train.autocast))
          .withChoices({"off", "bf16", "fp16"})
          .withHelp("CUDA mixed precision for the forward passes and the loss: `off`, `bf16`, or `fp16` (with dynamic "
                    "loss scaling, as PyTorch's GradScaler: one host read per step to skip a step whose gradients "
                    "overflowed). The CPU always trains in float32 (the run's environment says so)"),
  };
}

#undef DISTILL_MODEL_ROWS
#undef DISTILL_CONFIG_FIELD

std::string joined(const std::vector<std::string>& values) {
  std::string text;
  for (const auto& v : values) text += (text.empty() ? "" : ", ") + v;
  return text;
}

}  // namespace

const std::vector<ConfigKey>& configKeyTable() {
  static const std::vector<ConfigKey> table = buildTable();
  return table;
}

const ConfigKey* findConfigKey(const std::string& key) {
  for (const auto& row : configKeyTable())
    if (row.key == key) return &row;
  return nullptr;
}

bool configKeyApplies(const ConfigKey& row, const ExperimentConfig& config) {
  if (!row.tasks.empty() && std::find(row.tasks.begin(), row.tasks.end(), config.task) == row.tasks.end()) return false;
  if (row.archs.empty()) return true;
  const ConfigKey* arch = findConfigKey(row.key.substr(0, row.key.rfind('.')) + ".arch");
  if (!arch) return true;
  const std::string name = arch->get(config).text;
  return std::find(row.archs.begin(), row.archs.end(), name) != row.archs.end();
}

ConfigIssue checkConfigValue(const ConfigKey& row, const ConfigValue& value) {
  if (row.kind == ConfigKind::Choice &&
      std::find(row.choices.begin(), row.choices.end(), value.text) == row.choices.end()) {
    const std::string expected = row.expected.empty() ? "one of " + joined(row.choices) : row.expected;
    return {row.key, "expected " + expected + ", got '" + value.text + "'"};
  }
  if (!row.valid) return {row.key, ""};
  switch (row.kind) {
    case ConfigKind::IntegerList:
      for (auto element : value.list) {
        ConfigValue one;
        one.integer = element;
        if (!row.valid(one)) return {row.key, "expected " + row.expected + ", got " + std::to_string(element)};
      }
      return {row.key, ""};
    case ConfigKind::Integer:
      return {row.key, row.valid(value) ? "" : "expected " + row.expected + ", got " + std::to_string(value.integer)};
    case ConfigKind::Number:
      return {row.key, row.valid(value) ? "" : "expected " + row.expected + ", got " + std::to_string(value.number)};
    case ConfigKind::Flag:
      return {row.key, ""};
    case ConfigKind::Text:
    case ConfigKind::Choice:
      return {row.key, row.valid(value) ? "" : "expected " + row.expected + ", got '" + value.text + "'"};
  }
  return {row.key, ""};
}

std::string configValueText(const ConfigKey& row, const ConfigValue& value) {
  switch (row.kind) {
    case ConfigKind::Text:
    case ConfigKind::Choice:
      return value.text;
    case ConfigKind::Integer:
      return row.zero_is_auto && value.integer == 0 ? "auto" : std::to_string(value.integer);
    case ConfigKind::Number:
      return fmt::format("{}", value.number);  // shortest text that reads back the same
    case ConfigKind::Flag:
      return value.flag ? "true" : "false";
    case ConfigKind::IntegerList: {
      std::string text = "[";
      for (size_t i = 0; i < value.list.size(); ++i) text += (i ? ", " : "") + std::to_string(value.list[i]);
      return text + "]";
    }
  }
  return {};
}

std::string formSectionTitle(FormSection section) {
  switch (section) {
    case FormSection::Run: return "Run";
    case FormSection::Dataset: return "Dataset";
    case FormSection::Teacher: return "Teacher";
    case FormSection::Student: return "Student";
    case FormSection::Distillation: return "Distillation";
    case FormSection::Training: return "Training";
  }
  return {};
}

namespace {

// The default as the docs show it: `""` for empty text.
std::string defaultText(const ConfigKey& row) {
  const std::string text = configValueText(row, row.get(defaultConfig()));
  return text.empty() ? "\"\"" : text;
}

// Markdown help -> roff: `code` in bold, [text](link) as its text, roff's special characters escaped.
std::string roff(const std::string& markdown) {
  static const std::regex link(R"(\[([^\]]*)\]\([^)]*\))");
  const std::string plain = std::regex_replace(markdown, link, "$1");
  std::string out;
  bool code = false;
  for (char ch : plain) {
    if (ch == '`') {
      out += code ? "\\fR" : "\\fB";
      code = !code;
    } else if (ch == '\\') {
      out += "\\e";
    } else if (ch == '-') {
      out += "\\-";
    } else {
      out += ch;
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

}  // namespace

std::string configKeysMarkdown() {
  std::string text = "| key | default | meaning |\n|---|---|---|\n";
  for (const auto& row : configKeyTable()) {
    std::string help = row.help;
    // A '|' inside a cell would end it.
    for (size_t at = help.find('|'); at != std::string::npos; at = help.find('|', at + 2)) help.replace(at, 1, "\\|");
    text += "| `" + row.key + "` | `" + defaultText(row) + "` | " + help + " |\n";
  }
  return text;
}

std::string configKeysMan() {
  std::string text;
  for (const auto& row : configKeyTable()) {
    text += ".TP\n.B " + roff(row.key) + "\n";
    text += "Default: \\fB" + roff(defaultText(row)) + "\\fR. " + roff(row.help) + ".\n";
  }
  return text;
}

}  // namespace distill
