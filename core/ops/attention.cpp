#include "attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace lmdbg::ops {

void attention_forward(float* out, float* pattern, const float* q, int ldq, const float* k, const float* v, int ldkv,
                       int T, int P, int H, int dh) {
  const int S = P + T;
  const float scale = 1.f / std::sqrt(static_cast<float>(dh));
  std::vector<float> w(S);
  const int d = H * dh;
  for (int h = 0; h < H; ++h) {
    for (int t = 0; t < T; ++t) {
      const float* qt = q + static_cast<size_t>(t) * ldq + h * dh;
      const int n = P + t + 1;
      float mx = -INFINITY;
      for (int s = 0; s < n; ++s) {
        const float* ks = k + static_cast<size_t>(s) * ldkv + h * dh;
        float dot = 0;
        for (int i = 0; i < dh; ++i) dot += qt[i] * ks[i];
        w[s] = dot * scale;
        mx = std::max(mx, w[s]);
      }
      float sum = 0;
      for (int s = 0; s < n; ++s) {
        w[s] = std::exp(w[s] - mx);
        sum += w[s];
      }
      const float inv = 1.f / sum;
      for (int s = 0; s < n; ++s) w[s] *= inv;
      float* o = out + static_cast<size_t>(t) * d + h * dh;
      std::fill(o, o + dh, 0.f);
      for (int s = 0; s < n; ++s) {
        const float* vs = v + static_cast<size_t>(s) * ldkv + h * dh;
        const float ws = w[s];
        for (int i = 0; i < dh; ++i) o[i] += ws * vs[i];
      }
      if (pattern) {
        float* p = pattern + (static_cast<size_t>(h) * T + t) * S;
        std::copy(w.begin(), w.begin() + n, p);
        std::fill(p + n, p + S, 0.f);
      }
    }
  }
}

}  // namespace lmdbg::ops
