// Vectorised exp / softmax / logsumexp sums / GELU (vmath.h). One algorithm, three back-ends.
#include "vmath.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define LMDBG_VMATH_AVX2 1
#endif

namespace lmdbg::kernels {

namespace {

// Cephes expf: e^x = 2^n * e^r, n = round(x / ln 2), r = x - n ln 2 (ln 2 in two parts, exact
// first product), e^r ~ 1 + r + r^2 P(r).
constexpr float kExpHi = 88.0f;            // e^88 = 1.65e38: 2^n stays finite (n <= 127)
constexpr float kExpLo = -87.3365447504f;  // below: the result would be subnormal; returns 0
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kC1 = 0.693359375f;
constexpr float kC2 = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500E-4f, kP1 = 1.3981999507E-3f, kP2 = 8.3334519073E-3f, kP3 = 4.1665795894E-2f,
                kP4 = 1.6666665459E-1f, kP5 = 5.0000001201E-1f;
constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluA = 0.044715f;

struct ScalarOps {
  using V = float;
  static constexpr int W = 1;
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V splat(float x) { return x; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  // NaN-propagating clamps (a NaN input stays NaN).
  static V min_c(V x, float c) { return std::isnan(x) ? x : (x < c ? x : c); }
  static V max_c(V x, float c) { return std::isnan(x) ? x : (x > c ? x : c); }
  // a < b ? b : a (std::max semantics: a NaN b is ignored)
  static V pmax(V a, V b) { return a < b ? b : a; }
  static V round(V x) { return std::nearbyint(x); }
  static V pow2(V n) {  // 2^n for integral n in [-126, 127]; NaN stays NaN (converting it to int is UB)
    if (std::isnan(n)) return n;
    const int32_t i = (static_cast<int32_t>(n) + 127) << 23;
    float f;
    std::memcpy(&f, &i, 4);
    return f;
  }
  static V zero_below(V y, V x, float lo) { return x < lo ? 0.f : y; }
  static float hmax(V v) { return v; }
  static float hsum(V v) { return v; }
};

#if defined(__wasm_simd128__)
struct Ops {
  using V = v128_t;
  static constexpr int W = 4;
  static V load(const float* p) { return wasm_v128_load(p); }
  static void store(float* p, V v) { wasm_v128_store(p, v); }
  static V splat(float x) { return wasm_f32x4_splat(x); }
  static V add(V a, V b) { return wasm_f32x4_add(a, b); }
  static V sub(V a, V b) { return wasm_f32x4_sub(a, b); }
  static V mul(V a, V b) { return wasm_f32x4_mul(a, b); }
  static V div(V a, V b) { return wasm_f32x4_div(a, b); }
  static V min_c(V x, float c) { return wasm_f32x4_min(x, wasm_f32x4_splat(c)); }  // wasm min/max propagate NaN
  static V max_c(V x, float c) { return wasm_f32x4_max(x, wasm_f32x4_splat(c)); }
  static V pmax(V a, V b) { return wasm_f32x4_pmax(a, b); }
  static V round(V x) { return wasm_f32x4_nearest(x); }
  static V pow2(V n) {
    return wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  }
  static V zero_below(V y, V x, float lo) {
    return wasm_v128_andnot(y, wasm_f32x4_lt(x, wasm_f32x4_splat(lo)));
  }
  static float hmax(V v) {
    float t[4];
    wasm_v128_store(t, v);
    float m = t[0];
    for (int i = 1; i < 4; ++i) m = m < t[i] ? t[i] : m;
    return m;
  }
  static float hsum(V v) {
    float t[4];
    wasm_v128_store(t, v);
    return (t[0] + t[1]) + (t[2] + t[3]);
  }
};
#elif defined(LMDBG_VMATH_AVX2)
struct Ops {
  using V = __m256;
  static constexpr int W = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V splat(float x) { return _mm256_set1_ps(x); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  // x86 min/max return the second operand when either is NaN: put x second to keep a NaN.
  static V min_c(V x, float c) { return _mm256_min_ps(_mm256_set1_ps(c), x); }
  static V max_c(V x, float c) { return _mm256_max_ps(_mm256_set1_ps(c), x); }
  static V pmax(V a, V b) { return _mm256_max_ps(b, a); }  // b > a ? b : a; NaN b -> a
  static V round(V x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V pow2(V n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }
  static V zero_below(V y, V x, float lo) {
    return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(lo), _CMP_LT_OQ), y);
  }
  static float hmax(V v) {
    alignas(32) float t[8];
    _mm256_store_ps(t, v);
    float m = t[0];
    for (int i = 1; i < 8; ++i) m = m < t[i] ? t[i] : m;
    return m;
  }
  static float hsum(V v) {
    alignas(32) float t[8];
    _mm256_store_ps(t, v);
    return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
  }
};
#else
using Ops = ScalarOps;
#endif

template <class O>
inline typename O::V vexp(typename O::V x0) {
  using V = typename O::V;
  V x = O::max_c(O::min_c(x0, kExpHi), kExpLo);
  const V n = O::round(O::mul(x, O::splat(kLog2e)));
  V r = O::sub(x, O::mul(n, O::splat(kC1)));
  r = O::sub(r, O::mul(n, O::splat(kC2)));
  V p = O::splat(kP0);
  p = O::add(O::mul(p, r), O::splat(kP1));
  p = O::add(O::mul(p, r), O::splat(kP2));
  p = O::add(O::mul(p, r), O::splat(kP3));
  p = O::add(O::mul(p, r), O::splat(kP4));
  p = O::add(O::mul(p, r), O::splat(kP5));
  const V y = O::add(O::add(O::mul(O::mul(p, r), r), r), O::splat(1.f));
  return O::zero_below(O::mul(y, O::pow2(n)), x0, kExpLo);
}

template <class O>
inline typename O::V vgelu(typename O::V x) {
  using V = typename O::V;
  const V x3 = O::mul(O::mul(x, x), x);
  const V m2u = O::mul(O::splat(-2.f * kGeluC), O::add(x, O::mul(O::splat(kGeluA), x3)));  // -2u
  return O::div(x, O::add(O::splat(1.f), vexp<O>(m2u)));
}

}  // namespace

float exp_poly(float x) { return vexp<ScalarOps>(x); }

void exp_f32(float* y, const float* x, size_t n) {
  constexpr int W = Ops::W;
  size_t i = 0;
  for (; i + W <= n; i += W) Ops::store(y + i, vexp<Ops>(Ops::load(x + i)));
  for (; i < n; ++i) y[i] = exp_poly(x[i]);
}

float max_f32(const float* x, size_t n) {
  constexpr int W = Ops::W;
  float m = -std::numeric_limits<float>::infinity();
  size_t i = 0;
  if (n >= static_cast<size_t>(4 * W)) {
    using V = Ops::V;
    V a0 = Ops::splat(m), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 4 * W <= n; i += 4 * W) {
      a0 = Ops::pmax(a0, Ops::load(x + i));
      a1 = Ops::pmax(a1, Ops::load(x + i + W));
      a2 = Ops::pmax(a2, Ops::load(x + i + 2 * W));
      a3 = Ops::pmax(a3, Ops::load(x + i + 3 * W));
    }
    m = Ops::hmax(Ops::pmax(Ops::pmax(a0, a1), Ops::pmax(a2, a3)));
  }
  for (; i < n; ++i) m = m < x[i] ? x[i] : m;
  return m;
}

double sum_exp_f64(const float* x, size_t n, float shift) {
  constexpr int W = Ops::W;
  size_t i = 0;
  double s = 0;
#if defined(__wasm_simd128__)
  const v128_t sh = wasm_f32x4_splat(shift);
  v128_t s0 = wasm_f64x2_splat(0), s1 = s0;
  for (; i + 4 <= n; i += 4) {
    const v128_t e = vexp<Ops>(wasm_f32x4_sub(wasm_v128_load(x + i), sh));
    s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(e));
    s1 = wasm_f64x2_add(s1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(e, e, 2, 3, 0, 1)));
  }
  const v128_t t = wasm_f64x2_add(s0, s1);
  s = wasm_f64x2_extract_lane(t, 0) + wasm_f64x2_extract_lane(t, 1);
#elif defined(LMDBG_VMATH_AVX2)
  const __m256 sh = _mm256_set1_ps(shift);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  for (; i + W <= n; i += W) {
    const __m256 e = vexp<Ops>(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double t[4];
  _mm256_store_pd(t, _mm256_add_pd(s0, s1));
  s = (t[0] + t[1]) + (t[2] + t[3]);
#endif
  (void)W;
  for (; i < n; ++i) s += exp_poly(x[i] - shift);
  return s;
}

void softmax_f32(float* x, size_t n) {
  if (n == 0) return;
  constexpr int W = Ops::W;
  const float mx = max_f32(x, n);
  size_t i = 0;
  float sum = 0.f;
  if (n >= static_cast<size_t>(W)) {
    using V = Ops::V;
    const V sh = Ops::splat(mx);
    V acc = Ops::splat(0.f);
    for (; i + W <= n; i += W) {
      const V e = vexp<Ops>(Ops::sub(Ops::load(x + i), sh));
      Ops::store(x + i, e);
      acc = Ops::add(acc, e);
    }
    sum = Ops::hsum(acc);
  }
  for (; i < n; ++i) {
    x[i] = exp_poly(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.f / sum;
  i = 0;
  for (; i + W <= n; i += W) Ops::store(x + i, Ops::mul(Ops::load(x + i), Ops::splat(inv)));
  for (; i < n; ++i) x[i] *= inv;
}

void gelu_tanh_f32(float* y, const float* x, size_t n) {
  constexpr int W = Ops::W;
  size_t i = 0;
  for (; i + W <= n; i += W) Ops::store(y + i, vgelu<Ops>(Ops::load(x + i)));
  for (; i < n; ++i) y[i] = vgelu<ScalarOps>(x[i]);
}

}  // namespace lmdbg::kernels
