// Row access to packed matrices (rows.h).
#include "rows.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "simd.h"
#include "ukernels.h"

namespace lmdbg::kernels {

namespace {

using S = simd::Native;
using V = S::V;
constexpr int NR = PackedMatrix::NR;
constexpr int WL = S::W;
constexpr int NV = NR / WL;               // vectors per panel row
constexpr int G = simd::kF16Group;        // halves per decode group
constexpr int GV = G / WL;                // vectors per decode group
static_assert(NR % G == 0 && G % WL == 0);

inline float hsum(V v) {
  alignas(64) float t[WL];
  S::store(t, v);
  float r = 0.f;
  for (int i = 0; i < WL; ++i) r += t[i];
  return r;
}

// Row k of panel p as NV vectors (f16: scaled by 2^-112 when simd::kF16Scaled; q8: q * s, exact).
template <Storage ST>
inline void load_row(const PackedMatrix& W, int p, int k, V* w) {
  if constexpr (ST == Storage::kF32) {
    const float* src = W.f32() + static_cast<size_t>(p) * W.panel_stride() + static_cast<size_t>(k + 1) * NR;
    for (int v = 0; v < NV; ++v) w[v] = S::load(src + v * WL);
  } else if constexpr (ST == Storage::kF16) {
    const uint16_t* src = W.f16() + static_cast<size_t>(p) * W.panel_stride() + static_cast<size_t>(k) * NR;
    for (int g = 0; g < NR / G; ++g) S::load_f16_group(src + g * G, w + g * GV);
  } else {
    const uint8_t* block = W.q8() + static_cast<size_t>(p) * W.panel_stride() + static_cast<size_t>(k / kQ8Block) * q8_block_bytes(NR);
    const uint8_t* pair = block + NR * 4 + static_cast<size_t>((k % kQ8Block) / 2) * 2 * NR + (k & 1);
    alignas(64) float tmp[NR];
    for (int j = 0; j < NR; ++j) {
      float s;
      std::memcpy(&s, block + 4 * j, 4);
      tmp[j] = static_cast<int8_t>(pair[2 * j]) * s;
    }
    for (int v = 0; v < NV; ++v) w[v] = S::load(tmp + v * WL);
  }
}
inline void load_row(const PackedMatrix& W, int p, int k, V* w) {
  switch (W.storage()) {
    case Storage::kF32: return load_row<Storage::kF32>(W, p, k, w);
    case Storage::kF16: return load_row<Storage::kF16>(W, p, k, w);
    case Storage::kQ8: return load_row<Storage::kQ8>(W, p, k, w);
  }
}

void check_range(const PackedMatrix& W, int k0, int k1, const char* what) {
  if (W.K() == 0) invalid(std::string(what) + ": matrix is empty (not packed)");
  if (k0 < 0 || k0 > k1 || k1 > W.K())
    invalid(std::string(what) + ": rows [" + std::to_string(k0) + ", " + std::to_string(k1) + ") not in [0, " +
            std::to_string(W.K()) + ")");
}

// Subnormal f16 weights with k in [k0, k1): fn(n, k, w). The list is sorted by (n, k).
template <class Fn>
void for_subnormals(const PackedMatrix& W, int k0, int k1, Fn&& fn) {
  if (W.storage() != Storage::kF16) return;
  for (const auto& s : W.f16_subnormals())
    if (s.k >= k0 && s.k < k1) fn(s.n, s.k, s.w);
}

template <Storage ST, int NJ>
void rows_dot_block(const PackedMatrix& W, const float* xs, size_t ldxs, const float* scale, float* y, size_t ldy,
                    int kb, int nk) {
  constexpr int KB = 32;
  V acc[KB][NJ];
  for (int k = 0; k < nk; ++k)
    for (int j = 0; j < NJ; ++j) acc[k][j] = S::zero();
  const int P = W.panels();
  for (int p = 0; p < P; ++p) {
    V xv[NJ][NV];
    for (int j = 0; j < NJ; ++j)
      for (int v = 0; v < NV; ++v) xv[j][v] = S::load(xs + j * ldxs + static_cast<size_t>(p) * NR + v * WL);
    for (int k = 0; k < nk; ++k) {
      V w[NV];
      load_row<ST>(W, p, kb + k, w);
      for (int j = 0; j < NJ; ++j) {
        V a = acc[k][j];
        for (int v = 0; v < NV; ++v) a = S::madd(a, w[v], xv[j][v]);
        acc[k][j] = a;
      }
    }
  }
  for (int j = 0; j < NJ; ++j)
    for (int k = 0; k < nk; ++k) y[j * ldy + k] = hsum(acc[k][j]) * scale[j];
}

}  // namespace

void copy_rows(const PackedMatrix& W, int k0, int k1, float* out, size_t ld) {
  check_range(W, k0, k1, "copy_rows");
  const int N = W.N(), P = W.panels();
  const bool scaled = W.storage() == Storage::kF16 && simd::kF16Scaled;
  const V up = S::splat(simd::kF16Scale);
  for (int p = 0; p < P; ++p) {
    const int n0 = p * NR, nr = std::min(NR, N - n0);
    for (int k = k0; k < k1; ++k) {
      V w[NV];
      load_row(W, p, k, w);
      alignas(64) float tmp[NR];
      for (int v = 0; v < NV; ++v) S::store(tmp + v * WL, scaled ? S::mul(w[v], up) : w[v]);
      std::memcpy(out + static_cast<size_t>(k - k0) * ld + n0, tmp, nr * sizeof(float));
    }
  }
  for_subnormals(W, k0, k1, [&](int n, int k, float w) { out[static_cast<size_t>(k - k0) * ld + n] = w; });
}

void copy_cols(const PackedMatrix& W, int n0, int n1, float* out, size_t ld) {
  if (W.K() == 0) invalid("copy_cols: matrix is empty (not packed)");
  if (n0 < 0 || n0 > n1 || n1 > W.N())
    invalid("copy_cols: columns [" + std::to_string(n0) + ", " + std::to_string(n1) + ") not in [0, " +
            std::to_string(W.N()) + ")");
  const int K = W.K();
  const bool scaled = W.storage() == Storage::kF16 && simd::kF16Scaled;
  const V up = S::splat(simd::kF16Scale);
  for (int p = n0 / NR; p * NR < n1; ++p) {
    const int a = std::max(n0, p * NR), b = std::min(n1, (p + 1) * NR);  // columns of this panel wanted
    float* dst = out + (a - n0);
    for (int k = 0; k < K; ++k) {
      V w[NV];
      load_row(W, p, k, w);
      alignas(64) float tmp[NR];
      for (int v = 0; v < NV; ++v) S::store(tmp + v * WL, scaled ? S::mul(w[v], up) : w[v]);
      std::memcpy(dst + static_cast<size_t>(k) * ld, tmp + (a - p * NR), (b - a) * sizeof(float));
    }
  }
  if (W.storage() == Storage::kF16) {
    const auto& sub = W.f16_subnormals();
    auto it = std::lower_bound(sub.begin(), sub.end(), n0, [](const PackedMatrix::Subnormal& s, int v) { return s.n < v; });
    for (; it != sub.end() && it->n < n1; ++it) out[static_cast<size_t>(it->k) * ld + (it->n - n0)] = it->w;
  }
}

void rows_dot(const PackedMatrix& W, const float* x, int nx, size_t ldx, float* y, size_t ldy, int k0, int k1) {
  check_range(W, k0, k1, "rows_dot");
  if (nx <= 0 || k0 == k1) return;
  const int N = W.N(), P = W.panels();
  const size_t ldxs = static_cast<size_t>(P) * NR;
  // x rows padded with zeros to whole panels; f16 storage: pre-scaled by 2^s (the GEMM's
  // f16w_prescale_rows) so that no product of a scaled weight becomes subnormal.
  thread_local std::vector<float> xs, scale;
  xs.assign(static_cast<size_t>(nx) * ldxs, 0.f);
  scale.assign(nx, 1.f);
  if (W.storage() == Storage::kF16 && simd::kF16Scaled) {
    std::vector<float> tmp(static_cast<size_t>(nx) * N);
    f16w_prescale_rows(nx, N, x, ldx, tmp.data(), scale.data());
    for (int j = 0; j < nx; ++j) std::memcpy(xs.data() + j * ldxs, tmp.data() + static_cast<size_t>(j) * N, N * 4);
  } else {
    for (int j = 0; j < nx; ++j) std::memcpy(xs.data() + j * ldxs, x + j * ldx, N * sizeof(float));
  }
  constexpr int KB = 32;
  for (int j0 = 0; j0 < nx; j0 += 4) {
    const int nj = std::min(4, nx - j0);
    const float* xj = xs.data() + j0 * ldxs;
    for (int kb = k0; kb < k1; kb += KB) {
      const int nk = std::min(KB, k1 - kb);
      float* yb = y + j0 * ldy + (kb - k0);
      const float* sc = scale.data() + j0;
      const auto block = [&]<Storage ST>() {
        switch (nj) {
          case 1: return rows_dot_block<ST, 1>(W, xj, ldxs, sc, yb, ldy, kb, nk);
          case 2: return rows_dot_block<ST, 2>(W, xj, ldxs, sc, yb, ldy, kb, nk);
          case 3: return rows_dot_block<ST, 3>(W, xj, ldxs, sc, yb, ldy, kb, nk);
          default: return rows_dot_block<ST, 4>(W, xj, ldxs, sc, yb, ldy, kb, nk);
        }
      };
      switch (W.storage()) {
        case Storage::kF32: block.template operator()<Storage::kF32>(); break;
        case Storage::kF16: block.template operator()<Storage::kF16>(); break;
        case Storage::kQ8: block.template operator()<Storage::kQ8>(); break;
      }
    }
  }
  for_subnormals(W, k0, k1, [&](int n, int k, float w) {
    for (int j = 0; j < nx; ++j) y[j * ldy + (k - k0)] += w * x[j * ldx + n];
  });
}

}  // namespace lmdbg::kernels
