// Internal: the GEMM microkernel templates. Every named kernel in ukernels.h is one
// instantiation of these, for one back-end (simd.h) and one tile MR x NR.
//
// Contract (XNNPACK style):
//   1 <= mr <= MR rows, nc >= 1 columns (spanning ceil(nc / NR) consecutive panels), kc >= 1.
//   Rows past mr alias the last real row (computed twice, stored twice with the same value),
//   so a, c are read / written only inside the first mr rows. Columns past nc are computed but
//   never stored. a_stride / c_stride are in floats.
//   Every output is computed the same way by every kernel: acc = 0; acc += a[k] * w[k] for k
//   ascending (f32 mul + add in wasm, one FMA natively); then acc + bias (f16w: acc * 2^(112-s) +
//   bias, exact scaling). So a row's result is bitwise independent of M, of its tile and of the
//   f16 path taken, and f16 storage of f16-representable weights gives the f32-storage result.
//   (XNNPACK starts the accumulators from the bias; adding it last costs nothing and keeps f32
//   and f16w kernels identical.)
//   KU > 1 (benchmarks only) splits the k loop over KU accumulator sets summed at the end: it
//   hides add latency in the 1-row kernels but changes the summation order; measured no faster
//   for memory-bound GEMV (docs/BENCHMARKS.md), so the named kernels use KU = 1.
#pragma once
#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "simd.h"

namespace lmdbg::kernels::detail {

template <int MR>
inline void row_pointers(size_t mr, const float* a, size_t a_stride, float* c, size_t c_stride, const float** ap,
                         float** cp) {
  ap[0] = a;
  cp[0] = c;
  for (int m = 1; m < MR; ++m) {
    const bool real = static_cast<size_t>(m) < mr;
    ap[m] = real ? ap[m - 1] + a_stride : ap[m - 1];
    cp[m] = real ? cp[m - 1] + c_stride : cp[m - 1];
  }
}

// Stores acc[MR][NV] to the rows cp[], nc >= NR: full panel, else the first nc columns.
template <class S, int MR, int NV>
inline void store_tile(const typename S::V (&acc)[MR][NV], float** cp, size_t nc) {
  constexpr int W = S::W;
  constexpr int NR = NV * W;
  if (nc >= static_cast<size_t>(NR)) {
    LMDBG_UNROLL for (int m = MR - 1; m >= 0; --m) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) S::store(cp[m] + v * W, acc[m][v]);
      cp[m] += NR;
    }
  } else {
    LMDBG_UNROLL for (int m = MR - 1; m >= 0; --m) {
      alignas(64) float tmp[NR];
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) S::store(tmp + v * W, acc[m][v]);
      std::memcpy(cp[m], tmp, nc * sizeof(float));
    }
  }
}

// f32 weights. w: panels of [NR bias][kc x NR], panel stride (kc + 1) * NR floats.
// (Bias first in memory, added last.)
template <class S, int MR, int NV, int KU>
void f32_gemm_tile(size_t mr, size_t nc, size_t kc, const float* a, size_t a_stride, const float* w, float* c,
                   size_t c_stride) {
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int NR = NV * W;
  static_assert(KU >= 1 && MR >= 1 && NV >= 1);
  assert(mr >= 1 && mr <= static_cast<size_t>(MR));
  assert(nc >= 1 && kc >= 1);
  const float* ap[MR];
  float* cp[MR];
  row_pointers<MR>(mr, a, a_stride, c, c_stride, ap, cp);
  for (;;) {
    V acc[KU][MR][NV];
    LMDBG_UNROLL for (int u = 0; u < KU; ++u) {
      LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[u][m][v] = S::zero();
      }
    }
    const float* bias = w;
    w += NR;
    size_t k = 0;
    if constexpr (KU > 1) {
      for (; k + KU <= kc; k += KU) {
        LMDBG_UNROLL for (int u = 0; u < KU; ++u) {
          V wv[NV];
          LMDBG_UNROLL for (int v = 0; v < NV; ++v) wv[v] = S::load(w + u * NR + v * W);
          LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
            const V av = S::load_splat(ap[m] + k + u);
            LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[u][m][v] = S::madd(acc[u][m][v], av, wv[v]);
          }
        }
        w += KU * NR;
      }
    }
    for (; k < kc; ++k) {
      V wv[NV];
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) wv[v] = S::load(w + v * W);
      LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
        const V av = S::load_splat(ap[m] + k);
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[0][m][v] = S::madd(acc[0][m][v], av, wv[v]);
      }
      w += NR;
    }
    LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) {
        LMDBG_UNROLL for (int u = 1; u < KU; ++u) acc[0][m][v] = S::add(acc[0][m][v], acc[u][m][v]);
        acc[0][m][v] = S::add(acc[0][m][v], S::load(bias + v * W));
      }
    }
    store_tile<S, MR, NV>(acc[0], cp, nc);
    if (nc <= static_cast<size_t>(NR)) return;
    nc -= NR;
  }
}

// f32 weights, A pre-packed (ppmm): m rows in ceil(m / MR) tiles, nc columns spanning ceil(nc / NR)
// panels (panels outer, tiles inner: a panel stays in cache while the tiles pass). a holds the tiles
// one after another, each [kc][MR], its rows interleaved along k, the last tile's rows past m copies
// of its last real row (f32_pack_a); those are computed and not stored. The same sums as
// f32_gemm_tile; what differs is the addressing: one A pointer and constant offsets per k instead of
// MR row pointers (V8 computes each row's address every k).
template <class S, int MR, int NV>
void f32_ppmm(size_t m, size_t nc, size_t kc, const float* a, const float* w, float* c, size_t c_stride) {
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int NR = NV * W;
  static_assert(MR >= 1 && NV >= 1);
  assert(m >= 1 && nc >= 1 && kc >= 1);
  for (;;) {
    const float* bias = w;
    const float* at = a;
    for (size_t t = 0; t < m; t += MR) {
      V acc[MR][NV];
      LMDBG_UNROLL for (int i = 0; i < MR; ++i) {
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();
      }
      const float* wk = w + NR;
      for (size_t k = 0; k < kc; ++k) {
        V wv[NV];
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) wv[v] = S::load(wk + v * W);
        LMDBG_UNROLL for (int i = 0; i < MR; ++i) {
          const V av = S::load_splat(at + i);
          LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = S::madd(acc[i][v], av, wv[v]);
        }
        wk += NR;
        at += MR;
      }
      LMDBG_UNROLL for (int i = 0; i < MR; ++i) {
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = S::add(acc[i][v], S::load(bias + v * W));
      }
      const float* unused[MR];
      float* cp[MR];
      row_pointers<MR>(std::min<size_t>(MR, m - t), at, 0, c + t * c_stride, c_stride, unused, cp);
      store_tile<S, MR, NV>(acc, cp, nc);
    }
    if (nc <= static_cast<size_t>(NR)) return;
    nc -= NR;
    w += (kc + 1) * NR;
    c += NR;
  }
}

// f16 weights (simd.h layout), f32 compute. w: panels of kc x NR halves (stride kc * NR);
// bias: NR floats per panel; if simd::kF16Scaled, a: rows pre-scaled by 2^s_m and
// out_scale[m] = 2^(112 - s_m); else a as is and out_scale[m] = 1.
// Computes c = acc * out_scale + bias.
template <class S, int MR, int NV, int KU>
void f16w_gemm_tile(size_t mr, size_t nc, size_t kc, const float* a, size_t a_stride, const uint16_t* w,
                    const float* bias, float* c, size_t c_stride, const float* out_scale) {
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int NR = NV * W;
  constexpr int G = simd::kF16Group / W;  // vectors per decode group
  static_assert(NR % simd::kF16Group == 0, "NR must be a multiple of the f16 group");
  assert(mr >= 1 && mr <= static_cast<size_t>(MR));
  assert(nc >= 1 && kc >= 1);
  const float* ap[MR];
  float* cp[MR];
  row_pointers<MR>(mr, a, a_stride, c, c_stride, ap, cp);
  V scale[MR];
  LMDBG_UNROLL for (int m = 0; m < MR; ++m) scale[m] = S::splat(out_scale[static_cast<size_t>(m) < mr ? m : mr - 1]);
  for (;;) {
    V acc[KU][MR][NV];
    LMDBG_UNROLL for (int u = 0; u < KU; ++u) {
      LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[u][m][v] = S::zero();
      }
    }
    size_t k = 0;
    if constexpr (KU > 1) {
      for (; k + KU <= kc; k += KU) {
        LMDBG_UNROLL for (int u = 0; u < KU; ++u) {
          V wv[NV];
          LMDBG_UNROLL for (int g = 0; g < NV / G; ++g) S::load_f16_group(w + u * NR + g * simd::kF16Group, wv + g * G);
          LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
            const V av = S::load_splat(ap[m] + k + u);
            LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[u][m][v] = S::madd(acc[u][m][v], av, wv[v]);
          }
        }
        w += KU * NR;
      }
    }
    for (; k < kc; ++k) {
      V wv[NV];
      LMDBG_UNROLL for (int g = 0; g < NV / G; ++g) S::load_f16_group(w + g * simd::kF16Group, wv + g * G);
      LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
        const V av = S::load_splat(ap[m] + k);
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[0][m][v] = S::madd(acc[0][m][v], av, wv[v]);
      }
      w += NR;
    }
    LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) {
        LMDBG_UNROLL for (int u = 1; u < KU; ++u) acc[0][m][v] = S::add(acc[0][m][v], acc[u][m][v]);
        acc[0][m][v] = S::madd(S::load(bias + v * W), acc[0][m][v], scale[m]);
      }
    }
    bias += NR;
    store_tile<S, MR, NV>(acc[0], cp, nc);
    if (nc <= static_cast<size_t>(NR)) return;
    nc -= NR;
  }
}

// GEMV (one row): P panels at once, so P * NV independent accumulators hide the add (FMA)
// latency while each output keeps the single k-ascending chain of the tiles above (same bits).
// a_stride / c_stride are unused (one row); leftover panels go through the 1-row tile.
template <class S, int NV, int P>
void f32_gemv(size_t mr, size_t nc, size_t kc, const float* a, size_t a_stride, const float* w, float* c,
              size_t c_stride) {
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int NR = NV * W;
  assert(mr == 1);
  const size_t ps = (kc + 1) * NR;
  for (; nc >= static_cast<size_t>(P * NR); nc -= P * NR, w += P * ps, c += P * NR) {
    V acc[P][NV];
    LMDBG_UNROLL for (int p = 0; p < P; ++p) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[p][v] = S::zero();
    }
    const float* wk = w + NR;
    for (size_t k = 0; k < kc; ++k, wk += NR) {
      const V av = S::load_splat(a + k);
      LMDBG_UNROLL for (int p = 0; p < P; ++p) {
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[p][v] = S::madd(acc[p][v], av, S::load(wk + p * ps + v * W));
      }
    }
    LMDBG_UNROLL for (int p = 0; p < P; ++p) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) S::store(c + p * NR + v * W, S::add(acc[p][v], S::load(w + p * ps + v * W)));
    }
  }
  if (nc != 0) f32_gemm_tile<S, 1, NV, 1>(1, nc, kc, a, a_stride, w, c, c_stride);
}

template <class S, int NV, int P>
void f16w_gemv(size_t mr, size_t nc, size_t kc, const float* a, size_t a_stride, const uint16_t* w,
               const float* bias, float* c, size_t c_stride, const float* out_scale) {
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int NR = NV * W;
  constexpr int G = simd::kF16Group / W;
  assert(mr == 1);
  const size_t ps = kc * NR;
  const V scale = S::splat(out_scale[0]);
  for (; nc >= static_cast<size_t>(P * NR); nc -= P * NR, w += P * ps, bias += P * NR, c += P * NR) {
    V acc[P][NV];
    LMDBG_UNROLL for (int p = 0; p < P; ++p) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[p][v] = S::zero();
    }
    const uint16_t* wk = w;
    for (size_t k = 0; k < kc; ++k, wk += NR) {
      const V av = S::load_splat(a + k);
      LMDBG_UNROLL for (int p = 0; p < P; ++p) {
        V wv[NV];
        LMDBG_UNROLL for (int g = 0; g < NV / G; ++g) S::load_f16_group(wk + p * ps + g * simd::kF16Group, wv + g * G);
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) acc[p][v] = S::madd(acc[p][v], av, wv[v]);
      }
    }
    LMDBG_UNROLL for (int p = 0; p < P; ++p) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v)
        S::store(c + p * NR + v * W, S::madd(S::load(bias + p * NR + v * W), acc[p][v], scale));
    }
  }
  if (nc != 0) f16w_gemm_tile<S, 1, NV, 1>(1, nc, kc, a, a_stride, w, bias, c, c_stride, out_scale);
}

// Decodes one f16 panel (kc x nr halves + nr f32 biases) to an f32 panel [nr bias][kc x nr],
// exactly. nr is a multiple of kF16Group.
template <class S>
void f16w_decode_panel(size_t nr, size_t kc, const uint16_t* w, const float* bias, float* out) {
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int G = simd::kF16Group / W;
  std::memcpy(out, bias, nr * sizeof(float));
  out += nr;
  const V scale = S::splat(simd::kF16Scale);
  const size_t groups = kc * nr / simd::kF16Group;
  for (size_t i = 0; i < groups; ++i) {
    V v[G];
    S::load_f16_group(w, v);
    LMDBG_UNROLL for (int g = 0; g < G; ++g) S::store(out + g * W, simd::kF16Scaled ? S::mul(v[g], scale) : v[g]);
    w += simd::kF16Group;
    out += simd::kF16Group;
  }
}

}  // namespace lmdbg::kernels::detail
