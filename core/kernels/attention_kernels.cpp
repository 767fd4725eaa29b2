#include "attention_kernels.h"

#include "simd.h"

namespace lmdbg::kernels {

namespace {

using S = simd::Native;
using V = S::V;
constexpr int W = S::W;

inline float hsum(V v) {
  alignas(32) float t[W];
  S::store(t, v);
  float r = 0.f;
  for (int i = 0; i < W; ++i) r += t[i];
  return r;
}

// Four keys at a time share each load of q; each key has its own accumulator.
inline void scores4(float* s, const float* q, const float* k, size_t ldk, int d, float scale) {
  V a0 = S::zero(), a1 = S::zero(), a2 = S::zero(), a3 = S::zero();
  const float *k0 = k, *k1 = k + ldk, *k2 = k + 2 * ldk, *k3 = k + 3 * ldk;
  int i = 0;
  for (; i + W <= d; i += W) {
    const V qv = S::load(q + i);
    a0 = S::madd(a0, qv, S::load(k0 + i));
    a1 = S::madd(a1, qv, S::load(k1 + i));
    a2 = S::madd(a2, qv, S::load(k2 + i));
    a3 = S::madd(a3, qv, S::load(k3 + i));
  }
  float r0 = hsum(a0), r1 = hsum(a1), r2 = hsum(a2), r3 = hsum(a3);
  for (; i < d; ++i) {
    r0 += q[i] * k0[i];
    r1 += q[i] * k1[i];
    r2 += q[i] * k2[i];
    r3 += q[i] * k3[i];
  }
  s[0] = r0 * scale;
  s[1] = r1 * scale;
  s[2] = r2 * scale;
  s[3] = r3 * scale;
}

inline float score1(const float* q, const float* k, int d) {
  V a0 = S::zero(), a1 = S::zero();
  int i = 0;
  for (; i + 2 * W <= d; i += 2 * W) {
    a0 = S::madd(a0, S::load(q + i), S::load(k + i));
    a1 = S::madd(a1, S::load(q + i + W), S::load(k + i + W));
  }
  float r = hsum(S::add(a0, a1));
  for (; i < d; ++i) r += q[i] * k[i];
  return r;
}

}  // namespace

void attn_scores(float* s, const float* q, const float* k, size_t ldk, int n, int d, float scale) {
  int j = 0;
  for (; j + 4 <= n; j += 4) scores4(s + j, q, k + j * ldk, ldk, d, scale);
  for (; j < n; ++j) s[j] = score1(q, k + j * ldk, d) * scale;
}

void attn_weighted_sum(float* o, const float* p, const float* v, size_t ldv, int n, int d) {
  // Columns in blocks of 4 vectors kept in registers across all n rows.
  constexpr int B = 4 * W;
  int i = 0;
  for (; i + B <= d; i += B) {
    V o0 = S::zero(), o1 = S::zero(), o2 = S::zero(), o3 = S::zero();
    const float* vp = v + i;
    for (int j = 0; j < n; ++j, vp += ldv) {
      const V pj = S::splat(p[j]);
      o0 = S::madd(o0, pj, S::load(vp));
      o1 = S::madd(o1, pj, S::load(vp + W));
      o2 = S::madd(o2, pj, S::load(vp + 2 * W));
      o3 = S::madd(o3, pj, S::load(vp + 3 * W));
    }
    S::store(o + i, o0);
    S::store(o + i + W, o1);
    S::store(o + i + 2 * W, o2);
    S::store(o + i + 3 * W, o3);
  }
  for (; i + W <= d; i += W) {
    V acc = S::zero();
    for (int j = 0; j < n; ++j) acc = S::madd(acc, S::splat(p[j]), S::load(v + j * ldv + i));
    S::store(o + i, acc);
  }
  for (; i < d; ++i) {
    float acc = 0.f;
    for (int j = 0; j < n; ++j) acc += p[j] * v[j * ldv + i];
    o[i] = acc;
  }
}

}  // namespace lmdbg::kernels
