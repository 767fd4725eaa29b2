// Row and column access to packed matrices (copy_rows, copy_cols, rows_dot) against the stored values.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/kernels/gemm.h"
#include "core/kernels/rows.h"
#include "test_util.h"

using namespace lmdbg;
using namespace lmdbg::kernels;
using lmdbg::test::randn;

namespace {

// Weights like GPT-2's (N(0, 0.02)) plus some that are f16 subnormals.
std::vector<float> weights(int rows, int cols, uint32_t seed) {
  auto w = randn(static_cast<size_t>(rows) * cols, seed, 0.02f);
  for (size_t i = 0; i < w.size(); i += 37) w[i] = (i % 2 ? 1 : -1) * 3e-6f * static_cast<float>(1 + i % 5);
  return w;
}

}  // namespace

TEST(Rows, CopyRowsColsAndRowsDotMatchTheNaiveReference) {
  for (Storage s : {Storage::kF32, Storage::kF16})
    for (bool transposed : {false, true})
      for (auto [K, N] : {std::pair{37, 29}, std::pair{64, 48}, std::pair{300, 77}}) {
        const auto src = weights(transposed ? N : K, transposed ? K : N, K * 131 + N);
        const auto W = PackedMatrix::pack({src.data(), DType::kF32, transposed ? N : K, transposed ? K : N, transposed},
                                          nullptr, s);
        const std::string where = std::string(s == Storage::kF16 ? "f16 " : "f32 ") + (transposed ? "T " : "") +
                                  std::to_string(K) + "x" + std::to_string(N);
        if (s == Storage::kF16) ASSERT_FALSE(W.f16_subnormals().empty()) << where;
        // copy_rows over a sub-range equals at()
        const int k0 = 3, k1 = K - 2;
        std::vector<float> rows(static_cast<size_t>(k1 - k0) * (N + 5), -1.f);
        copy_rows(W, k0, k1, rows.data(), N + 5);
        for (int k = k0; k < k1; ++k)
          for (int n = 0; n < N; ++n) ASSERT_EQ(rows[(k - k0) * (N + 5) + n], W.at(k, n)) << where << " " << k << "," << n;
        // copy_cols over an unaligned range
        const int n0 = 5, n1 = N - 1;
        std::vector<float> cols(static_cast<size_t>(K) * (n1 - n0));
        copy_cols(W, n0, n1, cols.data(), n1 - n0);
        for (int k = 0; k < K; ++k)
          for (int n = n0; n < n1; ++n) ASSERT_EQ(cols[k * (n1 - n0) + (n - n0)], W.at(k, n)) << where;
        // rows_dot against a double-precision dot product of the stored values, several x at once
        for (int nx : {1, 3, 4, 6}) {
          auto x = randn(static_cast<size_t>(nx) * N, nx + K, 1.f);
          x[0] = 1e-12f;  // tiny and large inputs: the f16 pre-scaling must keep them exact
          if (nx > 1) x[N] = 300.f;
          std::vector<float> y(static_cast<size_t>(nx) * (K + 1), 0.f);
          rows_dot(W, x.data(), nx, N, y.data(), K + 1, 0, K);
          for (int j = 0; j < nx; ++j)
            for (int k = 0; k < K; ++k) {
              double want = 0, mag = 0;
              for (int n = 0; n < N; ++n) {
                want += static_cast<double>(W.at(k, n)) * x[j * N + n];
                mag += std::fabs(static_cast<double>(W.at(k, n)) * x[j * N + n]);
              }
              ASSERT_NEAR(y[j * (K + 1) + k], want, 1e-6 * mag + 1e-30) << where << " nx " << nx;
            }
        }
      }
}

TEST(Rows, BadRangesThrow) {
  const auto src = weights(16, 16, 1);
  const auto W = PackedMatrix::pack({src.data(), DType::kF32, 16, 16}, nullptr, Storage::kF32);
  float out[256];
  EXPECT_THROW(copy_rows(W, 3, 17, out, 16), Error);
  EXPECT_THROW(copy_cols(W, -1, 2, out, 16), Error);
  EXPECT_THROW(rows_dot(W, out, 1, 16, out, 16, 5, 2), Error);
}

