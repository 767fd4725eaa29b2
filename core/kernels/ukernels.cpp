// The named microkernels: thin instantiations of ukernel_impl.h. Tile choice: see ukernels.h.
#include "ukernels.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "simd.h"
#include "ukernel_impl.h"

namespace lmdbg::kernels {

#define LMDBG_DEFINE_F32(name, S, MR, NV, KU)                                                      \
  LMDBG_F32_GEMM_DECL(name) {                                                                      \
    detail::f32_gemm_tile<S, MR, NV, KU>(mr, nc, kc, a, a_stride, w, c, c_stride);                 \
  }
#define LMDBG_DEFINE_F32_PPMM(name, S, MR, NV) \
  LMDBG_F32_PPMM_DECL(name) { detail::f32_ppmm<S, MR, NV>(m, nc, kc, a, w, c, c_stride); }
#define LMDBG_DEFINE_F32_GEMV(name, S, NV, P)                                                      \
  LMDBG_F32_GEMM_DECL(name) { detail::f32_gemv<S, NV, P>(mr, nc, kc, a, a_stride, w, c, c_stride); }
#define LMDBG_DEFINE_F16W_GEMV(name, S, NV, P)                                                     \
  LMDBG_F16W_GEMM_DECL(name) {                                                                     \
    detail::f16w_gemv<S, NV, P>(mr, nc, kc, a, a_stride, w, bias, c, c_stride, out_scale);         \
  }
#define LMDBG_DEFINE_F16W(name, S, MR, NV, KU)                                                     \
  LMDBG_F16W_GEMM_DECL(name) {                                                                     \
    detail::f16w_gemm_tile<S, MR, NV, KU>(mr, nc, kc, a, a_stride, w, bias, c, c_stride, out_scale); \
  }

#if defined(__wasm_simd128__)
LMDBG_DEFINE_F32(f32_gemm_4x8__wasmsimd, simd::WasmSimd, 4, 2, 1)
LMDBG_DEFINE_F32(f32_gemm_2x8__wasmsimd, simd::WasmSimd, 2, 2, 1)
LMDBG_DEFINE_F32(f32_gemm_1x8__wasmsimd, simd::WasmSimd, 1, 2, 1)
LMDBG_DEFINE_F16W(f16w_gemm_4x8__wasmsimd, simd::WasmSimd, 4, 2, 1)
LMDBG_DEFINE_F16W(f16w_gemm_2x8__wasmsimd, simd::WasmSimd, 2, 2, 1)
LMDBG_DEFINE_F16W(f16w_gemm_1x8__wasmsimd, simd::WasmSimd, 1, 2, 1)
LMDBG_DEFINE_F32_GEMV(f32_gemv_1x48__wasmsimd, simd::WasmSimd, 2, kGemvPanels)
LMDBG_DEFINE_F16W_GEMV(f16w_gemv_1x48__wasmsimd, simd::WasmSimd, 2, kGemvPanels)
LMDBG_F16W_DECODE_DECL(f16w_decode__wasmsimd) { detail::f16w_decode_panel<simd::WasmSimd>(nr, kc, w, bias, out); }
LMDBG_DEFINE_F32_PPMM(f32_ppmm_4x8__wasmsimd, simd::WasmSimd, 4, 2)
#endif

#if defined(__AVX2__) && defined(__FMA__)
LMDBG_DEFINE_F32(f32_gemm_6x16__avx2, simd::Avx2, 6, 2, 1)
LMDBG_DEFINE_F32(f32_gemm_2x16__avx2, simd::Avx2, 2, 2, 1)
LMDBG_DEFINE_F32(f32_gemm_1x16__avx2, simd::Avx2, 1, 2, 1)
LMDBG_DEFINE_F16W(f16w_gemm_6x16__avx2, simd::Avx2, 6, 2, 1)
LMDBG_DEFINE_F16W(f16w_gemm_2x16__avx2, simd::Avx2, 2, 2, 1)
LMDBG_DEFINE_F16W(f16w_gemm_1x16__avx2, simd::Avx2, 1, 2, 1)
LMDBG_DEFINE_F32_GEMV(f32_gemv_1x64__avx2, simd::Avx2, 2, 4)
LMDBG_DEFINE_F16W_GEMV(f16w_gemv_1x64__avx2, simd::Avx2, 2, 4)
LMDBG_F16W_DECODE_DECL(f16w_decode__avx2) { detail::f16w_decode_panel<simd::Avx2>(nr, kc, w, bias, out); }
LMDBG_DEFINE_F32(f32_gemm_6x16__scalar, simd::Scalar, 6, 16, 1)
LMDBG_DEFINE_F32(f32_gemm_2x16__scalar, simd::Scalar, 2, 16, 1)
LMDBG_DEFINE_F32(f32_gemm_1x16__scalar, simd::Scalar, 1, 16, 1)
LMDBG_DEFINE_F16W(f16w_gemm_6x16__scalar, simd::Scalar, 6, 16, 1)
LMDBG_DEFINE_F16W(f16w_gemm_2x16__scalar, simd::Scalar, 2, 16, 1)
LMDBG_DEFINE_F16W(f16w_gemm_1x16__scalar, simd::Scalar, 1, 16, 1)
LMDBG_DEFINE_F32_GEMV(f32_gemv_1x64__scalar, simd::Scalar, 16, 4)
LMDBG_DEFINE_F16W_GEMV(f16w_gemv_1x64__scalar, simd::Scalar, 16, 4)
LMDBG_DEFINE_F32_PPMM(f32_ppmm_6x16__avx2, simd::Avx2, 6, 2)
LMDBG_DEFINE_F32_PPMM(f32_ppmm_6x16__scalar, simd::Scalar, 6, 16)
#else
LMDBG_DEFINE_F32(f32_gemm_4x8__scalar, simd::Scalar, 4, 8, 1)
LMDBG_DEFINE_F32(f32_gemm_2x8__scalar, simd::Scalar, 2, 8, 1)
LMDBG_DEFINE_F32(f32_gemm_1x8__scalar, simd::Scalar, 1, 8, 1)
LMDBG_DEFINE_F16W(f16w_gemm_4x8__scalar, simd::Scalar, 4, 8, 1)
LMDBG_DEFINE_F16W(f16w_gemm_2x8__scalar, simd::Scalar, 2, 8, 1)
LMDBG_DEFINE_F16W(f16w_gemm_1x8__scalar, simd::Scalar, 1, 8, 1)
LMDBG_DEFINE_F32_GEMV(f32_gemv_1x32__scalar, simd::Scalar, 8, 4)
LMDBG_DEFINE_F16W_GEMV(f16w_gemv_1x32__scalar, simd::Scalar, 8, 4)
LMDBG_DEFINE_F32_PPMM(f32_ppmm_4x8__scalar, simd::Scalar, 4, 8)
#endif
LMDBG_F16W_DECODE_DECL(f16w_decode__scalar) { detail::f16w_decode_panel<simd::Scalar>(nr, kc, w, bias, out); }

namespace {

#if defined(__AVX2__) && defined(__FMA__)
constexpr GemmKernelSet kScalarSet{"scalar",
                                   6,
                                   16,
                                   f32_gemm_6x16__scalar,
                                   f32_gemm_2x16__scalar,
                                   f32_gemm_1x16__scalar,
                                   f32_gemv_1x64__scalar,
                                   f16w_gemm_6x16__scalar,
                                   f16w_gemm_2x16__scalar,
                                   f16w_gemm_1x16__scalar,
                                   f16w_gemv_1x64__scalar,
                                   f16w_decode__scalar,
                                   f32_ppmm_6x16__scalar};
constexpr GemmKernelSet kSimdSet{"avx2",
                                 6,
                                 16,
                                 f32_gemm_6x16__avx2,
                                 f32_gemm_2x16__avx2,
                                 f32_gemm_1x16__avx2,
                                 f32_gemv_1x64__avx2,
                                 f16w_gemm_6x16__avx2,
                                 f16w_gemm_2x16__avx2,
                                 f16w_gemm_1x16__avx2,
                                 f16w_gemv_1x64__avx2,
                                 f16w_decode__avx2,
                                 f32_ppmm_6x16__avx2};
constexpr F32GemmUkernel kF32[] = {
    {"f32_gemm_6x16__avx2", 6, 16, f32_gemm_6x16__avx2},     {"f32_gemm_2x16__avx2", 2, 16, f32_gemm_2x16__avx2},
    {"f32_gemm_1x16__avx2", 1, 16, f32_gemm_1x16__avx2},     {"f32_gemm_6x16__scalar", 6, 16, f32_gemm_6x16__scalar},
    {"f32_gemm_2x16__scalar", 2, 16, f32_gemm_2x16__scalar}, {"f32_gemm_1x16__scalar", 1, 16, f32_gemm_1x16__scalar},
    {"f32_gemv_1x64__avx2", 1, 16, f32_gemv_1x64__avx2},     {"f32_gemv_1x64__scalar", 1, 16, f32_gemv_1x64__scalar},
};
constexpr F16wGemmUkernel kF16w[] = {
    {"f16w_gemm_6x16__avx2", 6, 16, f16w_gemm_6x16__avx2},
    {"f16w_gemm_2x16__avx2", 2, 16, f16w_gemm_2x16__avx2},
    {"f16w_gemm_1x16__avx2", 1, 16, f16w_gemm_1x16__avx2},
    {"f16w_gemm_6x16__scalar", 6, 16, f16w_gemm_6x16__scalar},
    {"f16w_gemm_2x16__scalar", 2, 16, f16w_gemm_2x16__scalar},
    {"f16w_gemm_1x16__scalar", 1, 16, f16w_gemm_1x16__scalar},
    {"f16w_gemv_1x64__avx2", 1, 16, f16w_gemv_1x64__avx2},
    {"f16w_gemv_1x64__scalar", 1, 16, f16w_gemv_1x64__scalar},
};
constexpr F16wDecodeUkernel kDecode[] = {{"f16w_decode__avx2", f16w_decode__avx2},
                                         {"f16w_decode__scalar", f16w_decode__scalar}};
constexpr F32PpmmUkernel kPpmm[] = {{"f32_ppmm_6x16__avx2", 6, 16, f32_ppmm_6x16__avx2},
                                    {"f32_ppmm_6x16__scalar", 6, 16, f32_ppmm_6x16__scalar}};
#else
constexpr GemmKernelSet kScalarSet{"scalar",
                                   4,
                                   8,
                                   f32_gemm_4x8__scalar,
                                   f32_gemm_2x8__scalar,
                                   f32_gemm_1x8__scalar,
                                   f32_gemv_1x32__scalar,
                                   f16w_gemm_4x8__scalar,
                                   f16w_gemm_2x8__scalar,
                                   f16w_gemm_1x8__scalar,
                                   f16w_gemv_1x32__scalar,
                                   f16w_decode__scalar,
                                   f32_ppmm_4x8__scalar};
#if defined(__wasm_simd128__)
constexpr GemmKernelSet kSimdSet{"wasmsimd",
                                 4,
                                 8,
                                 f32_gemm_4x8__wasmsimd,
                                 f32_gemm_2x8__wasmsimd,
                                 f32_gemm_1x8__wasmsimd,
                                 f32_gemv_1x48__wasmsimd,
                                 f16w_gemm_4x8__wasmsimd,
                                 f16w_gemm_2x8__wasmsimd,
                                 f16w_gemm_1x8__wasmsimd,
                                 f16w_gemv_1x48__wasmsimd,
                                 f16w_decode__wasmsimd,
                                 f32_ppmm_4x8__wasmsimd};
#define LMDBG_WASM_ENTRIES_F32                                                                                 \
  {"f32_gemm_4x8__wasmsimd", 4, 8, f32_gemm_4x8__wasmsimd}, {"f32_gemm_2x8__wasmsimd", 2, 8, f32_gemm_2x8__wasmsimd}, \
      {"f32_gemm_1x8__wasmsimd", 1, 8, f32_gemm_1x8__wasmsimd}, {"f32_gemv_1x48__wasmsimd", 1, 8, f32_gemv_1x48__wasmsimd},
#define LMDBG_WASM_ENTRIES_F16W                                    \
  {"f16w_gemm_4x8__wasmsimd", 4, 8, f16w_gemm_4x8__wasmsimd},      \
      {"f16w_gemm_2x8__wasmsimd", 2, 8, f16w_gemm_2x8__wasmsimd},  \
      {"f16w_gemm_1x8__wasmsimd", 1, 8, f16w_gemm_1x8__wasmsimd},  \
      {"f16w_gemv_1x48__wasmsimd", 1, 8, f16w_gemv_1x48__wasmsimd},
#define LMDBG_WASM_ENTRIES_DECODE {"f16w_decode__wasmsimd", f16w_decode__wasmsimd},
#define LMDBG_WASM_ENTRIES_PPMM {"f32_ppmm_4x8__wasmsimd", 4, 8, f32_ppmm_4x8__wasmsimd},
#else
constexpr const GemmKernelSet& kSimdSet = kScalarSet;
#define LMDBG_WASM_ENTRIES_F32
#define LMDBG_WASM_ENTRIES_F16W
#define LMDBG_WASM_ENTRIES_DECODE
#define LMDBG_WASM_ENTRIES_PPMM
#endif
constexpr F32GemmUkernel kF32[] = {
    LMDBG_WASM_ENTRIES_F32{"f32_gemm_4x8__scalar", 4, 8, f32_gemm_4x8__scalar},
    {"f32_gemm_2x8__scalar", 2, 8, f32_gemm_2x8__scalar},
    {"f32_gemm_1x8__scalar", 1, 8, f32_gemm_1x8__scalar},
    {"f32_gemv_1x32__scalar", 1, 8, f32_gemv_1x32__scalar},
};
constexpr F16wGemmUkernel kF16w[] = {
    LMDBG_WASM_ENTRIES_F16W{"f16w_gemm_4x8__scalar", 4, 8, f16w_gemm_4x8__scalar},
    {"f16w_gemm_2x8__scalar", 2, 8, f16w_gemm_2x8__scalar},
    {"f16w_gemm_1x8__scalar", 1, 8, f16w_gemm_1x8__scalar},
    {"f16w_gemv_1x32__scalar", 1, 8, f16w_gemv_1x32__scalar},
};
constexpr F16wDecodeUkernel kDecode[] = {LMDBG_WASM_ENTRIES_DECODE{"f16w_decode__scalar", f16w_decode__scalar}};
constexpr F32PpmmUkernel kPpmm[] = {LMDBG_WASM_ENTRIES_PPMM{"f32_ppmm_4x8__scalar", 4, 8, f32_ppmm_4x8__scalar}};
#endif

}  // namespace

const GemmKernelSet& simd_kernel_set() { return kSimdSet; }
const GemmKernelSet& scalar_kernel_set() { return kScalarSet; }
std::span<const F32GemmUkernel> f32_gemm_ukernels() { return kF32; }
std::span<const F16wGemmUkernel> f16w_gemm_ukernels() { return kF16w; }
std::span<const F16wDecodeUkernel> f16w_decode_ukernels() { return kDecode; }
std::span<const F32PpmmUkernel> f32_ppmm_ukernels() { return kPpmm; }

void f32_pack_a(int MR, size_t M, size_t K, const float* a, size_t lda, float* out) {
  assert(MR >= 1 && MR <= 16);
  const float* row[16];
  for (size_t t = 0; t < M; t += MR) {
    for (int i = 0; i < MR; ++i) row[i] = a + std::min(t + i, M - 1) * lda;
    for (size_t k = 0; k < K; ++k, out += MR)  // sequential writes; the tile's rows are read side by side
      for (int i = 0; i < MR; ++i) out[i] = row[i][k];
  }
}

void f16w_prescale_rows(size_t M, size_t K, const float* a, size_t lda, float* out, float* out_scale) {
  if constexpr (!simd::kF16Scaled) {  // exact decoder: copy, scale 1
    for (size_t m = 0; m < M; ++m) {
      std::memcpy(out + m * K, a + m * lda, K * sizeof(float));
      out_scale[m] = 1.f;
    }
    return;
  }
  for (size_t m = 0; m < M; ++m) {
    const float* row = a + m * lda;
    uint32_t max_bits = 0;  // max of |a| as bits: NaN/Inf sort above every finite value
    for (size_t k = 0; k < K; ++k) {
      uint32_t b;
      std::memcpy(&b, row + k, 4);
      max_bits = std::max(max_bits, b & 0x7fffffffu);
    }
    // max|a| in [2^e, 2^(e+1)): scale so that max|a| * 2^s < 2^64; keep 2^s and 2^(112-s) normal.
    const int e = static_cast<int>(max_bits >> 23) - 127;
    const int s = std::clamp(63 - e, -15, 127);
    const uint32_t up_bits = static_cast<uint32_t>(s + 127) << 23;
    const uint32_t down_bits = static_cast<uint32_t>(112 - s + 127) << 23;
    float up, down;
    std::memcpy(&up, &up_bits, 4);
    std::memcpy(&down, &down_bits, 4);
    float* o = out + m * K;
    for (size_t k = 0; k < K; ++k) o[k] = row[k] * up;
    out_scale[m] = down;
  }
}

}  // namespace lmdbg::kernels
