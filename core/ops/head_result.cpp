#include "head_result.h"

#include <algorithm>
#include <vector>

#include "core/kernels/rows.h"

namespace lmdbg::ops {

void head_result(float* out, const float* z, int ldz, const kernels::PackedMatrix& W_O, int T, int H, int dh) {
  const int d = W_O.N();
  thread_local std::vector<float> rows;
  rows.resize(static_cast<size_t>(dh) * d);
  for (int h = 0; h < H; ++h) {
    kernels::copy_rows(W_O, h * dh, (h + 1) * dh, rows.data(), d);
    for (int t = 0; t < T; ++t) {
      float* o = out + (static_cast<size_t>(t) * H + h) * d;
      const float* zt = z + static_cast<size_t>(t) * ldz + h * dh;
      std::fill(o, o + d, 0.f);
      for (int k = 0; k < dh; ++k) {  // k ascending, as the GEMM sums
        const float a = zt[k];
        const float* w = rows.data() + static_cast<size_t>(k) * d;
        for (int n = 0; n < d; ++n) o[n] += a * w[n];
      }
    }
  }
}

void sum_heads(float* attn_out, const float* result, const kernels::PackedMatrix& W_O, int T, int H) {
  const int d = W_O.N();
  for (int t = 0; t < T; ++t) {
    float* o = attn_out + static_cast<size_t>(t) * d;
    for (int n = 0; n < d; ++n) o[n] = 0.f;
    for (int h = 0; h < H; ++h) {
      const float* r = result + (static_cast<size_t>(t) * H + h) * d;
      for (int n = 0; n < d; ++n) o[n] += r[n];
    }
    for (int n = 0; n < d; ++n) o[n] += W_O.bias(n);
  }
}

}  // namespace lmdbg::ops
