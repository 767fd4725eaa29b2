// The GEMM driver: picks kernels by storage and M, walks panels and row tiles.
//
// Loop order: panels outer, row tiles inner, so one panel (K x NR weights, 24 KiB for K = 768,
// NR = 8) stays in L1/L2 while the rows of A stream from L2. For M > MR, A is packed once per call,
// before the split, into tiles of MR rows interleaved along k (f32_pack_a) and the ppmm kernel runs
// all of them. M = 1 (GEMV, several panels at a time) and M <= MR make a single kernel call
// spanning all panels: the weights are read exactly once.
// f16 storage: small M decodes in the kernel (A pre-scaled for wasm's integer decoder, simd.h);
// larger M (wasm: M > 8) decodes each panel once into an f32 scratch panel that all row tiles
// reuse (decode cost / (M / MR)); x86 F16C decodes in the kernel for every M. Then the
// f16-subnormal side list (gemm.h) is added. q8 storage (q8.h): A is quantized once per call, before
// the split, and every range runs the q8 kernels on it.
//
// Threads (parallel.h): a large enough product is split into column ranges, panel-aligned (GEMV:
// its kernel's width in panels), several per thread so that a descheduled thread does not hold
// up the others; each range runs the single-threaded path. The split does not change any result
// (gemm.h, Determinism).
#include "gemm.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>

#include "core/error.h"
#include "no_init.h"
#include "parallel.h"
#include "q8.h"
#include "simd.h"
#include "ukernels.h"

namespace lmdbg::kernels {

namespace {

// f16 storage: M below this decodes in the kernel, from it on each panel is decoded once to f32.
// Measured f16/f32 time (docs/BENCHMARKS.md): wasm's integer decode costs ~5 ops per 8 weights,
// so decoding each panel once pays from three 4-row tiles on (M = 5..8: in-kernel x0.94-1.23,
// decode-once x1.15-1.37; M = 32: decode-once x0.98-1.18, in-kernel x1.18-1.28). F16C's
// vcvtph2ps is nearly free in the x86 kernel (in-kernel x0.76-1.06, decode-once x0.93-1.28).
#if defined(LMDBG_F16_DECODE_MIN_M)  // benchmarking override
constexpr int kF16DecodeMinM = LMDBG_F16_DECODE_MIN_M;
#elif defined(LMDBG_KERNELS_F16C)
constexpr int kF16DecodeMinM = 1 << 30;
#else
constexpr int kF16DecodeMinM = 9;
#endif

struct Scratch {
  std::vector<float> a, scale, panel, tmp, q8_scale;
  std::vector<int16_t> q8_a;
};
thread_local Scratch t_scratch;

float* grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// Calls fn(m, mr, kernel) over row tiles: full MR tiles, then the leftover rows with the
// 1-row / 2-row kernel or, for 3..MR-1 leftover rows, the main kernel with mr < MR.
template <class Fn>
void row_tiles(const GemmKernelSet& ks, int M, Fn&& fn) {
  int m = 0;
  for (; m + ks.mr <= M; m += ks.mr) fn(m, ks.mr, ks.f32_main);
  const int r = M - m;
  if (r == 1) fn(m, 1, ks.f32_1);
  else if (r == 2) fn(m, 2, ks.f32_2);
  else if (r > 0) fn(m, r, ks.f32_main);
}

// Whether gemm_cols packs A for ppmm: f32 panels under row tiles (f32 weights with M > MR, f16 decoded once).
bool packs_a(const GemmKernelSet& ks, const PackedMatrix& W, int M) {
  return (W.storage() == Storage::kF32 && M > ks.mr) || (W.storage() == Storage::kF16 && M >= kF16DecodeMinM);
}

// f16 weights decoded in the kernel, M > MR: panels outer, row tiles inner (f16w tiles).
void f16w_row_tiles(const GemmKernelSet& ks, int M, int nc, size_t K, const float* a, size_t lda, const uint16_t* w0,
                    const float* b0, float* C, size_t ldc, const float* scale) {
  constexpr int NR = PackedMatrix::NR;
  const size_t ps = K * NR;
  const int np = (nc + NR - 1) / NR;
  for (int p = 0; p < np; ++p) {
    const int ncp = std::min(NR, nc - p * NR);
    int m = 0;
    for (; m + ks.mr <= M; m += ks.mr)
      ks.f16w_main(ks.mr, ncp, K, a + m * lda, lda, w0 + p * ps, b0 + p * NR, C + m * ldc + p * NR, ldc, scale + m);
    const int r = M - m;
    if (r > 0) {
      const F16wGemmFn fn = r == 1 ? ks.f16w_1 : r == 2 ? ks.f16w_2 : ks.f16w_main;
      fn(r, ncp, K, a + m * lda, lda, w0 + p * ps, b0 + p * NR, C + m * ldc + p * NR, ldc, scale + m);
    }
  }
}

// C[M, nc] = A · W[:, p0*NR .. p0*NR + nc) + bias; C at that first column. nc <= N - p0*NR.
// pa: A packed when packs_a().
void run_panels(const GemmKernelSet& ks, float* C, size_t ldc, const float* A, size_t lda, const float* pa, int M,
                const PackedMatrix& W, int p0, int nc) {
  constexpr int NR = PackedMatrix::NR;
  const size_t K = static_cast<size_t>(W.K());
  const size_t ps = W.panel_stride();
  const int np = (nc + NR - 1) / NR;
  if (W.storage() == Storage::kF32) {
    const float* w0 = W.f32() + p0 * ps;
    if (M == 1) {
      ks.f32_gemv(1, nc, K, A, lda, w0, C, ldc);
    } else if (M <= ks.mr) {
      row_tiles(ks, M, [&](int m, int mr, F32GemmFn fn) { fn(mr, nc, K, A + m * lda, lda, w0, C + m * ldc, ldc); });
    } else {
      assert(pa);  // packs_a() holds for this branch
      ks.f32_ppmm(M, nc, K, pa, w0, C, ldc);
    }
    return;
  }
  const uint16_t* w0 = W.f16() + p0 * ps;
  const float* b0 = W.f16_bias() + static_cast<size_t>(p0) * NR;
  if (M < kF16DecodeMinM) {
    const F16wGemmFn fn = M == 1 ? ks.f16w_gemv : M == 2 ? ks.f16w_2 : ks.f16w_main;
    Scratch& s = t_scratch;
    float* scale = grow(s.scale, static_cast<size_t>(M));
    if constexpr (simd::kF16Scaled) {
      float* a = grow(s.a, static_cast<size_t>(M) * K);
      f16w_prescale_rows(M, K, A, lda, a, scale);
      if (M <= ks.mr) {
        fn(M, nc, K, a, K, w0, b0, C, ldc, scale);
      } else {
        f16w_row_tiles(ks, M, nc, K, a, K, w0, b0, C, ldc, scale);
      }
    } else {
      std::fill(scale, scale + M, 1.f);
      if (M <= ks.mr) {
        fn(M, nc, K, A, lda, w0, b0, C, ldc, scale);
      } else {
        f16w_row_tiles(ks, M, nc, K, A, lda, w0, b0, C, ldc, scale);
      }
    }
    return;
  }
  assert(pa);  // packs_a() holds for the decode-once path
  float* panel = grow(t_scratch.panel, (K + 1) * NR);
  for (int p = 0; p < np; ++p) {
    const int ncp = std::min(NR, nc - p * NR);
    ks.f16w_decode(NR, K, w0 + p * ps, b0 + static_cast<size_t>(p) * NR, panel);
    ks.f32_ppmm(M, ncp, K, pa, panel, C + p * NR, ldc);
  }
}

// A quantized for q8 storage (q8.h): rows of nb * 32 int16 and nb scales.
struct Q8Rows {
  const int16_t* a;
  const float* t;
  size_t nb;
};

// q8 storage: C[M, nc] = A · W[:, p0*NR .. p0*NR + nc) + bias, C at that first column.
void run_panels_q8(const Q8KernelSet& ks, float* C, size_t ldc, const Q8Rows& A, int M, const PackedMatrix& W, int p0,
                   int nc) {
  constexpr int NR = PackedMatrix::NR;
  const size_t ps = W.panel_stride(), ka = A.nb * kQ8Block;
  const uint8_t* w0 = W.q8() + p0 * ps;
  const float* b0 = W.f16_bias() + static_cast<size_t>(p0) * NR;
  auto tiles = [&](const uint8_t* w, const float* bias, float* c, int ncols) {
    int m = 0;
    for (; m + ks.mr <= M; m += ks.mr) ks.main(ks.mr, ncols, A.nb, A.a + m * ka, A.t + m * A.nb, w, bias, c + m * ldc, ldc);
    const int r = M - m;
    const Q8GemmFn fn = r == 1 ? ks.one : r == 2 ? ks.two : ks.main;
    if (r > 0) fn(r, ncols, A.nb, A.a + m * ka, A.t + m * A.nb, w, bias, c + m * ldc, ldc);
  };
  if (M == 1) {
    ks.gemv(1, nc, A.nb, A.a, A.t, w0, b0, C, ldc);
  } else if (M <= ks.mr) {
    tiles(w0, b0, C, nc);
  } else {
    const int np = (nc + NR - 1) / NR;
    for (int p = 0; p < np; ++p) tiles(w0 + p * ps, b0 + p * NR, C + p * NR, std::min(NR, nc - p * NR));
  }
}

// C[m, n - n0] += A[m, k] * w for the f16-subnormal weights of columns [n0, n1); row by row so
// that one row of A and of C stay in L1 while the side list streams.
void add_subnormals(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W, int n0, int n1) {
  const auto& sub = W.f16_subnormals();
  const auto cmp = [](const PackedMatrix::Subnormal& s, int v) { return s.n < v; };
  const auto first = std::lower_bound(sub.begin(), sub.end(), n0, cmp);
  const auto last = std::lower_bound(first, sub.end(), n1, cmp);
  for (int m = 0; m < M; ++m) {
    float* c = C + m * ldc;
    const float* a = A + m * lda;
    for (auto it = first; it != last; ++it) c[it->n - n0] += a[it->k] * it->w;
  }
}

// gemm_cols on one thread, arguments already checked; q8 (for q8 storage) holds A quantized, pa A
// packed (packs_a()).
void gemm_cols_serial(float* C, size_t ldc, const float* A, size_t lda, const Q8Rows& q8, const float* pa, int M,
                      const PackedMatrix& W, int n0, int n1) {
  constexpr int NR = PackedMatrix::NR;
  const GemmKernelSet& ks = simd_kernel_set();
  const auto panels = [&](float* c, size_t ldc_, int p, int nc) {
    if (W.storage() == Storage::kQ8)
      run_panels_q8(q8_kernel_set(), c, ldc_, q8, M, W, p, nc);
    else
      run_panels(ks, c, ldc_, A, lda, pa, M, W, p, nc);
  };
  float* const C0 = C;
  const int n0_all = n0;
  if (n0 % NR != 0) {  // partial first panel: compute it whole into tmp, copy the wanted columns
    const int p = n0 / NR;
    const int off = n0 - p * NR;
    const int ncp = std::min(NR, W.N() - p * NR);
    const int take = std::min(n1, (p + 1) * NR) - n0;
    float* tmp = grow(t_scratch.tmp, static_cast<size_t>(M) * NR);
    panels(tmp, NR, p, ncp);
    for (int m = 0; m < M; ++m) std::memcpy(C + m * ldc, tmp + m * NR + off, take * sizeof(float));
    C += take;
    n0 += take;
  }
  if (n0 < n1) panels(C, ldc, n0 / NR, n1 - n0);
  if (!W.f16_subnormals().empty()) add_subnormals(C0, ldc, A, lda, M, W, n0_all, n1);
}

// Below this many multiply-adds a product stays on one thread: a fork-join costs a few
// microseconds (more when the workers sleep), 2^17 multiply-adds take ~10-25 us in wasm.
constexpr double kParallelMinMacs = 1 << 17;
// Column ranges per thread (balance when a thread is descheduled or slower), more when the caller
// starts late (an aside): the others then take more, finer, ranges.
constexpr int kRangesPerThread = 4;
constexpr int kRangesPerThreadAside = 16;

}  // namespace

void gemm_cols(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W, int n0, int n1,
               const Aside& aside) {
  constexpr int NR = PackedMatrix::NR;
  if (W.K() == 0) invalid("gemm: W is empty (not packed)");
  n1 = std::min(n1, W.N());
  if (M < 0 || n0 < 0 || n0 > n1)
    invalid("gemm: bad range M = " + std::to_string(M) + ", columns [" + std::to_string(n0) + ", " +
            std::to_string(n1) + ") of N = " + std::to_string(W.N()));
  if (M == 0 || n0 == n1) {
    if (aside) aside();
    return;
  }
  if (M > 1 && (lda < static_cast<size_t>(W.K()) || ldc < static_cast<size_t>(n1 - n0)))
    invalid("gemm: row strides too small: lda = " + std::to_string(lda) + " (K = " + std::to_string(W.K()) +
            "), ldc = " + std::to_string(ldc) + " (" + std::to_string(n1 - n0) + " columns)");
  Q8Rows q8{nullptr, nullptr, 0};
  if (W.storage() == Storage::kQ8) {  // quantized once here, read by every range
    Scratch& s = t_scratch;
    q8.nb = q8_blocks(static_cast<size_t>(W.K()));
    if (s.q8_a.size() < M * q8.nb * kQ8Block) s.q8_a.resize(M * q8.nb * kQ8Block);
    q8_quantize_rows(M, W.K(), A, lda, s.q8_a.data(), grow(s.q8_scale, M * q8.nb));
    q8.a = s.q8_a.data();
    q8.t = s.q8_scale.data();
  }
  // Packed once here, read by every range. Freed at the end of the call: its size follows M, and a
  // thread-local scratch would keep the largest product's A after the model is gone.
  const GemmKernelSet& ks = simd_kernel_set();
  uninit_vector<float> packed;
  if (packs_a(ks, W, M)) {
    const size_t K = static_cast<size_t>(W.K()), tiles = (M + ks.mr - 1) / ks.mr;
    packed.resize(tiles * ks.mr * K);
    f32_pack_a(ks.mr, M, K, A, lda, packed.data());
  }
  const float* pa = packed.empty() ? nullptr : packed.data();
  const int nt = num_threads();
  // Ranges start at multiples of `unit` columns (the GEMV kernels walk several panels at a time).
  const int unit = M > 1 ? NR : kGemvPanels * NR;
  const int first_end = std::min(n1, (n0 / unit + 1) * unit);  // end of the (maybe partial) first unit
  const int units = 1 + (n1 - first_end + unit - 1) / unit;
  if (nt <= 1 || units < 2 || static_cast<double>(M) * W.K() * (n1 - n0) < kParallelMinMacs) {
    if (aside) aside();
    gemm_cols_serial(C, ldc, A, lda, q8, pa, M, W, n0, n1);
    return;
  }
  const int ranges = std::min(units, nt * (aside ? kRangesPerThreadAside : kRangesPerThread));
  // Range r covers units [r * units / ranges, (r + 1) * units / ranges); unit u >= 1 starts at
  // first_end + (u - 1) * unit.
  const auto col = [&](int u) { return u == 0 ? n0 : std::min(n1, first_end + (u - 1) * unit); };
  parallel_for(ranges, [&](int r) {
    const int c0 = col(static_cast<int>(static_cast<long long>(r) * units / ranges));
    const int c1 = col(static_cast<int>(static_cast<long long>(r + 1) * units / ranges));
    if (c0 < c1) gemm_cols_serial(C + (c0 - n0), ldc, A, lda, q8, pa, M, W, c0, c1);
  }, aside);
}

void gemm(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W, const Aside& aside) {
  gemm_cols(C, ldc, A, lda, M, W, 0, W.N(), aside);
}

}  // namespace lmdbg::kernels
