// Vectorised math (exp, softmax, logsumexp sums, GELU) against libm and the formulas in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/kernels/vmath.h"
#include "test_util.h"

using namespace lmdbg;
using namespace lmdbg::kernels;

namespace {

using lmdbg::test::randn;

double rel_err(double got, double want) { return std::fabs(got - want) / std::max(std::fabs(want), 1e-300); }

}  // namespace

TEST(VMath, ExpMatchesLibm) {
  std::vector<float> x;
  for (float v = -87.f; v <= 88.f; v += 0.0137f) x.push_back(v);
  for (float v : {0.f, -0.f, 1e-8f, -1e-8f, 0.5f, -0.5f, 1.f, 10.f, -10.f}) x.push_back(v);
  std::vector<float> y(x.size());
  exp_f32(y.data(), x.data(), x.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    worst = std::max(worst, rel_err(y[i], std::exp(static_cast<double>(x[i]))));
    EXPECT_EQ(y[i], exp_poly(x[i])) << "vector and scalar exp differ at " << x[i];
  }
  EXPECT_LT(worst, 3e-7) << "about 2 ulp";
  const float odd[] = {-100.f, -88.f, -1e30f, -INFINITY, NAN, INFINITY};
  float out[6];
  exp_f32(out, odd, 6);
  EXPECT_EQ(out[0], 0.f);
  EXPECT_EQ(out[1], 0.f);
  EXPECT_EQ(out[2], 0.f);
  EXPECT_EQ(out[3], 0.f);
  EXPECT_TRUE(std::isnan(out[4]));
  EXPECT_GT(out[5], 1e38f);
}

TEST(VMath, SoftmaxMaxAndSumExp) {
  for (int n : {1, 3, 4, 7, 8, 17, 64, 1000, 50257}) {
    auto x = randn(n, n, 3.f);
    double mx = -INFINITY;
    for (float v : x) mx = std::max<double>(mx, v);
    EXPECT_EQ(max_f32(x.data(), n), static_cast<float>(mx)) << n;
    double s = 0;
    for (float v : x) s += std::exp(static_cast<double>(v) - mx);
    EXPECT_LT(rel_err(sum_exp_f64(x.data(), n, static_cast<float>(mx)), s), 1e-6) << n;
    std::vector<float> p = x;
    softmax_f32(p.data(), n);
    double worst = 0;
    for (int i = 0; i < n; ++i) worst = std::max(worst, std::fabs(p[i] - std::exp(x[i] - mx) / s));
    EXPECT_LT(worst, 1e-6) << n;
  }
  const float with_nan[] = {1.f, NAN, 3.f, 2.f, 0.f};
  EXPECT_EQ(max_f32(with_nan, 5), 3.f);  // NaN ignored, as std::max does
}

TEST(VMath, GeluMatchesTheTanhFormula) {
  std::vector<float> x;
  for (float v = -12.f; v <= 12.f; v += 0.00731f) x.push_back(v);
  for (float v : {0.f, 1e-30f, -1e-30f, 1e-6f, 100.f, -100.f, 1e10f}) x.push_back(v);
  std::vector<float> y(x.size());
  gelu_tanh_f32(y.data(), x.data(), x.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    const double want = 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    worst = std::max(worst, std::fabs(y[i] - want) / std::max(1.0, std::fabs(want)) );
    // Near gelu's minimum 1 + tanh(.) cancels: a few f32 ulps of relative error there.
    if (std::fabs(want) > 1e-3) EXPECT_LT(rel_err(y[i], want), 4e-6) << x[i];
  }
  EXPECT_LT(worst, 1e-6);
  const float n[] = {NAN};
  float o[1];
  gelu_tanh_f32(o, n, 1);
  EXPECT_TRUE(std::isnan(o[0]));
}

