// Internal: the GEMM microkernel templates. Every named kernel in ukernels.h is one
// instantiation of these, for one back-end (simd.h) and one tile MR x NR.
//
// Contract (XNNPACK style):
//   1 <= mr <= MR rows, nc >= 1 columns (spanning ceil(nc / NR) consecutive panels), kc >= 1.
//   Rows past mr alias the last real row (computed twice, stored twice with the same value),
//   so a, c are read / written only inside the first mr rows. Columns past nc are computed but
//   never stored. a_stride / c_stride are in floats.
//   KU > 1 splits the k loop over KU independent accumulator sets (summed at the end): used
//   by the 1-row kernels, whose MR*NV accumulators alone are too few to hide add latency.
#pragma once
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
    LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
      LMDBG_UNROLL for (int v = 0; v < NV; ++v) {
        acc[0][m][v] = S::load(w + v * W);
        LMDBG_UNROLL for (int u = 1; u < KU; ++u) acc[u][m][v] = S::zero();
      }
    }
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
    if constexpr (KU > 1) {
      LMDBG_UNROLL for (int m = 0; m < MR; ++m) {
        LMDBG_UNROLL for (int v = 0; v < NV; ++v) {
          LMDBG_UNROLL for (int u = 1; u < KU; ++u) acc[0][m][v] = S::add(acc[0][m][v], acc[u][m][v]);
        }
      }
    }
    store_tile<S, MR, NV>(acc[0], cp, nc);
    if (nc <= static_cast<size_t>(NR)) return;
    nc -= NR;
  }
}

// f16 weights (simd.h layout), f32 compute. w: panels of kc x NR halves (stride kc * NR);
// bias: NR floats per panel; a: rows pre-scaled by 2^s_m; out_scale[m] = 2^(112 - s_m).
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
    LMDBG_UNROLL for (int g = 0; g < G; ++g) S::store(out + g * W, S::mul(v[g], scale));
    w += simd::kF16Group;
    out += simd::kF16Group;
  }
}

}  // namespace lmdbg::kernels::detail
