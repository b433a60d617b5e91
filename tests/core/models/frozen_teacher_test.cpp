// A teacher frozen in bfloat16 (teacher.dtype; core/models/model.h's freezeInDtype): half the
// parameter bytes, no gradients, float32 logits close to the float32 teacher's, and a
// distillation run with it trains its student.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/metrics/metric_keys.h"
#include "core/models/factory.h"
#include "core/models/model.h"
#include "core/tasks/lm/gpt.h"
#include "core/tasks/lm/llama.h"
#include "core/tasks/lm/lm_metrics.h"
#include "support/lm_test_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::lmConfig;
using testing::runLm;
using testing::TempDir;
using testing::writeCorpus;

GptConfig tinyGpt() {
  GptConfig c;
  c.vocab = 64;
  c.context = 16;
  c.layers = 2;
  c.heads = 2;
  c.d_model = 64;
  c.dropout = 0.1;  // eval mode: off
  return c;
}

LlamaConfig tinyLlama() {
  LlamaConfig c;
  c.family = LlamaFamily::Llama;
  c.vocab = 64;
  c.context = 16;
  c.layers = 2;
  c.d_model = 64;
  c.heads = 4;
  c.kv_heads = 2;
  c.head_dim = 16;
  c.intermediate = 96;
  c.rope_scaling.kind = RopeScaling::Kind::Linear;
  c.rope_scaling.factor = 2.0;
  return c;
}

// Weights of a trained model are larger than a fresh N(0, 0.02) initialisation's; scaled up, the
// logits spread over several units, so that a bfloat16 error is measured against logits that
// mean something (fresh logits are all near 0).
Model withLargerWeights(Model model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters())
    if (p.dim() >= 2) p.mul_(5.0);
  return model;
}

void expectCloseInBFloat16(const std::function<Model()>& make) {
  torch::manual_seed(3);
  Model reference = withLargerWeights(make());
  torch::manual_seed(3);
  Model frozen = withLargerWeights(make());
  reference->eval();
  const int64_t float_bytes = parameterBytes(*frozen);
  freezeInDtype(*frozen, torch::kBFloat16);

  // Half the bytes: every parameter is floating point, 2 bytes instead of 4.
  EXPECT_EQ(parameterBytes(*frozen) * 2, float_bytes);
  EXPECT_EQ(parameterBytes(*reference), float_bytes);
  for (const auto& p : frozen->parameters()) {
    EXPECT_EQ(p.scalar_type(), torch::kBFloat16);
    EXPECT_FALSE(p.requires_grad());
  }
  EXPECT_FALSE(frozen->is_training());

  torch::manual_seed(11);
  const auto tokens = torch::randint(64, {4, 16}, torch::kLong);
  torch::Tensor expected, got;
  {
    torch::NoGradGuard no_grad;
    expected = reference->forward(tokens);
    got = frozen->forward(tokens);
  }
  ASSERT_EQ(got.scalar_type(), torch::kFloat);  // for the loss, whatever the weights
  ASSERT_EQ(got.sizes(), expected.sizes());
  // bfloat16 keeps 8 significant bits: each weight and activation is rounded by up to 2^-9
  // (0.2%) relative, and the rounding of two layers' products, norms and residual sums adds up
  // to about 1% of the logits' spread (measured: see the report below). The bound, 4% of the
  // largest float32 logit, fails for a model that does not compute what float32 does (a wrong
  // rotary table or mask dtype is off by tens of percent) and passes rounding.
  const double scale = expected.abs().max().item<double>();
  const double error = (got - expected).abs().max().item<double>();
  ASSERT_GT(scale, 1.0);
  EXPECT_LE(error, 0.04 * scale) << "largest logit " << scale;
  std::cout << "[ bfloat16 ] largest |logit| " << scale << ", largest difference " << error << " ("
            << 100.0 * error / scale << "%)\n";
  // The next-token distributions agree: KL(float32 || bfloat16) per position is small.
  const auto log_p = torch::log_softmax(expected, -1), log_q = torch::log_softmax(got, -1);
  const double kl = (log_p.exp() * (log_p - log_q)).sum(-1).mean().item<double>();
  EXPECT_LT(kl, 1e-3);

  // Decoding with the KV cache runs in bfloat16 too, and returns float32.
  auto cache = std::dynamic_pointer_cast<CausalLmImpl>(frozen)->newCache();
  torch::NoGradGuard no_grad;
  const auto cached = std::dynamic_pointer_cast<CausalLmImpl>(frozen)->forwardCached(tokens, cache);
  EXPECT_EQ(cached.scalar_type(), torch::kFloat);
  EXPECT_LE((cached - expected).abs().max().item<double>(), 0.04 * scale);
}

TEST(FrozenTeacher, GptInBFloat16IsCloseToFloat32WithHalfTheBytes) {
  expectCloseInBFloat16([] { return makeGpt(tinyGpt()); });
}

TEST(FrozenTeacher, LlamaInBFloat16IsCloseToFloat32WithHalfTheBytes) {
  expectCloseInBFloat16([] { return makeLlama(tinyLlama()); });
}

TEST(FrozenTeacher, ModelsThatComputeInFloat32OnlyAreRefused) {
  ModelConfig mlp;
  mlp.arch = "mlp";
  mlp.hidden = {8};
  Model classifier = buildModel(mlp, "init", /*input_shape=*/{1, 4, 4}, /*num_classes=*/3);
  try {
    freezeInDtype(*classifier, torch::kBFloat16);
    FAIL() << "a classifier was cast to bfloat16";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("float32 only"), std::string::npos) << e.what();
  }
}

TEST(FrozenTeacher, BadValuesOfTheKeyAreRefusedByName) {
  try {
    parseConfigWithOverrides("", {"task=lm", "teacher.arch=gpt", "student.arch=gpt", "teacher.dtype=float16"});
    FAIL() << "teacher.dtype=float16 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("teacher.dtype"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parseConfigWithOverrides("", {"task=lm", "teacher.arch=gpt", "student.arch=gpt", "teacher.dtype=bfloat16"})
                .teacher.dtype,
            "bfloat16");
  EXPECT_EQ(defaultConfig().teacher.dtype, "float32");
}

// Where the keys cannot apply, the config says so by key: the image task's models compute in
// float32 and have no blocks; a TorchScript teacher computes as exported.
TEST(FrozenTeacher, TheKeysAreRefusedWhereTheyCannotApply) {
  auto issueOf = [](const std::vector<std::string>& overrides) {
    try {
      parseConfigWithOverrides("", overrides);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(issueOf({"teacher.dtype=bfloat16"}).find("teacher.dtype: 'bfloat16' is for a language-model teacher; it "
                                                     "needs task: lm"),
            std::string::npos)
      << issueOf({"teacher.dtype=bfloat16"});
  EXPECT_NE(issueOf({"student.gradient_checkpointing=true"}).find("student.gradient_checkpointing"), std::string::npos);
  EXPECT_NE(issueOf({"task=lm", "teacher.arch=gpt", "student.arch=gpt", "teacher.source=torchscript:/tmp/t.pt",
                     "teacher.dtype=bfloat16"})
                .find("teacher.dtype: 'bfloat16': a TorchScript teacher"),
            std::string::npos);
  EXPECT_EQ(issueOf({"task=lm", "teacher.arch=gpt", "student.arch=gpt", "student.gradient_checkpointing=true",
                     "teacher.dtype=bfloat16"}),
            "(accepted)");
}

// teacher.dtype bfloat16 through a whole run: the teacher trains in float32 (phase 1), then the
// student learns from its bfloat16 copy; the student's loss falls.
TEST(FrozenTeacher, ADistillationRunWithABFloat16TeacherTrains) {
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto f = runLm(dir.path(), lmConfig(corpus, {"teacher.dtype=bfloat16", "train.epochs=4", "teacher.epochs=4",
                                                     "generation.eval_prompts=1"}));
  ASSERT_EQ(f.result.outcome, RunOutcome::Completed) << f.result.error;
  const auto& losses = f.series.at(metric_key::kStudentTrainLoss);
  ASSERT_GE(losses.size(), 4u);
  EXPECT_LT(losses.back().value, 0.6 * losses.front().value);
  EXPECT_LT(f.run.final_metrics.at(metric_key::kTokenKl), f.first(metric_key::kTokenKl));
  EXPECT_EQ(f.run.environment.at("teacher_dtype"), "bfloat16");
}

// train.autocast (bf16 autocast of the student's step, CUDA only): chosen on a CUDA device; on the
// CPU the run trains in float32, warns naming the key, and records it in its environment.
TEST(Autocast, IsChosenOnCudaAndNamedWhereItCannotApply) {
  class Logs : public TrainingObserver {
   public:
    void onLog(LogLevel, const std::string& message) override { lines += message + "\n"; }
    std::string lines;
  };
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const bool cuda = torch::cuda::is_available();
  const auto config = lmConfig(corpus, {"train.autocast=bf16", "teacher.epochs=1", "train.epochs=1",
                                        "generation.eval_prompts=0", cuda ? "device=cuda" : "device=cpu"});
  Logs logs;
  RunControl control;
  ExperimentRunner runner(config, (dir.path() / "lm.db").string(), logs, control);
  const int64_t id = runner.createRun();
  const RunResult result = runner.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  const auto environment = RunStore((dir.path() / "lm.db").string()).getRun(id)->environment;
  if (cuda) {
    EXPECT_EQ(environment.at("autocast"), "bf16");
    EXPECT_EQ(logs.lines.find("train.autocast"), std::string::npos) << logs.lines;
  } else {
    EXPECT_EQ(environment.at("autocast"), "off (CUDA only; float32 on the CPU)");
    EXPECT_NE(logs.lines.find("train.autocast: bf16 applies on CUDA only; this run's device is cpu"), std::string::npos)
        << logs.lines;
  }
}

}  // namespace
}  // namespace distill
