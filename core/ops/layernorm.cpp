#include "layernorm.h"

#include <algorithm>
#include <cmath>

#include "core/kernels/parallel.h"

namespace lmdbg::ops {

namespace {

void layernorm_rows(float* out, const float* inp, const float* g, const float* b, int t0, int t1, int C, float eps) {
  for (int t = t0; t < t1; ++t) {
    const float* x = inp + static_cast<size_t>(t) * C;
    float* y = out + static_cast<size_t>(t) * C;
    // Two passes in double: C is small (<= a few thousand) and this keeps the lens exact.
    double mean = 0;
    for (int i = 0; i < C; ++i) mean += x[i];
    mean /= C;
    double var = 0;
    for (int i = 0; i < C; ++i) {
      const double dx = x[i] - mean;
      var += dx * dx;
    }
    var /= C;
    const float rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int i = 0; i < C; ++i) y[i] = (x[i] - m) * rstd * g[i] + b[i];
  }
}

// Rows per parallel task: enough work (~2^13 elements, tens of microseconds) to pay for a fork-join.
constexpr int kMinElements = 1 << 13;

}  // namespace

// Rows are independent: split over the threads (kernels::parallel_for), bitwise the same results.
void layernorm(float* out, const float* inp, const float* g, const float* b, int T, int C, float eps) {
  const int rows = std::max(1, kMinElements / std::max(C, 1));
  const int tasks = (T + rows - 1) / rows;
  if (tasks <= 1) {
    layernorm_rows(out, inp, g, b, 0, T, C, eps);
    return;
  }
  kernels::parallel_for(tasks, [&](int i) { layernorm_rows(out, inp, g, b, i * rows, std::min(T, (i + 1) * rows), C, eps); });
}

}  // namespace lmdbg::ops
