#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/losses/chunked_loss.h"
#include "core/tasks/lm/gpt.h"
#include "support/loss_test_support.h"

namespace distill {
namespace {

using testing::f64;

// Random [2, 37, 11] student and teacher logits with labels: 74 rows, chunks that do not divide them.
LossInputs sequenceInputs() {
  torch::manual_seed(5);
  LossInputs in;
  in.student_logits = torch::randn({2, 37, 11}, f64()) * 2.0;
  in.teacher_logits = torch::randn({2, 37, 11}, f64()) * 3.0;
  in.targets = torch::randint(0, 11, {2, 37}, torch::kInt64);
  return in;
}

struct Result {
  LossTerms terms;
  torch::Tensor gradient;
};

Result whole(const DistillationLoss& loss, const LossInputs& in) {
  auto with_grad = in;
  with_grad.student_logits = in.student_logits.detach().clone().requires_grad_(true);
  Result r{loss.compute(with_grad), {}};
  r.terms.total.backward();
  r.gradient = with_grad.student_logits.grad();
  return r;
}

Result chunked(const DistillationLoss& loss, const LossInputs& in, int64_t chunk_rows) {
  auto with_grad = in;
  auto leaf = in.student_logits.detach().clone().requires_grad_(true);
  with_grad.student_logits = leaf * 1.0;  // not a leaf, as the model's output is
  Result r{computeInChunks(loss, with_grad, chunk_rows), {}};
  (r.terms.total * 3.0).backward();  // an outer factor (fp16 loss scaling) reaches the gradient
  r.gradient = leaf.grad() / 3.0;
  return r;
}

void expectSame(const DistillationLoss& loss, const LossInputs& in, const std::string& label) {
  const auto a = whole(loss, in);
  for (int64_t chunk : {1, 7, 16, 74, 500}) {
    const auto b = chunked(loss, in, chunk);
    EXPECT_NEAR(b.terms.total.item<double>(), a.terms.total.item<double>(), 1e-12) << label << " chunk " << chunk;
    EXPECT_NEAR(b.terms.kd.item<double>(), a.terms.kd.item<double>(), 1e-12) << label << " chunk " << chunk;
    EXPECT_NEAR(b.terms.ce.item<double>(), a.terms.ce.item<double>(), 1e-12) << label << " chunk " << chunk;
    EXPECT_TRUE(torch::allclose(b.gradient, a.gradient, 1e-10, 1e-12)) << label << " chunk " << chunk;
  }
}

TEST(ChunkedLoss, EveryLogitLossHasTheSameValueAndGradientInChunks) {
  const auto in = sequenceInputs();
  expectSame(HintonKdLoss(2.0, 0.9), in, "kd");
  expectSame(ReverseKlLoss(2.0, 0.5), in, "reverse_kl");
  expectSame(JsdLoss(1.0, 0.7, 0.3), in, "jsd");
  expectSame(SkewKlLoss(2.0, 0.9, 0.1, true), in, "skew_reverse_kl");
  expectSame(TvdLoss(2.0, 0.9), in, "tvd");
  expectSame(MseLogitsLoss(0.5), in, "mse_logits");
  expectSame(DkdLoss(2.0, 1.0, 8.0, 0.0), in, "dkd");
}

TEST(ChunkedLoss, TopKAccessAndACachedTopKAreChunkedAlongside) {
  auto in = sequenceInputs();
  in.access.mode = "topk";
  in.access.k = 3;
  expectSame(HintonKdLoss(2.0, 0.9), in, "topk access");
  // The teacher as its cached top 4 instead of logits.
  const auto top = torch::log_softmax(in.teacher_logits, -1).topk(4, -1);
  in.teacher_topk_log_probs = std::get<0>(top);
  in.teacher_topk_indices = std::get<1>(top);
  in.teacher_logits = torch::Tensor();
  expectSame(HintonKdLoss(2.0, 0.9), in, "cached top k");
}

TEST(ChunkedLoss, AGptStepHasTheSameGradientsInChunks) {
  // Through a real model: the gradient buffer overwrites the logits, which the head's backward
  // must not need.
  GptConfig config;
  config.vocab = 40, config.context = 8, config.layers = 1, config.heads = 2, config.d_model = 16, config.dropout = 0.0;
  torch::manual_seed(2);
  auto student = makeGpt(config), teacher = makeGpt(config);
  const auto tokens = torch::randint(0, 40, {3, 8}, torch::kInt64);
  const HintonKdLoss kd(2.0, 0.9);
  auto gradients = [&](int64_t threshold) {
    student->zero_grad();
    LossInputs in;
    in.student_logits = student->forward(tokens);
    {
      torch::NoGradGuard no_grad;
      in.teacher_logits = teacher->forward(tokens);
    }
    in.targets = tokens;
    computeLoss(kd, in, threshold).total.backward();
    std::vector<torch::Tensor> grads;
    for (const auto& p : student->parameters()) grads.push_back(p.grad().clone());
    return grads;
  };
  const auto whole_grads = gradients(kChunkedLossElements), chunked_grads = gradients(/*threshold=*/64);
  ASSERT_EQ(whole_grads.size(), chunked_grads.size());
  for (size_t i = 0; i < whole_grads.size(); ++i)
    EXPECT_TRUE(torch::allclose(whole_grads[i], chunked_grads[i], 1e-4, 1e-6)) << "parameter " << i;
}

TEST(ChunkedLoss, OnlyLargeLogitsAreChunked) {
  // Small: computeLoss is compute() itself (bit for bit); large: the chunked node.
  auto in = sequenceInputs();
  in.student_logits = in.student_logits.detach().requires_grad_(true);
  const HintonKdLoss kd(2.0, 0.9);
  EXPECT_EQ(computeLoss(kd, in).total.item<double>(), kd.compute(in).total.item<double>());
  EXPECT_EQ(computeLoss(kd, in).total.grad_fn()->name(), kd.compute(in).total.grad_fn()->name());
  // At a threshold of 512 elements the same 814-element logits go in chunks of 32 / 11 rows
  // (and, chunked, the logits are overwritten by their gradient: the value is taken first).
  const double expected = kd.compute(in).total.item<double>();
  const auto chunked_terms = computeLoss(kd, in, /*threshold=*/512);
  EXPECT_NE(chunked_terms.total.grad_fn()->name().find("ChunkedTotal"), std::string::npos)
      << chunked_terms.total.grad_fn()->name();
  EXPECT_NEAR(chunked_terms.total.item<double>(), expected, 1e-12);
}

}  // namespace
}  // namespace distill
