// Shared pieces of the loss tests: hand computations in plain doubles, the common 2 x 3
// fixture, and the finite-difference gradient check every loss must pass.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/losses/loss.h"

namespace distill::testing {

inline torch::TensorOptions f64() { return torch::TensorOptions().dtype(torch::kFloat64); }

// softmax(v / T) of one row.
inline std::vector<double> handSoftmax(std::vector<double> v, double T) {
  const double m = *std::max_element(v.begin(), v.end());
  double z = 0;
  for (auto x : v) z += std::exp((x - m) / T);
  for (auto& x : v) x = std::exp((x - m) / T) / z;
  return v;
}

// KL(p || q) of two probability rows.
inline double handKl(const std::vector<double>& p, const std::vector<double>& q) {
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += p[i] * std::log(p[i] / q[i]);
  return sum;
}

// Cross-entropy of one row of logits with label y.
inline double handCe(const std::vector<double>& s, int y) { return -std::log(handSoftmax(s, 1.0)[y]); }

// The fixture's rows, for hand computations: teacher rows kT0, kT1, student rows kS0, kS1.
inline const std::vector<double> kT0{2.0, 0.5, -1.0}, kT1{0.1, 0.2, 3.0};
inline const std::vector<double> kS0{1.0, 1.5, -0.5}, kS1{-0.3, 0.4, 1.0};

// Two rows of three classes in float64, labels {label0, 2}.
inline LossInputs lossFixture(int64_t label0 = 0) {
  LossInputs in;
  in.teacher_logits = torch::tensor({2.0, 0.5, -1.0, 0.1, 0.2, 3.0}, f64()).reshape({2, 3});
  in.student_logits = torch::tensor({1.0, 1.5, -0.5, -0.3, 0.4, 1.0}, f64()).reshape({2, 3});
  in.targets = torch::tensor({label0, int64_t{2}}, torch::kInt64);
  return in;
}

// Autograd's gradient of loss.total with respect to the student's logits.
inline torch::Tensor studentGradient(const DistillationLoss& loss, const LossInputs& in) {
  auto with_grad = in;
  with_grad.student_logits = in.student_logits.detach().clone().requires_grad_(true);
  loss.compute(with_grad).total.backward();
  return with_grad.student_logits.grad();
}

// Central differences (h = 1e-6, float64) against autograd, element by element.
inline void expectGradientMatchesFiniteDifferences(const DistillationLoss& loss, const LossInputs& in,
                                                   const std::string& label = "", double tolerance = 1e-7) {
  const auto analytic = studentGradient(loss, in);
  const double h = 1e-6;
  for (int64_t i = 0; i < in.student_logits.numel(); ++i) {
    auto plus = in, minus = in;
    plus.student_logits = in.student_logits.detach().clone();
    minus.student_logits = in.student_logits.detach().clone();
    plus.student_logits.view({-1})[i] += h;
    minus.student_logits.view({-1})[i] -= h;
    const double numeric = (loss.compute(plus).total.item<double>() - loss.compute(minus).total.item<double>()) / (2 * h);
    EXPECT_NEAR(analytic.view({-1})[i].item<double>(), numeric, tolerance) << label << " element " << i;
  }
}

}  // namespace distill::testing
