// End-to-end tests of the TorchScript bridge to Python PyTorch: `distill export-model` over
// stored runs (its errors, and its output against the native model), a student exported
// from a real run loaded back with torch.jit.load in Python, and a teacher trained and
// scripted in Python distilled into a workbench student; for language models, an lm run's
// GPTs exported and read in Python with their tokenizer, and an exported GPT as the
// TorchScript teacher of another lm run. The Python parts need /usr/bin/python3 with torch
// (python3-torch) and skip without it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/script.h>

#include <algorithm>
#include <fstream>

#include "core/config/config.h"
#include "core/models/classifier.h"
#include "core/store/run_store.h"
#include "core/tasks/lm/stored_model.h"
#include "support/cli_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::CommandResult;
using testing::distillCli;
using testing::haveFashionMnist;
using testing::quote;
using testing::TempDir;

CommandResult python(const std::string& script, const std::string& args = "") {
  return testing::runCommand("/usr/bin/python3 " + quote(script) + " " + args);
}

bool pythonHasTorch() {
  static const bool available = testing::runCommand("/usr/bin/python3 -c 'import torch'").exit_code == 0;
  return available;
}

// ---- export-model over synthetic runs (no dataset, no Python) ------------------------------

// A stored run whose student checkpoint is a small MLP with known weights.
struct SyntheticRun {
  explicit SyntheticRun(bool record_input_shape = true) {
    ExperimentConfig config = defaultConfig();
    config.student.hidden = {16};
    config.student.activation = "gelu";
    if (!record_input_shape) {  // an older run: the shape comes from the dataset
      testing::writeToyIdxDataset(dir.path() / "toy", /*train_count=*/40, /*test_count=*/20, /*classes=*/10, /*gzip=*/false);
      config.dataset.name = "idx";
      config.dataset.path = (dir.path() / "toy").string();
    }
    torch::manual_seed(11);
    student = Classifier(config.student, std::vector<int64_t>{1, 28, 28}, 10);
    student->saveCheckpoint(dir.file("student.pt"));

    RunStore store(db);
    const int64_t id = store.createRun({"synthetic", toYaml(config), flatten(config), std::nullopt});
    std::map<std::string, std::string> environment{{"num_classes", "10"}};
    if (record_input_shape) environment["input_shape"] = "[1, 28, 28]";
    store.setEnvironment(id, environment);
    store.addOwnedCheckpoint(id, {"student", dir.file("student.pt"), /*step=*/40, /*epoch=*/2.0});
    store.finishRun(id, RunStatus::Completed);
  }

  TempDir dir;
  std::string db = dir.file("runs.db");
  Classifier student{nullptr};
};

void expectSameLogits(const std::string& exported_path, Classifier& native) {
  auto exported = torch::jit::load(exported_path);
  torch::NoGradGuard no_grad;
  native->eval();
  const auto inputs = torch::randn({5, 1, 28, 28});
  EXPECT_TRUE(torch::allclose(exported.forward({inputs}).toTensor(), native->forward(inputs), 1e-5, 1e-5));
}

TEST(ExportModelCli, WritesTheStoredStudentAsTorchScript) {
  SyntheticRun run;
  const std::string out = run.dir.file("student.ts");
  const auto result = distillCli("export-model 1 --out " + quote(out) + " --db " + quote(run.db));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("student of run 1"), std::string::npos) << result.err;
  expectSameLogits(out, run.student);
}

TEST(ExportModelCli, ARunWithoutARecordedInputShapeTakesItFromTheDataset) {
  SyntheticRun run(/*record_input_shape=*/false);
  const std::string out = run.dir.file("student.ts");
  const auto result = distillCli("export-model 1 --role student -o " + quote(out) + " --db " + quote(run.db));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  expectSameLogits(out, run.student);
}

TEST(ExportModelCli, ErrorsNameTheRunOrTheFileAndExit2) {
  SyntheticRun run;
  const std::string db = " --db " + quote(run.db);

  auto unknown = distillCli("export-model 7 --out " + quote(run.dir.file("x.ts")) + db);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("run 7"), std::string::npos) << unknown.err;

  auto no_teacher = distillCli("export-model 1 --role teacher --out " + quote(run.dir.file("x.ts")) + db);
  EXPECT_EQ(no_teacher.exit_code, 2);
  EXPECT_NE(no_teacher.err.find("run 1 has no teacher checkpoint"), std::string::npos) << no_teacher.err;

  auto unwritable = distillCli("export-model 1 --out /nonexistent-folder/student.ts" + db);
  EXPECT_EQ(unwritable.exit_code, 2);
  EXPECT_NE(unwritable.err.find("/nonexistent-folder/student.ts"), std::string::npos) << unwritable.err;

  std::filesystem::remove(run.dir.file("student.pt"));
  auto missing = distillCli("export-model 1 --out " + quote(run.dir.file("x.ts")) + db);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find(run.dir.file("student.pt")), std::string::npos) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(run.dir.file("x.ts")));

  EXPECT_EQ(distillCli("export-model 1" + db).exit_code, 2) << "--out is required";
  EXPECT_EQ(distillCli("export-model 1 --role coach --out x.ts" + db).exit_code, 2);
}

// ---- Python PyTorch on both sides of a real run ------------------------------------------

// Fashion-MNIST the way a researcher reads it in Python, normalised like the workbench.
const char* kFashionMnistPy = R"(import gzip, struct, torch
ROOT = "/usr/share/datasets/fashion-mnist"

def idx(path, count):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = struct.unpack(">I", data[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)[:count]

def images(split, count):
    x = idx(f"{ROOT}/{split}-images-idx3-ubyte.gz", count).float()
    return ((x / 255 - 0.2860) / 0.3530).unsqueeze(1)

def labels(split, count):
    return idx(f"{ROOT}/{split}-labels-idx1-ubyte.gz", count).long()
)";

// Loads a TorchScript file as a Python user would and reports its test-subset predictions.
const char* kEvaluatePy = R"(import json, sys, torch
from fashion_mnist import images, labels
torch.set_num_threads(1)
model = torch.jit.load(sys.argv[1])
count = int(sys.argv[2])
x, y = images("t10k", count), labels("t10k", count)
was_training = model.training
model.eval()
with torch.no_grad():
    logits = model(x)
print(json.dumps({"shape": list(logits.shape), "accuracy": (logits.argmax(1) == y).float().mean().item(),
                  "was_training": was_training, "parameters": sum(p.numel() for p in model.parameters())}))
)";

// A small CNN written and trained in Python, saved as TorchScript.
const char* kTrainTeacherPy = R"(import sys, torch, torch.nn as nn, torch.nn.functional as F
from fashion_mnist import images, labels

class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.hidden = nn.Linear(8 * 14 * 14, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.out(F.relu(self.hidden(x.flatten(1))))

torch.set_num_threads(1)
torch.manual_seed(0)
count = int(sys.argv[2])
x, y = images("train", count), labels("train", count)
model = SmallCnn()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
for step in range(int(sys.argv[3])):
    batch = torch.randint(0, count, (64,))
    loss = F.cross_entropy(model(x[batch]), y[batch])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
model.eval()
torch.jit.script(model).save(sys.argv[1])
)";

const char* kSubset = "--set dataset.limit_train=5000 --set dataset.limit_test=1000";

class PythonInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    if (!pythonHasTorch()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch (install python3-torch)";
    std::ofstream(dir_.file("fashion_mnist.py")) << kFashionMnistPy;
    std::ofstream(dir_.file("evaluate.py")) << kEvaluatePy;
    std::ofstream(dir_.file("train_teacher.py")) << kTrainTeacherPy;
  }
  nlohmann::json evaluateInPython(const std::string& model_path, int count) {
    const auto result = python(dir_.file("evaluate.py"), quote(model_path) + " " + std::to_string(count));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.exit_code == 0 ? nlohmann::json::parse(result.out) : nlohmann::json();
  }
  TempDir dir_;
  std::string db_ = dir_.file("runs.db");
};

TEST_F(PythonInterop, AStudentExportedFromARunGivesTheStoredAccuracyInPython) {
  const auto trained = distillCli(std::string("run ") + kSubset +
                                  " --set teacher.epochs=2 --set train.epochs=2 --set teacher.hidden=[256]"
                                  " --set student.arch=cnn --set student.channels=[8] --set student.hidden=[32]"
                                  " --set student.dropout=0.1 --json --db " + quote(db_));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const auto run = nlohmann::json::parse(trained.out);

  for (const std::string role : {"student", "teacher"}) {
    const std::string out = dir_.file(role + ".ts");
    const auto exported = distillCli("export-model 1 --role " + role + " --out " + quote(out) + " --db " + quote(db_));
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    const auto evaluated = evaluateInPython(out, 1000);
    ASSERT_FALSE(evaluated.is_null());
    EXPECT_EQ(evaluated["shape"], nlohmann::json::array({1000, 10}));
    EXPECT_FALSE(evaluated["was_training"].get<bool>()) << "saved in eval mode";
    // The same images through the same weights: the accuracy the trainer stored, up to an
    // argmax tie or two from float rounding.
    const double stored = run["final"]["eval/" + role + "_acc"];
    RecordProperty(role + "_accuracy_python", std::to_string(evaluated["accuracy"].get<double>()));
    RecordProperty(role + "_accuracy_stored", std::to_string(stored));
    EXPECT_NEAR(evaluated["accuracy"].get<double>(), stored, 0.003) << role;
    EXPECT_GT(stored, 0.5) << role << " (chance is 0.1: the comparison means something)";
  }
}

TEST_F(PythonInterop, ATeacherTrainedInPythonDistilsIntoAWorkbenchStudent) {
  const std::string teacher = dir_.file("teacher.pt");
  const auto trained = python(dir_.file("train_teacher.py"), quote(teacher) + " 5000 400");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const auto teacher_eval = evaluateInPython(teacher, 1000);
  ASSERT_FALSE(teacher_eval.is_null());

  const auto distilled =
      distillCli(std::string("run ") + kSubset + " --set teacher.source=torchscript:" + quote(teacher) +
                 " --set train.epochs=3 --set student.hidden=[256] --json --db " + quote(db_));
  ASSERT_EQ(distilled.exit_code, 0) << distilled.err;
  const auto result = nlohmann::json::parse(distilled.out);
  EXPECT_EQ(result["status"], "completed");
  const double teacher_acc = result["final"]["eval/teacher_acc"];
  const double agreement = result["final"]["eval/agreement"];
  RecordProperty("teacher_accuracy", std::to_string(teacher_acc));
  RecordProperty("agreement", std::to_string(agreement));
  EXPECT_NEAR(teacher_acc, teacher_eval["accuracy"].get<double>(), 0.003) << "the workbench sees the Python teacher";
  EXPECT_GT(teacher_acc, 0.7);
  EXPECT_GT(agreement, 0.8);

  // Its teacher was never trained here, so there is no teacher checkpoint to export.
  const auto no_teacher = distillCli("export-model 1 --role teacher --out " + quote(dir_.file("t.ts")) + " --db " + quote(db_));
  EXPECT_EQ(no_teacher.exit_code, 2);
  EXPECT_NE(no_teacher.err.find("torchscript:"), std::string::npos) << no_teacher.err;
}

// ---- language models: export-model and TorchScript teachers ------------------------------

// Loads an exported GPT as a Python user would, encodes argv[2] with the tokenizer facts the
// module carries (docs/cli.md), and prints the logits of [text, text reversed].
const char* kLmLogitsPy = R"(import json, sys, torch
torch.set_num_threads(1)
model = torch.jit.load(sys.argv[1])
text = sys.argv[2]
if model.tokenizer == "byte":
    ids = list(text.encode("utf-8"))
else:
    ids = [model.alphabet.index(c) + 1 for c in text]
tokens = torch.tensor([ids, ids[::-1]], dtype=torch.int64)
with torch.no_grad():
    logits = model(tokens)
print(json.dumps({"training": model.training, "tokenizer": model.tokenizer, "vocab_size": model.vocab_size,
                  "context": model.context, "ids": ids, "shape": list(logits.shape),
                  "logits": logits.flatten().tolist()}))
)";

// Run 1: a tiny lm run with char tokens (a teacher of 2 epochs, a student of 1), its teacher
// exported once for the tests that distil from it.
class LmExport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::filesystem::create_directories(dir_->path() / "corpus");
    std::ofstream out(dir_->path() / "corpus" / "tiny");
    const char* animals[] = {"cat", "dog", "owl", "fox"};
    const char* places[] = {"mat", "log", "hill", "barn"};
    for (int i = 0; i < 120; ++i) out << "the " << animals[i % 4] << " sat on the " << places[(i / 4) % 4] << ".\n%\n";
    out.close();
    trained_ = new CommandResult(distillCli("run --json -q --db " + quote(db()) + " " + lmArgs("char") +
                                            " --set teacher.epochs=2 --set train.epochs=1"));
    if (trained_->exit_code == 0)
      exported_ = new CommandResult(distillCli("export-model 1 --role teacher --out " + quote(teacherFile()) +
                                               " --db " + quote(db())));
  }
  static void TearDownTestSuite() {
    delete exported_;
    delete trained_;
    delete dir_;
    exported_ = trained_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(trained_->exit_code, 0) << trained_->err;
    ASSERT_EQ(exported_->exit_code, 0) << exported_->err;
  }

  static std::string db() { return dir_->file("runs.db"); }
  static std::string teacherFile() { return dir_->file("teacher.ts"); }
  static std::string lmArgs(const std::string& tokenizer) {
    return "--set task=lm --set lm.corpus=" + quote((dir_->path() / "corpus").string()) + " --set lm.tokenizer=" +
           tokenizer +
           " --set lm.context=16 --set teacher.arch=gpt --set teacher.layers=1 --set teacher.heads=2"
           " --set teacher.d_model=32 --set student.arch=gpt --set student.layers=1 --set student.heads=1"
           " --set student.d_model=16 --set student.dropout=0.1 --set train.batch_size=16 --set train.optimizer=adamw"
           " --set train.lr=0.01 --set seed=1";
  }

  static TempDir* dir_;
  static CommandResult* trained_;
  static CommandResult* exported_;
};
TempDir* LmExport::dir_ = nullptr;
CommandResult* LmExport::trained_ = nullptr;
CommandResult* LmExport::exported_ = nullptr;

TEST_F(LmExport, PythonGetsTheWorkbenchsLogitsAndTokenizer) {
  if (!pythonHasTorch()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch (install python3-torch)";
  std::ofstream(dir_->file("lm_logits.py")) << kLmLogitsPy;
  const std::string text = "the owl sat on";
  for (const std::string role : {"student", "teacher"}) {
    const std::string out = dir_->file(role + "-export.ts");
    const auto exported = distillCli("export-model 1 --role " + role + " --out " + quote(out) + " --db " + quote(db()));
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    EXPECT_NE(exported.err.find(role + " of run 1"), std::string::npos) << exported.err;
    EXPECT_NE(exported.err.find("char tokens"), std::string::npos) << exported.err;

    const auto result = python(dir_->file("lm_logits.py"), quote(out) + " " + quote(text));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto answer = nlohmann::json::parse(result.out);

    // The workbench's own model and tokenizer, as `distill generate` loads them.
    RunStore store(db());
    StoredLm stored = loadStoredLm(store, 1, role);
    const auto ids = stored.tokenizer.encode(text);
    EXPECT_EQ(answer["ids"].get<std::vector<int64_t>>(), ids) << "Python encodes as the workbench does";
    EXPECT_EQ(answer["tokenizer"], "char");
    EXPECT_EQ(answer["vocab_size"], stored.tokenizer.vocabSize());
    EXPECT_EQ(answer["context"], 16);
    EXPECT_FALSE(answer["training"].get<bool>()) << "saved in eval mode";

    auto reversed = ids;
    std::reverse(reversed.begin(), reversed.end());
    const auto tokens = torch::stack({torch::tensor(ids), torch::tensor(reversed)});
    torch::NoGradGuard no_grad;
    const auto native = stored.model->forward(tokens);
    ASSERT_EQ(answer["shape"].get<std::vector<int64_t>>(), native.sizes().vec());
    const auto from_python = torch::tensor(answer["logits"].get<std::vector<float>>()).view(native.sizes());
    EXPECT_TRUE(torch::allclose(from_python, native, /*rtol=*/1e-5, /*atol=*/1e-5))
        << role << ": largest difference " << (from_python - native).abs().max().item<float>();
  }
}

TEST_F(LmExport, AnExportedTeacherIsTheTorchScriptTeacherOfAnotherRun) {
  const auto distilled = distillCli("run --json -q --db " + quote(db()) + " " + lmArgs("char") +
                                    " --set teacher.source=torchscript:" + quote(teacherFile()) +
                                    " --set train.epochs=1");
  ASSERT_EQ(distilled.exit_code, 0) << distilled.err;
  const auto result = nlohmann::json::parse(distilled.out);
  EXPECT_EQ(result["status"], "completed");
  // The same teacher on the same validation blocks: run 1's teacher perplexity.
  const auto first = nlohmann::json::parse(trained_->out);
  const double original = first["final"]["eval/teacher_ppl"], reloaded = result["final"]["eval/teacher_ppl"];
  EXPECT_NEAR(reloaded, original, 1e-4 * original);
  EXPECT_TRUE(result["final"].contains("eval/token_agreement")) << result["final"].dump();

  // Its teacher was never trained there: nothing to export, and the message names the file.
  const auto run_id = std::to_string(result["run_id"].get<int64_t>());
  const auto no_teacher = distillCli("export-model " + run_id + " --role teacher --out " +
                                     quote(dir_->file("again.ts")) + " --db " + quote(db()));
  EXPECT_EQ(no_teacher.exit_code, 2);
  EXPECT_NE(no_teacher.err.find("torchscript:" + teacherFile()), std::string::npos) << no_teacher.err;
}

TEST_F(LmExport, ATeacherOfAnotherVocabularyIsRefusedNamingBothSizes) {
  // The exported teacher speaks the corpus's characters; a byte run has 256 tokens.
  const auto refused = distillCli("run -q --db " + quote(db()) + " " + lmArgs("byte") +
                                  " --set teacher.source=torchscript:" + quote(teacherFile()));
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  RunStore store(db());
  const auto vocab = std::to_string(loadStoredLm(store, 1, "student").tokenizer.vocabSize());
  for (const auto& expected : std::vector<std::string>{"teacher.source: " + teacherFile(), "vocabulary mismatch",
                                                        "has " + vocab + " tokens", "the student's 256"})
    EXPECT_NE(refused.err.find(expected), std::string::npos) << expected << " in: " << refused.err;
}

}  // namespace
}  // namespace distill
