// Internal: the named GEMM microkernels, for the driver (gemm.cpp), the tests and the benchmarks.
// Callers outside core/kernels use gemm.h.
//
// Naming (XNNPACK): <weights>_gemm_<MR>x<NR>__<isa>. Each SIMD kernel has a __scalar twin of the
// same tile reading the same packed layout. Which tiles exist was decided by measurement
// (docs/BENCHMARKS.md, "Kernels"):
//   wasm simd128: f32 4x8 (+ 2x8, 1x8 for leftover rows), f16w 4x8, 2x8, 1x8. NR = 8. M > MR: the
//                 ppmm twin of the main tile on A packed once per GEMM (its last tile holds the
//                 leftover rows; the 32-token forward x1.07 in Chromium, docs/BENCHMARKS.md).
//                 (2x16, 3x8, 3x16 tie with 4x8; 4x16, 5x8, 6x8 are slower in V8.)
//                 M = 1: f32/f16w gemv 1x48 = six NR = 8 panels side by side (12 accumulators, six
//                 weight streams; four panels were x1.7-1.9 over 1x8, whose 2 accumulators are
//                 add-latency bound, and six make a generation step x1.05-1.2 faster than four in
//                 Chromium; eight spill).
//                 f16w: in the kernel for M <= 8, else decode once per panel + f32 4x8.
//   x86 AVX2+FMA: f32 6x16 (+ 2x16, 1x16, ppmm 6x16), f16w 6x16, 2x16, 1x16 (F16C decode), gemv 1x64.
//                 NR = 16.
//   anything else: the scalar 4x8 set.
// All of them sum k in the same order (ukernel_impl.h), so results do not depend on the tile.
//
// Signatures (rows mr <= MR; nc columns may span several panels; strides in floats):
//   f32:  c[mr, nc] = a[mr, kc] . w + bias, w = f32 panels [NR bias][kc x NR]
//   f16w: c = (a' . w16) * out_scale[m] + bias, a' = a rows from f16w_prescale_rows,
//         w16 = f16 panels [kc x NR] (simd.h group order), bias NR floats per panel.
//   f16w_decode: one f16 panel + its bias -> one f32 panel, exactly.
//   f32 ppmm: as f32 for any m rows (tiles of MR; nc may span panels), A pre-packed by f32_pack_a
//   (the same sums; one A pointer per k).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace lmdbg::kernels {

using F32GemmFn = void (*)(size_t mr, size_t nc, size_t kc, const float* a, size_t a_stride, const float* w,
                           float* c, size_t c_stride);
using F16wGemmFn = void (*)(size_t mr, size_t nc, size_t kc, const float* a, size_t a_stride, const uint16_t* w,
                            const float* bias, float* c, size_t c_stride, const float* out_scale);
using F16wDecodeFn = void (*)(size_t nr, size_t kc, const uint16_t* w, const float* bias, float* out);
using F32PpmmFn = void (*)(size_t m, size_t nc, size_t kc, const float* a, const float* w, float* c,
                           size_t c_stride);

// Panel width of PackedMatrix on this platform, and the f16 decode group (simd.h). kGemvPanels:
// panels the GEMV kernels (f32, f16w, q8) walk side by side.
#if defined(__wasm_simd128__)
inline constexpr int kPanelNR = 8;
inline constexpr int kGemvPanels = 6;
#elif defined(__AVX2__) && defined(__FMA__)
inline constexpr int kPanelNR = 16;
inline constexpr int kGemvPanels = 4;
#else
inline constexpr int kPanelNR = 8;
inline constexpr int kGemvPanels = 4;
#endif

#define LMDBG_F32_GEMM_DECL(name)                                                                             \
  void name(size_t mr, size_t nc, size_t kc, const float* a, size_t a_stride, const float* w, float* c, \
            size_t c_stride)
#define LMDBG_F16W_GEMM_DECL(name)                                                                               \
  void name(size_t mr, size_t nc, size_t kc, const float* a, size_t a_stride, const uint16_t* w, const float* bias, \
            float* c, size_t c_stride, const float* out_scale)
#define LMDBG_F16W_DECODE_DECL(name) void name(size_t nr, size_t kc, const uint16_t* w, const float* bias, float* out)
#define LMDBG_F32_PPMM_DECL(name) \
  void name(size_t m, size_t nc, size_t kc, const float* a, const float* w, float* c, size_t c_stride)

#if defined(__wasm_simd128__)
LMDBG_F32_GEMM_DECL(f32_gemm_4x8__wasmsimd);
LMDBG_F32_GEMM_DECL(f32_gemm_2x8__wasmsimd);
LMDBG_F32_GEMM_DECL(f32_gemm_1x8__wasmsimd);
LMDBG_F16W_GEMM_DECL(f16w_gemm_4x8__wasmsimd);
LMDBG_F16W_GEMM_DECL(f16w_gemm_2x8__wasmsimd);
LMDBG_F16W_GEMM_DECL(f16w_gemm_1x8__wasmsimd);
LMDBG_F32_GEMM_DECL(f32_gemv_1x48__wasmsimd);   // mr = 1
LMDBG_F16W_GEMM_DECL(f16w_gemv_1x48__wasmsimd);  // mr = 1
LMDBG_F16W_DECODE_DECL(f16w_decode__wasmsimd);
LMDBG_F32_PPMM_DECL(f32_ppmm_4x8__wasmsimd);
#endif
#if defined(__AVX2__) && defined(__FMA__)
LMDBG_F32_GEMM_DECL(f32_gemm_6x16__avx2);
LMDBG_F32_GEMM_DECL(f32_gemm_2x16__avx2);
LMDBG_F32_GEMM_DECL(f32_gemm_1x16__avx2);
LMDBG_F16W_GEMM_DECL(f16w_gemm_6x16__avx2);
LMDBG_F16W_GEMM_DECL(f16w_gemm_2x16__avx2);
LMDBG_F16W_GEMM_DECL(f16w_gemm_1x16__avx2);
LMDBG_F32_GEMM_DECL(f32_gemv_1x64__avx2);
LMDBG_F16W_GEMM_DECL(f16w_gemv_1x64__avx2);
LMDBG_F16W_DECODE_DECL(f16w_decode__avx2);
LMDBG_F32_GEMM_DECL(f32_gemm_6x16__scalar);
LMDBG_F32_GEMM_DECL(f32_gemm_2x16__scalar);
LMDBG_F32_GEMM_DECL(f32_gemm_1x16__scalar);
LMDBG_F16W_GEMM_DECL(f16w_gemm_6x16__scalar);
LMDBG_F16W_GEMM_DECL(f16w_gemm_2x16__scalar);
LMDBG_F16W_GEMM_DECL(f16w_gemm_1x16__scalar);
LMDBG_F32_GEMM_DECL(f32_gemv_1x64__scalar);
LMDBG_F16W_GEMM_DECL(f16w_gemv_1x64__scalar);
LMDBG_F32_PPMM_DECL(f32_ppmm_6x16__avx2);
LMDBG_F32_PPMM_DECL(f32_ppmm_6x16__scalar);
#else
LMDBG_F32_GEMM_DECL(f32_gemm_4x8__scalar);
LMDBG_F32_GEMM_DECL(f32_gemm_2x8__scalar);
LMDBG_F32_GEMM_DECL(f32_gemm_1x8__scalar);
LMDBG_F16W_GEMM_DECL(f16w_gemm_4x8__scalar);
LMDBG_F16W_GEMM_DECL(f16w_gemm_2x8__scalar);
LMDBG_F16W_GEMM_DECL(f16w_gemm_1x8__scalar);
LMDBG_F32_GEMM_DECL(f32_gemv_1x32__scalar);
LMDBG_F16W_GEMM_DECL(f16w_gemv_1x32__scalar);
LMDBG_F32_PPMM_DECL(f32_ppmm_4x8__scalar);
#endif
LMDBG_F16W_DECODE_DECL(f16w_decode__scalar);

// The kernels one GEMM uses: a main tile, leftover-row tiles, and the f16 variants.
struct GemmKernelSet {
  const char* isa;
  int mr;                   // main tile rows (mr2 = 2, mr1 = 1)
  int nr;                   // == kPanelNR
  F32GemmFn f32_main, f32_2, f32_1, f32_gemv;     // f32_gemv: M = 1, all panels
  F16wGemmFn f16w_main, f16w_2, f16w_1, f16w_gemv;
  F16wDecodeFn f16w_decode;
  F32PpmmFn f32_ppmm;       // the main tile over M > mr rows, A packed by f32_pack_a
};
const GemmKernelSet& simd_kernel_set();    // the fastest for this build (== scalar set without SIMD)
const GemmKernelSet& scalar_kernel_set();  // the __scalar twins

// Every compiled kernel, for tests and benchmarks.
struct F32GemmUkernel { const char* name; int mr, nr; F32GemmFn fn; };
struct F16wGemmUkernel { const char* name; int mr, nr; F16wGemmFn fn; };
struct F16wDecodeUkernel { const char* name; F16wDecodeFn fn; };
struct F32PpmmUkernel { const char* name; int mr, nr; F32PpmmFn fn; };
std::span<const F32GemmUkernel> f32_gemm_ukernels();
std::span<const F16wGemmUkernel> f16w_gemm_ukernels();
std::span<const F16wDecodeUkernel> f16w_decode_ukernels();
std::span<const F32PpmmUkernel> f32_ppmm_ukernels();

// Packs the M rows of A (row stride lda, K columns) for ppmm tiles of MR rows: ceil(M / MR) tiles of
// K * MR floats, tile t holding out[t K MR + k MR + i] = A[min(t MR + i, M - 1), k].
void f32_pack_a(int MR, size_t M, size_t K, const float* a, size_t lda, float* out);

// A rows as the f16w kernels want them (out has row stride K). With the scaled integer decoder
// (simd::kF16Scaled: wasm, scalar) out[m, :] = a[m, :] * 2^s_m with s_m chosen from max|a[m, :]|
// and out_scale[m] = 2^(112 - s_m); with F16C a plain copy and out_scale[m] = 1.
void f16w_prescale_rows(size_t M, size_t K, const float* a, size_t lda, float* out, float* out_scale);

}  // namespace lmdbg::kernels
