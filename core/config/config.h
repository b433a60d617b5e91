// Experiment configuration: the typed form of a YAML/JSON experiment file.
//
// A config is parsed from text (YAML, of which JSON is a subset), overlaid on the defaults
// (Hinton's MLP setting on Fashion-MNIST), amended with dotted `--set key=value` overrides,
// and validated. Every problem is reported with the dotted key it concerns, so the CLI and
// the GUI show the same messages. Thread contract: plain values, no shared state; any
// thread may use these functions.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace distill {

// A problem with one config key (or the document as a whole when `key` is empty).
struct ConfigIssue {
  std::string key;
  std::string message;
  std::string toString() const;
};

// Thrown when a config cannot be parsed or does not validate; carries every issue found.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  const std::vector<ConfigIssue>& issues() const { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
};

struct DatasetConfig {
  std::string name = "fashion-mnist";  // fashion-mnist | mnist | idx | cifar10 | cifar100 | csv
  std::string path;                    // empty: the dataset's default folder
  int64_t limit_train = 0;             // 0: the whole split
  int64_t limit_test = 0;
  double mean = 0.2860;  // normalisation: (x/255 - mean) / std
  double std = 0.3530;
  // Standard image augmentation for training (random crop with 4-pixel padding, horizontal
  // flip). Turns the teacher-logit cache off, since inputs differ at every epoch.
  bool augment = false;
  std::string label_column = "label";  // csv: the column holding class indices
  double test_fraction = 0.2;          // csv: held-out share when dataset.path is a single file
};

// Architecture of a classifier that maps a batch of inputs to logits.
struct ModelConfig {
  std::string arch = "mlp";               // mlp | cnn | resnet
  std::vector<int64_t> hidden;            // mlp: hidden widths; cnn: widths of the dense head
  std::string activation = "relu";        // relu | gelu | tanh | sigmoid | leaky_relu | silu
  double dropout = 0.0;                   // after each hidden activation
  std::vector<int64_t> channels{32, 64};  // cnn: output channels per conv block; resnet: per stage
  int64_t blocks = 2;                     // resnet: residual blocks per stage
  int64_t kernel = 3;                     // cnn: square kernel size (odd)
  std::string pool = "max";               // cnn: max | avg (2x2 after each block)
  int64_t layers = 4;                     // gpt: transformer blocks
  int64_t heads = 4;                      // gpt: attention heads (divide d_model)
  int64_t d_model = 256;                  // gpt: width of the residual stream
};

struct TeacherConfig {
  // train | run:<id> (reuse the teacher saved by that run) | torchscript:<path> (a module
  // exported from Python) | hf:<folder> (a Hugging Face model folder, lm task; core/hf/hf_source.h)
  // | path to a teacher .pt file of the configured architecture
  std::string source = "train";
  ModelConfig model;
  int64_t epochs = 10;
  // Where the teacher's weights are, as resolveTeacherSource() (core/tasks/teacher_source.h)
  // found them: run:<id>'s checkpoint, the .pt path, the hf: folder; empty before, and for train
  // and torchscript:. Not a config key: never read from or written to a config file. A task that
  // needs the teacher's weights while building the student (student.source teacher-blocks:<k>)
  // reads them from here.
  std::string weights;
  // The frozen teacher's weights in the student phase: float32 | bfloat16 (lm task: half the
  // memory; the logits stay float32 for the loss). core/models/model.h's freezeInDtype().
  std::string dtype = "float32";
};

struct DistillConfig {
  std::string method = "kd";  // see core/losses/registry.cpp
  double temperature = 4.0;
  double alpha = 0.9;  // weight of the distillation term; 0 = plain student baseline
  // What the student sees of the teacher: logits (white-box) | topk (an API's k largest
  // probabilities) | label (its top-1 prediction only).
  std::string teacher_access = "logits";
  int64_t topk = 5;
  bool topk_renormalize = false;  // topk: renormalise over k classes instead of a tail bucket
  double jsd_beta = 0.5;          // jsd: M = beta * P_t + (1 - beta) * P_s
  double skew = 0.1;              // skew_kl, skew_reverse_kl: the mixture weight lambda (DistiLLM)
  double dkd_alpha = 1.0;         // dkd: weight of the target-class part (TCKD)
  double dkd_beta = 8.0;          // dkd: weight of the non-target-class part (NCKD)
  // dkd/fitnet: ramp the distillation weight up over these epochs. Without it, DKD's large
  // initial term (about 40 against CE's 2.3) made SGD at lr 0.05 diverge in the first epoch.
  double warmup_epochs = 1.0;
  int64_t hint_student_layer = -1;  // fitnet: student hidden layer to guide (0-based; -1 = last)
  int64_t hint_teacher_layer = -1;  // fitnet: teacher hidden layer giving the hint (-1 = last)
  double hint_weight = 1.0;         // fitnet: weight of the hint term
  int64_t hint_epochs = 0;          // fitnet: > 0 trains the hint alone for these epochs first
  // The frozen teacher's outputs on the training split, computed once when the split's inputs
  // are fixed (core/train/teacher_cache.h): auto | off | logits (in memory, exact, up to 2 GiB)
  // | topk (its teacher_cache_k largest log-probabilities per position in a memory-mapped file
  // in the run's folder: exact for topk and label access, an approximation for logits access).
  // auto: topk for topk access, else logits. Replaces the flag cache_teacher_logits (issue
  // 21): a config with `cache_teacher_logits: false` reads as off, with true as auto.
  std::string teacher_cache = "auto";
  int64_t teacher_cache_k = 20;  // topk cache: log-probabilities kept per position (at least distill.topk)
};

// The language-model task's data (task: lm; core/tasks/lm/corpus.h).
struct LmConfig {
  std::string corpus;              // a folder or file of text; empty: Debian's fortunes
  std::string tokenizer = "byte";  // byte | char | hf:<folder> | a tokenizer file (core/tasks/lm/tokenizer.h)
  int64_t context = 128;           // tokens per block (and the models' context)
  // JSON Lines corpora: the field holding a document's text, or an instruction's two fields
  std::string text_field = "text";
  std::string prompt_field = "prompt";
  std::string response_field = "response";
};

struct TrainConfig {
  int64_t epochs = 10;  // student epochs
  int64_t batch_size = 128;
  std::string optimizer = "sgd";  // sgd | adam | adamw
  double lr = 0.05;
  double momentum = 0.9;  // sgd
  bool nesterov = false;  // sgd
  double weight_decay = 0.0;
  std::string schedule = "cosine";  // constant | step | cosine (per step, over each phase)
  int64_t step_size = 5;            // step schedule: epochs between decays
  double gamma = 0.1;               // step schedule: decay factor
  int64_t log_every = 20;           // steps between logged training points
  int64_t eval_every = 0;           // steps between evaluations; 0 = at each epoch end
  // CUDA mixed precision: off | bf16 | fp16 (fp16 with dynamic loss scaling); float32 on the CPU
  std::string autocast = "off";
};

// Sequence-level and on-policy distillation of a language model (task: lm): batches of
// generated text instead of corpus blocks, and the fixed prompts both models complete at each
// evaluation (core/tasks/lm/lm_task.h).
struct GenerationConfig {
  // Sequence-level KD (Kim & Rush 2016): the student trains on the teacher's completions of
  // prompts drawn from the training corpus instead of on the corpus itself.
  bool sequence_kd = false;
  // On-policy distillation (GKD, Agarwal et al. 2024): each batch is, with this probability, the
  // student's own completions, scored by the teacher's token distributions (lambda).
  double on_policy = 0.0;
  int64_t prompt_tokens = 32;  // prompt length drawn from the corpus
  int64_t new_tokens = 96;     // tokens generated per completion
  double temperature = 1.0;    // sampling temperature of the generated training text
  double top_p = 0.95;         // nucleus sampling of the generated training text
  int64_t eval_prompts = 4;    // validation prompts both models complete at each evaluation
};

struct ExperimentConfig {
  // What is learned: a task registered in core/tasks/task_registry.cpp ("image": image and
  // table classification). Its data and models come from the sections below.
  std::string task = "image";
  std::string name;  // run name; empty: generated from the config
  uint64_t seed = 0;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int threads = 0;              // torch intra-op threads; 0 = auto (chosen from cores and BLAS)
  // Library of the linear layers' products on the CPU: auto (oneDNN where LibTorch exposes it,
  // else LibTorch's matmul) | onednn | blas (LibTorch's matmul, i.e. OpenBLAS on Debian)
  std::string gemm = "auto";
  DatasetConfig dataset;
  LmConfig lm;
  TeacherConfig teacher;
  ModelConfig student;
  // init (a fresh student of the configured architecture) | torchscript:<path> (a trainable
  // TorchScript module exported from Python; a bare path means the same) | hf:<folder> (a Hugging
  // Face model folder, lm task) | teacher-blocks:<k> (the teacher's every k-th block, lm task;
  // core/hf/hf_source.h)
  std::string student_source = "init";
  // student.gradient_checkpointing (lm task): recompute each block's activations in backward
  // instead of keeping them (core/models/gradient_checkpoint.h).
  bool student_gradient_checkpointing = false;
  DistillConfig distill;
  GenerationConfig generation;
  TrainConfig train;
};

// The built-in default experiment (Hinton et al. 2015 on Fashion-MNIST).
ExperimentConfig defaultConfig();

// Parses YAML or JSON text over the defaults; `origin` names the file in messages.
// Throws ConfigError (unknown keys, wrong types, out-of-range values).
ExperimentConfig parseConfig(const std::string& text, const std::string& origin = "config");
ExperimentConfig loadConfigFile(const std::string& path);

// Parses text, applies `key=value` overrides (dotted keys; values in YAML syntax, so
// `teacher.hidden=[512,512]` works), then validates. Throws ConfigError.
ExperimentConfig parseConfigWithOverrides(const std::string& text, const std::vector<std::string>& overrides,
                                          const std::string& origin = "config");

// Every issue in a typed config (ranges and enumerations); empty when valid.
std::vector<ConfigIssue> validate(const ExperimentConfig& config);

// Canonical YAML of the full config (every key, defaults included).
std::string toYaml(const ExperimentConfig& config);
// Flattened dotted keys -> scalar text (lists as "[a, b]"), for the params table and diffs.
std::map<std::string, std::string> flatten(const ExperimentConfig& config);
// Every dotted key the config accepts, in document order.
std::vector<std::string> configKeys();

// Folder with the dataset files when dataset.path is empty.
std::string defaultDatasetPath(const std::string& dataset_name);
// A short name such as "mlp1200x1200->mlp800x800 kd T4 a0.9".
std::string describe(const ExperimentConfig& config);

}  // namespace distill
