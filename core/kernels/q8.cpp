// q8 quantization and the q8 GEMM microkernels (q8.h). Tile choice measured in wasm (Node 20,
// --no-liftoff, CPU time; the figures were not recorded): 4x8 tiles and a GEMV over kGemvPanels
// panels, like the f32 kernels (six in wasm: a q8 generation step x1.09-1.17 over four in Chromium);
// the k-pair loop is kept rolled (unrolled, LLVM re-associates the integer sums into a tree whose ~40
// live vectors V8 spills: 2-2.5x slower), and the weights are sign-extended by the load
// (i16x8.load8x8_s, one instruction) rather than by a load and two extends.
#include "q8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "fp16.h"
#include "simd.h"
#include "ukernel_impl.h"
#include "ukernels.h"

#if defined(__clang__)
#define LMDBG_NO_UNROLL _Pragma("clang loop unroll(disable)")
#elif defined(__GNUC__)
#define LMDBG_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define LMDBG_NO_UNROLL
#endif

namespace lmdbg::kernels {

uint16_t q8_scale_for(float amax) {
  if (!(amax > 0.f)) return 0;
  uint16_t h = f32_to_f16(amax / 127.f);
  // The smallest f16 whose 127 multiples reach amax (the f32 division may have rounded down).
  while ((h & 0x7c00u) != 0x7c00u && static_cast<double>(f16_to_f32(h)) * 127.0 < static_cast<double>(amax)) ++h;
  return (h & 0x7c00u) == 0x7c00u ? 0x7c00u : h;
}

int8_t q8_quantize(float w, float s) {
  if (s == 0.f) return 0;
  const float r = std::nearbyint(w / s);
  return static_cast<int8_t>(std::clamp(r, -127.f, 127.f));
}

void q8_quantize_rows(size_t M, size_t K, const float* a, size_t lda, int16_t* out, float* out_scale) {
  const size_t nb = q8_blocks(K), ka = nb * kQ8Block;
  for (size_t m = 0; m < M; ++m) {
    const float* row = a + m * lda;
    int16_t* o = out + m * ka;
    for (size_t b = 0; b < nb; ++b) {
      const size_t k0 = b * kQ8Block, k1 = std::min(K, k0 + kQ8Block);
      float amax = 0.f;
      bool finite = true;
      for (size_t k = k0; k < k1; ++k) {
        const float x = std::fabs(row[k]);
        finite &= x <= std::numeric_limits<float>::max();  // false for Inf and NaN
        amax = std::max(amax, x);
      }
      float t = 0.f;
      if (!finite) {
        t = std::numeric_limits<float>::quiet_NaN();
        std::fill(o + k0, o + k1, int16_t{0});
      } else if (amax == 0.f) {
        std::fill(o + k0, o + k1, int16_t{0});
      } else {
        // Scale tiny blocks up by 2^100 first (exact) so that 32767 / max does not overflow.
        const float pre = amax < 0x1p-100f ? 0x1p100f : 1.f;
        const float inv = 32767.f / (amax * pre);
        t = amax / 32767.f;
        for (size_t k = k0; k < k1; ++k)
          o[k] = static_cast<int16_t>(std::clamp(std::nearbyint(row[k] * pre * inv), -32767.f, 32767.f));
      }
      std::fill(o + k1, o + k0 + kQ8Block, int16_t{0});
      out_scale[m * nb + b] = t;
    }
  }
}

namespace {

// Integer back-ends: W columns per vector; a weight vector holds W columns x 2 rows as int16,
// an activation vector the pair (a[k], a[k + 1]) in every 32-bit lane.
struct ScalarQ8 {
  using F = simd::Scalar;
  static constexpr int W = 1;
  using IV = int32_t;
  struct WP {
    int32_t w0, w1;
  };
  struct AP {
    int32_t a0, a1;
  };
  static IV izero() { return 0; }
  static WP load_w(const uint8_t* p) { return {static_cast<int8_t>(p[0]), static_cast<int8_t>(p[1])}; }
  static AP load_a(const int16_t* p) { return {p[0], p[1]}; }
  static IV dot_add(IV acc, WP w, AP a) { return acc + w.w0 * a.a0 + w.w1 * a.a1; }
  static float to_f32(IV v) { return static_cast<float>(v); }
};

#if defined(__wasm_simd128__)
struct WasmQ8 {
  using F = simd::WasmSimd;
  static constexpr int W = 4;
  using IV = v128_t;
  using WP = v128_t;
  using AP = v128_t;
  static IV izero() { return wasm_i32x4_const_splat(0); }
  static WP load_w(const uint8_t* p) { return wasm_i16x8_load8x8(p); }
  static AP load_a(const int16_t* p) { return wasm_v128_load32_splat(p); }
  static IV dot_add(IV acc, WP w, AP a) { return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(w, a)); }
  static v128_t to_f32(IV v) { return wasm_f32x4_convert_i32x4(v); }
};
#endif

#if defined(LMDBG_KERNELS_AVX2)
struct Avx2Q8 {
  using F = simd::Avx2;
  static constexpr int W = 8;
  using IV = __m256i;
  using WP = __m256i;
  using AP = __m256i;
  static IV izero() { return _mm256_setzero_si256(); }
  static WP load_w(const uint8_t* p) { return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static AP load_a(const int16_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  static IV dot_add(IV acc, WP w, AP a) { return _mm256_add_epi32(acc, _mm256_madd_epi16(w, a)); }
  static __m256 to_f32(IV v) { return _mm256_cvtepi32_ps(v); }
};
#endif

// The block's f32 scales (at the start of the block; blocks are 4-byte aligned in the panel).
inline const float* block_scales(const uint8_t* wb) { return reinterpret_cast<const float*>(wb); }

template <class B, int MR, int NV>
void q8_gemm_tile(size_t mr, size_t nc, size_t nb, const int16_t* a, const float* at, const uint8_t* w,
                  const float* bias, float* c, size_t c_stride) {
  using F = typename B::F;
  using V = typename F::V;
  using IV = typename B::IV;
  constexpr int W = B::W;
  constexpr int NR = NV * W;
  constexpr size_t bb = q8_block_bytes(NR);
  const size_t ka = nb * kQ8Block;
  const int16_t* ap[MR];
  const float* tp[MR];
  float* cp[MR];
  ap[0] = a;
  tp[0] = at;
  cp[0] = c;
  for (int m = 1; m < MR; ++m) {
    const bool real = static_cast<size_t>(m) < mr;
    ap[m] = real ? ap[m - 1] + ka : ap[m - 1];
    tp[m] = real ? tp[m - 1] + nb : tp[m - 1];
    cp[m] = real ? cp[m - 1] + c_stride : cp[m - 1];
  }
  for (;;) {
    V acc[MR][NV];
    LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[m][v] = F::zero();
    }
    const uint8_t* wb = w;
    for (size_t b = 0; b < nb; ++b, wb += bb) {
      IV is[MR][NV];
      LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) is[m][v] = B::izero();
      }
      const uint8_t* q = wb + NR * 4;
      const size_t k0 = b * kQ8Block;
      LMDBG_NO_UNROLL for (int i = 0; i < kQ8Block / 2; ++i) {
        typename B::WP wv[NV];
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) wv[v] = B::load_w(q + i * 2 * NR + v * 2 * W);
        LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
          const typename B::AP av = B::load_a(ap[m] + k0 + 2 * i);
          LMDBG_UNROLL for (int v = 0; v < NV; ++v) is[m][v] = B::dot_add(is[m][v], wv[v], av);
        }
      }
      V s[NV];
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) s[v] = F::load(block_scales(wb) + v * W);
      LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
        const V t = F::splat(tp[m][b]);
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[m][v] = F::madd(acc[m][v], B::to_f32(is[m][v]), F::mul(t, s[v]));
      }
    }
    LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[m][v] = F::add(acc[m][v], F::load(bias + v * W));
    }
    detail::store_tile<F, MR, NV>(acc, cp, nc);
    if (nc <= static_cast<size_t>(NR)) return;
    nc -= NR;
    w = wb;  // the next panel follows this one's last block
    bias += NR;
  }
}

// One row, P panels side by side (P * NV independent integer sums), leftover panels through the
// 1-row tile: every output is the chain of q8_gemm_tile.
template <class B, int NV, int P>
void q8_gemv(size_t mr, size_t nc, size_t nb, const int16_t* a, const float* at, const uint8_t* w, const float* bias,
             float* c, size_t c_stride) {
  using F = typename B::F;
  using V = typename F::V;
  using IV = typename B::IV;
  constexpr int W = B::W;
  constexpr int NR = NV * W;
  constexpr size_t bb = q8_block_bytes(NR);
  (void)mr;
  const size_t ps = nb * bb;
  for (; nc >= static_cast<size_t>(P * NR); nc -= P * NR, w += P * ps, bias += P * NR, c += P * NR) {
    V acc[P][NV];
    LMDBG_UNROLL for (int p = 0; p < P; ++p) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[p][v] = F::zero();
    }
    for (size_t b = 0; b < nb; ++b) {
      IV is[P][NV];
      LMDBG_UNROLL for (int p = 0; p < P; ++p) {
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) is[p][v] = B::izero();
      }
      const uint8_t* q = w + b * bb + NR * 4;
      const int16_t* ab = a + b * kQ8Block;
      LMDBG_NO_UNROLL for (int i = 0; i < kQ8Block / 2; ++i) {
        const typename B::AP av = B::load_a(ab + 2 * i);
        LMDBG_UNROLL for (int p = 0; p < P; ++p) {
          LMDBG_UNROLL for (int v = 0; v < NV; ++v)
            is[p][v] = B::dot_add(is[p][v], B::load_w(q + p * ps + i * 2 * NR + v * 2 * W), av);
        }
      }
      const V t = F::splat(at[b]);
      LMDBG_UNROLL for (int p = 0; p < P; ++p) {
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) {
          const V s = F::load(block_scales(w + p * ps + b * bb) + v * W);
          acc[p][v] = F::madd(acc[p][v], B::to_f32(is[p][v]), F::mul(t, s));
        }
      }
    }
    LMDBG_UNROLL for (int p = 0; p < P; ++p) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) F::store(c + p * NR + v * W, F::add(acc[p][v], F::load(bias + p * NR + v * W)));
    }
  }
  if (nc != 0) q8_gemm_tile<B, 1, NV>(1, nc, nb, a, at, w, bias, c, c_stride);
}

#define LMDBG_Q8_DECL(name) \
  void name(size_t mr, size_t nc, size_t nb, const int16_t* a, const float* at, const uint8_t* w, const float* bias, float* c, size_t c_stride)
#define LMDBG_DEFINE_Q8(name, B, MR, NV) \
  LMDBG_Q8_DECL(name) { q8_gemm_tile<B, MR, NV>(mr, nc, nb, a, at, w, bias, c, c_stride); }
#define LMDBG_DEFINE_Q8_GEMV(name, B, NV, P) \
  LMDBG_Q8_DECL(name) { q8_gemv<B, NV, P>(mr, nc, nb, a, at, w, bias, c, c_stride); }

#if defined(__wasm_simd128__)
LMDBG_DEFINE_Q8(q8_gemm_4x8__wasmsimd, WasmQ8, 4, 2)
LMDBG_DEFINE_Q8(q8_gemm_2x8__wasmsimd, WasmQ8, 2, 2)
LMDBG_DEFINE_Q8(q8_gemm_1x8__wasmsimd, WasmQ8, 1, 2)
LMDBG_DEFINE_Q8_GEMV(q8_gemv_1x48__wasmsimd, WasmQ8, 2, kGemvPanels)
#endif
#if defined(LMDBG_KERNELS_AVX2)
LMDBG_DEFINE_Q8(q8_gemm_4x16__avx2, Avx2Q8, 4, 2)
LMDBG_DEFINE_Q8(q8_gemm_2x16__avx2, Avx2Q8, 2, 2)
LMDBG_DEFINE_Q8(q8_gemm_1x16__avx2, Avx2Q8, 1, 2)
LMDBG_DEFINE_Q8_GEMV(q8_gemv_1x64__avx2, Avx2Q8, 2, 4)
LMDBG_DEFINE_Q8(q8_gemm_4x16__scalar, ScalarQ8, 4, 16)
LMDBG_DEFINE_Q8(q8_gemm_2x16__scalar, ScalarQ8, 2, 16)
LMDBG_DEFINE_Q8(q8_gemm_1x16__scalar, ScalarQ8, 1, 16)
LMDBG_DEFINE_Q8_GEMV(q8_gemv_1x64__scalar, ScalarQ8, 16, 4)
constexpr Q8KernelSet kScalar{"scalar", 4, q8_gemm_4x16__scalar, q8_gemm_2x16__scalar, q8_gemm_1x16__scalar,
                              q8_gemv_1x64__scalar};
constexpr Q8KernelSet kSimd{"avx2", 4, q8_gemm_4x16__avx2, q8_gemm_2x16__avx2, q8_gemm_1x16__avx2, q8_gemv_1x64__avx2};
constexpr Q8GemmUkernel kAll[] = {
    {"q8_gemm_4x16__avx2", 4, 16, q8_gemm_4x16__avx2},     {"q8_gemm_2x16__avx2", 2, 16, q8_gemm_2x16__avx2},
    {"q8_gemm_1x16__avx2", 1, 16, q8_gemm_1x16__avx2},     {"q8_gemv_1x64__avx2", 1, 16, q8_gemv_1x64__avx2},
    {"q8_gemm_4x16__scalar", 4, 16, q8_gemm_4x16__scalar}, {"q8_gemm_2x16__scalar", 2, 16, q8_gemm_2x16__scalar},
    {"q8_gemm_1x16__scalar", 1, 16, q8_gemm_1x16__scalar}, {"q8_gemv_1x64__scalar", 1, 16, q8_gemv_1x64__scalar},
};
#else
LMDBG_DEFINE_Q8(q8_gemm_4x8__scalar, ScalarQ8, 4, 8)
LMDBG_DEFINE_Q8(q8_gemm_2x8__scalar, ScalarQ8, 2, 8)
LMDBG_DEFINE_Q8(q8_gemm_1x8__scalar, ScalarQ8, 1, 8)
LMDBG_DEFINE_Q8_GEMV(q8_gemv_1x32__scalar, ScalarQ8, 8, 4)
constexpr Q8KernelSet kScalar{"scalar", 4, q8_gemm_4x8__scalar, q8_gemm_2x8__scalar, q8_gemm_1x8__scalar,
                              q8_gemv_1x32__scalar};
#if defined(__wasm_simd128__)
constexpr Q8KernelSet kSimd{"wasmsimd", 4, q8_gemm_4x8__wasmsimd, q8_gemm_2x8__wasmsimd, q8_gemm_1x8__wasmsimd,
                            q8_gemv_1x48__wasmsimd};
#define LMDBG_Q8_WASM_ENTRIES                                                                                      \
  {"q8_gemm_4x8__wasmsimd", 4, 8, q8_gemm_4x8__wasmsimd}, {"q8_gemm_2x8__wasmsimd", 2, 8, q8_gemm_2x8__wasmsimd}, \
      {"q8_gemm_1x8__wasmsimd", 1, 8, q8_gemm_1x8__wasmsimd}, {"q8_gemv_1x48__wasmsimd", 1, 8, q8_gemv_1x48__wasmsimd},
#else
constexpr const Q8KernelSet& kSimd = kScalar;
#define LMDBG_Q8_WASM_ENTRIES
#endif
constexpr Q8GemmUkernel kAll[] = {
    LMDBG_Q8_WASM_ENTRIES{"q8_gemm_4x8__scalar", 4, 8, q8_gemm_4x8__scalar},
    {"q8_gemm_2x8__scalar", 2, 8, q8_gemm_2x8__scalar},
    {"q8_gemm_1x8__scalar", 1, 8, q8_gemm_1x8__scalar},
    {"q8_gemv_1x32__scalar", 1, 8, q8_gemv_1x32__scalar},
};
#endif

static_assert(kPanelNR == (sizeof(kAll) > 0 ? kAll[0].nr : 0), "q8 kernels and PackedMatrix disagree on NR");

}  // namespace

const Q8KernelSet& q8_kernel_set() { return kSimd; }
const Q8KernelSet& q8_scalar_kernel_set() { return kScalar; }
std::span<const Q8GemmUkernel> q8_gemm_ukernels() { return kAll; }

}  // namespace lmdbg::kernels
