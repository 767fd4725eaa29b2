// Internal: the three vector back-ends the GEMM microkernels are written against.
//
//   Scalar    float,   W = 1   (the __scalar twins; every platform)
//   WasmSimd  v128_t,  W = 4   (__wasm_simd128__: f32x4 mul + add, there is no FMA in wasm simd128;
//                               with -mrelaxed-simd, f32x4.relaxed_madd)
//   Avx2      __m256,  W = 8   (__AVX2__ && __FMA__: vfmadd)
//
// Each back-end provides load/store/splat/madd and the f16 weight decoder `load_f16_group`.
//
// f16 weights ("f16w") are stored in groups of 2*kF16Lanes halves in which column j and
// column j + kF16Lanes share one 32-bit word: [c0, cL, c1, cL+1, ..., cL-1, c2L-1]
// (L = kF16Lanes). Seen as i32 lanes, the low halves hold columns 0..L-1 and the high halves
// columns L..2L-1, so two integer ops per half-vector put every f16 in the top 16 bits of a
// 32-bit lane:   lo = v << 16,   hi = v (low half junk, cleared below).
// Then   bits = (lane >>arith 3) & 0x8FFFE000   is the f32 whose value is exactly
// f16 * 2^-112, for every finite f16 *including subnormals* (a subnormal f16 becomes an f32
// subnormal with the same mantissa bits). The arithmetic shift smears the sign into bits
// 30..28; the mask clears them and the 13 junk bits. Inf/NaN f16 are not representable this
// way (they would decode to 65536 * (1 + m)); PackedMatrix::pack rejects weights that round to them.
//
// x86 with F16C (the native build) instead stores groups of 16 halves in plain column order and
// decodes them exactly with vcvtph2ps (kF16Scaled = false: no pre-scaling, out_scale = 1).
//
// The 2^-112 is not multiplied back per weight: the GEMM driver pre-scales each row of A by a
// power of two 2^s chosen from max|a| of that row (so |a * 2^s| < 2^64), and the kernels
// multiply the accumulators by 2^(112 - s) once at the end. Power-of-two scaling is exact, so
// every product and partial sum is rounded exactly as in the unscaled computation, except for
// products below 2^-126 in scaled units (|a*w| < 2^-62 * max|a|), which lose bits as f32
// subnormals: an absolute error under 2^-150 * 2^(112-s), far below f32 rounding of the sum.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define LMDBG_KERNELS_AVX2 1
#endif

#if defined(__clang__)
#define LMDBG_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define LMDBG_UNROLL _Pragma("GCC unroll 32")
#else
#define LMDBG_UNROLL
#endif

namespace lmdbg::kernels::simd {

#if defined(LMDBG_KERNELS_AVX2) && defined(__F16C__)
#define LMDBG_KERNELS_F16C 1
inline constexpr bool kF16Scaled = false;  // exact decode (vcvtph2ps), plain column order
inline constexpr int kF16Lanes = 8;
#elif defined(LMDBG_KERNELS_AVX2)
inline constexpr bool kF16Scaled = true;
inline constexpr int kF16Lanes = 8;  // lanes of the f32 vector the decoder targets
#else
inline constexpr bool kF16Scaled = true;
inline constexpr int kF16Lanes = 4;
#endif
inline constexpr int kF16Group = 2 * kF16Lanes;  // halves per decode group
inline constexpr uint32_t kF16Mask = 0x8FFFE000u;
inline constexpr float kF16Scale = 0x1p112f;  // scaled-decoded bits * kF16Scale == the f16 value

// Position of column j (0 <= j < kF16Group) inside its f16 group.
constexpr int f16_group_pos(int j) {
  if (!kF16Scaled) return j;
  return j < kF16Lanes ? 2 * j : 2 * (j - kF16Lanes) + 1;
}

// One f16 (bits in the top half of a 32-bit word after the shift) -> f32 scaled by 2^-112.
inline float f16_scaled_decode(uint16_t h) {
  const int32_t w = static_cast<int32_t>(static_cast<uint32_t>(h) << 16);
  const uint32_t bits = static_cast<uint32_t>(w >> 3) & kF16Mask;  // C++20: >> is arithmetic
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

struct Scalar {
  using V = float;
  static constexpr int W = 1;
  static V zero() { return 0.f; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V splat(float x) { return x; }
  static V load_splat(const float* p) { return *p; }
  static V add(V a, V b) { return a + b; }
  static V mul(V a, V b) { return a * b; }
  static V madd(V acc, V a, V b) { return acc + a * b; }
  // out[0 .. kF16Group) in column order, scaled by 2^-112 if kF16Scaled.
  static void load_f16_group(const uint16_t* p, V* out) {
    for (int j = 0; j < kF16Group; ++j) {
      const uint16_t h = p[f16_group_pos(j)];
      if constexpr (kF16Scaled) {
        out[j] = f16_scaled_decode(h);
      } else {
        out[j] = f16_scaled_decode(h) * kF16Scale;  // exact, subnormals included
      }
    }
  }
};

#if defined(__wasm_simd128__)
struct WasmSimd {
  using V = v128_t;
  static constexpr int W = 4;
  static V zero() { return wasm_f32x4_const_splat(0.f); }
  static V load(const float* p) { return wasm_v128_load(p); }
  static void store(float* p, V v) { wasm_v128_store(p, v); }
  static V splat(float x) { return wasm_f32x4_splat(x); }
  static V load_splat(const float* p) { return wasm_v128_load32_splat(p); }
  static V add(V a, V b) { return wasm_f32x4_add(a, b); }
  static V mul(V a, V b) { return wasm_f32x4_mul(a, b); }
#if defined(__wasm_relaxed_simd__)
  // The relaxed build (docs/TOOLCHAIN.md): one rounding where the CPU has FMA (x86 with FMA, arm64).
  static V madd(V acc, V a, V b) { return wasm_f32x4_relaxed_madd(a, b, acc); }
#else
  static V madd(V acc, V a, V b) { return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b)); }
#endif
  static void load_f16_group(const uint16_t* p, V* out) {
    const v128_t v = wasm_v128_load(p);
    const v128_t mask = wasm_i32x4_const_splat(static_cast<int32_t>(kF16Mask));
    out[0] = wasm_v128_and(wasm_i32x4_shr(wasm_i32x4_shl(v, 16), 3), mask);
    out[1] = wasm_v128_and(wasm_i32x4_shr(v, 3), mask);
  }
};
#endif

#if defined(LMDBG_KERNELS_AVX2)
struct Avx2 {
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V splat(float x) { return _mm256_set1_ps(x); }
  static V load_splat(const float* p) { return _mm256_broadcast_ss(p); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V madd(V acc, V a, V b) { return _mm256_fmadd_ps(a, b, acc); }
#if defined(LMDBG_KERNELS_F16C)
  static void load_f16_group(const uint16_t* p, V* out) {
    out[0] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    out[1] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)));
  }
#else
  static void load_f16_group(const uint16_t* p, V* out) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i mask = _mm256_set1_epi32(static_cast<int32_t>(kF16Mask));
    out[0] = _mm256_castsi256_ps(_mm256_and_si256(_mm256_srai_epi32(_mm256_slli_epi32(v, 16), 3), mask));
    out[1] = _mm256_castsi256_ps(_mm256_and_si256(_mm256_srai_epi32(v, 3), mask));
  }
#endif
};
#endif

// The widest of the above that this build has (for kernels with one code path).
#if defined(__wasm_simd128__)
using Native = WasmSimd;
#elif defined(LMDBG_KERNELS_AVX2)
using Native = Avx2;
#else
using Native = Scalar;
#endif

}  // namespace lmdbg::kernels::simd
