#include "layernorm.h"

#include <cmath>

namespace lmdbg::ops {

void layernorm(float* out, const float* inp, const float* g, const float* b, int T, int C, float eps) {
  for (int t = 0; t < T; ++t) {
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

}  // namespace lmdbg::ops
