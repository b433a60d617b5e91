#include "core/tasks/lm/torchscript_lm.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "core/errors.h"
#include "core/models/factory.h"
#include "core/models/torchscript_model.h"
#include "core/runtime/file_io.h"

namespace distill {

namespace {

// A TorchScript float literal: shortest round-trip digits, always with a '.' or an exponent.
std::string floatLiteral(double value) {
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

// Writes forward() for one GPT: the statements of gpt.cpp's GptImpl::run, block by block, on
// the parameters registered under the native names with dots as underscores
// ("h.0.attn.c_attn.weight" -> self.h_0_attn_c_attn_weight).
class GptWriter {
 public:
  GptWriter(const GptImpl& model, torch::jit::Module& module) : config_(model.config()) {
    for (const auto& p : model.named_parameters(/*recurse=*/true)) {
      const std::string name = underscored(p.key());
      module.register_parameter(name, p.value().detach().to(torch::kCPU).clone().requires_grad_(true),
                                /*is_buffer=*/false);
      names_[p.key()] = name;
    }
    for (const auto& m : model.named_modules(/*name_prefix=*/"", /*include_self=*/false))
      if (const auto* norm = m.value()->as<torch::nn::LayerNorm>()) eps_[m.key()] = norm->options.eps();
    // The mask is rebuilt rather than copied: it is a constant of the context, not a weight.
    const float minus_infinity = -std::numeric_limits<float>::infinity();
    module.register_buffer("causal_mask",
                           torch::triu(torch::full({config_.context, config_.context}, minus_infinity), /*diagonal=*/1));
  }

  std::string source() {
    const int64_t c = config_.d_model, heads = config_.heads;
    line("def forward(self, tokens: Tensor) -> Tensor:", 0);
    line("n = tokens.size(0)");
    line("t = tokens.size(1)");
    line("assert t <= self.context, \"tokens: {} positions; the model's context is {}\".format(t, self.context)");
    line(fmt::format("x = torch.embedding({}, tokens) + {}[:t]", self_("wte.weight"), self_("wpe.weight")));
    dropout("x");
    line("mask = self.causal_mask[:t, :t]");
    const double scale = 1.0 / std::sqrt(static_cast<double>(c / heads));
    for (int64_t i = 0; i < config_.layers; ++i) {
      const std::string b = "h." + std::to_string(i) + ".";
      line(fmt::format("# block {}: x + attn(ln_1(x)), then x + mlp(ln_2(x))", i));
      layerNorm("y", "x", b + "ln_1");
      line(fmt::format("qkv = torch.linear(y, {}, {}).split({}, 2)", self_(b + "attn.c_attn.weight"),
                       self_(b + "attn.c_attn.bias"), c));
      for (int part = 0; part < 3; ++part)
        line(fmt::format("{} = qkv[{}].view(n, t, {}, {}).transpose(1, 2)", "qkv"[part], part, heads, c / heads));
      line(fmt::format("a = torch.matmul(q, k.transpose(-2, -1)) * {} + mask", floatLiteral(scale)));
      line("a = torch.softmax(a, -1)");
      dropout("a");
      line(fmt::format("y = torch.matmul(a, v).transpose(1, 2).contiguous().view(n, t, {})", c));
      line(fmt::format("y = torch.linear(y, {}, {})", self_(b + "attn.c_proj.weight"), self_(b + "attn.c_proj.bias")));
      dropout("y");
      line("x = x + y");
      layerNorm("y", "x", b + "ln_2");
      line(fmt::format("y = torch.gelu(torch.linear(y, {}, {}), approximate='{}')", self_(b + "mlp.c_fc.weight"),
                       self_(b + "mlp.c_fc.bias"), config_.gelu == GeluKind::Tanh ? "tanh" : "none"));
      line(fmt::format("y = torch.linear(y, {}, {})", self_(b + "mlp.c_proj.weight"), self_(b + "mlp.c_proj.bias")));
      dropout("y");
      line("x = x + y");
    }
    layerNorm("x", "x", "ln_f");
    line(fmt::format("return torch.linear(x, {})", self_("wte.weight")) + "  # the head tied to the embedding");
    return body_;
  }

 private:
  static std::string underscored(std::string name) {
    for (auto& ch : name)
      if (ch == '.') ch = '_';
    return name;
  }
  // The registered parameter of a native name; a name the GPT does not have is a bug here.
  std::string self_(const std::string& native) const {
    const auto it = names_.find(native);
    if (it == names_.end()) throw ModelError("cannot export the GPT as TorchScript: it has no parameter " + native);
    return "self." + it->second;
  }
  void line(const std::string& text, int indent = 1) { body_ += std::string(4 * indent, ' ') + text + "\n"; }
  void layerNorm(const std::string& out, const std::string& in, const std::string& native) {
    line(fmt::format("{} = torch.layer_norm({}, [{}], {}, {}, {})", out, in, config_.d_model, self_(native + ".weight"),
                     self_(native + ".bias"), floatLiteral(eps_.at(native))));
  }
  // Dropout as the native model's FastDropout: active after .train() only.
  void dropout(const std::string& v) {
    if (config_.dropout > 0)
      line(fmt::format("{0} = torch.dropout({0}, {1}, self.training)", v, floatLiteral(config_.dropout)));
  }

  GptConfig config_;
  std::map<std::string, std::string> names_;  // native parameter name -> attribute name
  std::map<std::string, double> eps_;         // LayerNorm module name -> eps
  std::string body_;
};

// The attributes toTorchScript() writes, when a module has them: another vocabulary size
// (said before a probe would fail on an id outside it), or another tokenizer, whose ids mean
// other things even at the same size: its kind, its char alphabet, then its fingerprint where
// it has one (two BPE or SentencePiece tokenizers).
void checkTokenizer(const torch::jit::Module& module, const Tokenizer& tokenizer, const std::string& path) {
  auto attribute = [&](const char* name) { return module.hasattr(name) ? module.attr(name) : c10::IValue(); };
  const auto vocab = attribute("vocab_size");
  if (vocab.isInt() && vocab.toInt() != tokenizer.vocabSize())
    throw ModelError(path + ": vocabulary mismatch: the teacher's vocabulary has " + std::to_string(vocab.toInt()) +
                     " tokens (its vocab_size), the student's " + std::to_string(tokenizer.vocabSize()) +
                     " (lm.tokenizer " + tokenizer.spec() + ")");
  const auto kind = attribute("tokenizer");
  if (!kind.isString()) return;
  const auto described = attribute("tokenizer_description");
  if (kind.toStringRef() != tokenizer.kind())
    throw ModelError(path + " was exported with " + kind.toStringRef() + " tokens" +
                     (described.isString() && kind.toStringRef() != "byte" && kind.toStringRef() != "char"
                          ? " (" + described.toStringRef() + ")"
                          : "") +
                     "; this run's lm.tokenizer is " + tokenizer.spec() +
                     (tokenizer.isModel() ? " (" + tokenizer.describe() + ")" : ""));
  const auto alphabet = attribute("alphabet");
  if (kind.toStringRef() == "char" && alphabet.isString() && alphabet.toStringRef() != tokenizer.alphabet())
    throw ModelError(path +
                     " was exported with another char alphabet (another corpus); its token ids would mean other "
                     "characters in this run's corpus");
  // Same kind, same alphabet: the fingerprint tells models' tokenizers apart.
  const auto fingerprint = attribute("tokenizer_fingerprint");
  if (fingerprint.isString() && fingerprint.toStringRef() != tokenizer.fingerprint()) {
    throw ModelError(path + " was exported with another tokenizer: " +
                     (described.isString() ? described.toStringRef() : kind.toStringRef()) + " (fingerprint " +
                     fingerprint.toStringRef() + "); this run's lm.tokenizer " + tokenizer.spec() + " is " +
                     tokenizer.describe() + " (fingerprint " + tokenizer.fingerprint() +
                     "). Teacher and student must tokenize alike: distilling across tokenizers is not supported");
  }
}

}  // namespace

torch::jit::Module toTorchScript(const GptImpl& model, const Tokenizer& tokenizer) {
  const GptConfig& config = model.config();
  if (config.vocab != tokenizer.vocabSize())
    throw ModelError("cannot export the GPT: its vocabulary has " + std::to_string(config.vocab) + " tokens, the " +
                     tokenizer.spec() + " tokenizer's " + std::to_string(tokenizer.vocabSize()));
  torch::jit::Module module("DistillGpt");
  // A module built from C++ has no `training` flag until one is registered (forward() reads it
  // for dropout; Python's .train()/.eval() set it).
  module.register_attribute("training", c10::BoolType::get(), false);
  module.register_attribute("tokenizer", c10::StringType::get(), tokenizer.kind());
  module.register_attribute("vocab_size", c10::IntType::get(), config.vocab);
  module.register_attribute("context", c10::IntType::get(), config.context);
  module.register_attribute("separator_id", c10::IntType::get(), tokenizer.separator());
  module.register_attribute("alphabet", c10::StringType::get(), tokenizer.alphabet());
  module.register_attribute("tokenizer_fingerprint", c10::StringType::get(), tokenizer.fingerprint());
  module.register_attribute("tokenizer_description", c10::StringType::get(), tokenizer.describe());
  GptWriter writer(model, module);
  const std::string source = writer.source();
  try {
    module.define(source);
  } catch (const std::exception& e) {  // a bug in the writer, not in the user's input
    throw ModelError(std::string("generated TorchScript does not compile: ") + e.what() + "\n" + source);
  }
  module.eval();
  return module;
}

void exportTorchScript(const GptImpl& model, const Tokenizer& tokenizer, const std::string& path) {
  auto module = toTorchScript(model, tokenizer);
  try {
    std::ostringstream bytes;
    module.save(bytes);  // in memory: see core/runtime/file_io.h for why not to the file
    writeWholeFile(path, bytes.str());
  } catch (const c10::Error& e) {
    throw ModelError(path + ": cannot write TorchScript module (" +
                     std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  } catch (const std::exception& e) {
    throw ModelError(path + ": cannot write TorchScript module (" + std::string(e.what()).substr(0, 200) + ")");
  }
}

Model loadTorchScriptTeacher(const std::string& source, const Tokenizer& tokenizer, int64_t context) {
  const std::string path = torchScriptPath(source);
  const int64_t vocab = tokenizer.vocabSize();
  TorchScriptProbe probe;
  // Two sequences of the full context, every id a valid one.
  probe.inputs = torch::arange(2 * context, torch::kInt64).remainder(vocab).view({2, context});
  const std::string vocabulary = "lm.tokenizer " + tokenizer.spec() + ": " + std::to_string(vocab) + " tokens";
  probe.inputs_words = "int64 token ids [N, T] in [0, " + std::to_string(vocab) + ") (" + vocabulary +
                       "), T up to lm.context " + std::to_string(context);
  probe.inspect = [&](const torch::jit::Module& module) { checkTokenizer(module, tokenizer, path); };
  probe.check = [&](const torch::Tensor& output) -> std::string {
    const bool positions_fit = output.dim() == 3 && output.size(0) == 2 && output.size(1) == context;
    if (positions_fit && output.size(2) == vocab) return "";
    const std::string expected = "expected [N, T, V] logits, [2, " + std::to_string(context) + ", " +
                                 std::to_string(vocab) + "] here";
    if (positions_fit)
      return expected + " (vocabulary mismatch: the teacher's vocabulary has " + std::to_string(output.size(2)) +
             " tokens, the student's " + std::to_string(vocab) + ", " + vocabulary + ")";
    return expected + " (V: " + vocabulary + ")";
  };
  std::shared_ptr<TorchScriptModelImpl> model;
  try {
    model = std::make_shared<TorchScriptModelImpl>(path, probe);
  } catch (const ModelError& e) {
    throw ModelError("teacher.source: " + std::string(e.what()));
  }
  return model;
}

}  // namespace distill
