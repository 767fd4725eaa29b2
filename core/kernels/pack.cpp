// PackedMatrix: packing (once, at load) and the element accessors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/error.h"
#include "fp16.h"
#include "gemm.h"
#include "simd.h"
#include "ukernels.h"

namespace lmdbg::kernels {

static_assert(PackedMatrix::NR == kPanelNR, "gemm.h and ukernels.h disagree on the panel width");
static_assert(PackedMatrix::NR % simd::kF16Group == 0, "f16 groups must tile a panel");

namespace {

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kQ8: return "q8";
  }
  return "?";
}

// Source tensors need not be aligned (a safetensors header of odd length, an odd-sized tensor before
// them): read through memcpy, which compiles to a plain unaligned load.
template <DType D>
inline float decode(const void* data, size_t i) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  if constexpr (D == DType::kF32) {
    float f;
    std::memcpy(&f, bytes + 4 * i, 4);
    return f;
  } else {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, 2);
    return D == DType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
  }
}

// Fills buf[K x NR] (row k = W[k, n0 .. n0 + NR), zero-padded past N) from the source.
template <DType D>
void gather_panel(const SrcMatrix& s, int K, int N, int n0, float* buf) {
  constexpr int NR = PackedMatrix::NR;
  const int nr = std::min(NR, N - n0);
  if (nr < NR) std::fill(buf, buf + static_cast<size_t>(K) * NR, 0.f);
  if (!s.transposed) {  // data [K, N]: row k, columns n0..n0+nr are contiguous
    for (int k = 0; k < K; ++k) {
      const size_t base = static_cast<size_t>(k) * s.cols + n0;
      float* out = buf + static_cast<size_t>(k) * NR;
      if constexpr (D == DType::kF32) {
        const unsigned char* in = static_cast<const unsigned char*>(s.data) + 4 * base;
        if (nr == NR)
          std::memcpy(out, in, NR * 4);  // a constant size is inlined; a call per row was ~a third of packing in wasm
        else
          std::memcpy(out, in, static_cast<size_t>(nr) * 4);
      } else
        for (int j = 0; j < nr; ++j) out[j] = decode<D>(s.data, base + j);
    }
  } else {  // data [N, K]: row n is contiguous over k. k outer: nr sequential reads, contiguous writes
    size_t base[NR];
    for (int j = 0; j < nr; ++j) base[j] = static_cast<size_t>(n0 + j) * s.cols;
    int k = 0;
    if constexpr (D == DType::kF32) {  // 4 k at a time: 16-byte reads from each row, then a transposed copy
      const auto* bytes = static_cast<const unsigned char*>(s.data);
      for (; nr == NR && k + 4 <= K; k += 4) {
        float t[NR][4];
        for (int j = 0; j < NR; ++j) std::memcpy(t[j], bytes + 4 * (base[j] + k), 16);
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < NR; ++j) buf[static_cast<size_t>(k + i) * NR + j] = t[j][i];
      }
    }
    for (; k < K; ++k) {
      float* out = buf + static_cast<size_t>(k) * NR;
      for (int j = 0; j < nr; ++j) out[j] = decode<D>(s.data, base[j] + k);
    }
  }
}

// q8 source: q [K, N] int8 with f16 scales [nb, N] (transposed: q [N, K], scales [N, nb]).
// Fills q [Kp x NR] (zero past K and N) and scales [nb x NR] (zero past N), as stored.
void gather_q8_raw(const SrcMatrix& s, int K, int N, int n0, int8_t* q, float* sc) {
  constexpr int NR = PackedMatrix::NR;
  const int nr = std::min(NR, N - n0);
  const int nb = static_cast<int>(q8_blocks(K));
  const auto* qs = static_cast<const int8_t*>(s.data);
  const auto* hs = static_cast<const unsigned char*>(s.scales);
  std::fill(q, q + static_cast<size_t>(nb) * kQ8Block * NR, int8_t{0});
  std::fill(sc, sc + static_cast<size_t>(nb) * NR, 0.f);
  auto scale = [&](size_t i) {
    uint16_t h;
    std::memcpy(&h, hs + 2 * i, 2);
    return f16_to_f32(h);
  };
  for (int j = 0; j < nr; ++j) {
    const int n = n0 + j;
    for (int b = 0; b < nb; ++b)
      sc[b * NR + j] = s.transposed ? scale(static_cast<size_t>(n) * nb + b) : scale(static_cast<size_t>(b) * N + n);
    if (s.transposed) {
      for (int k = 0; k < K; ++k) q[static_cast<size_t>(k) * NR + j] = qs[static_cast<size_t>(n) * K + k];
    } else {
      for (int k = 0; k < K; ++k) q[static_cast<size_t>(k) * NR + j] = qs[static_cast<size_t>(k) * N + n];
    }
  }
}

void gather(const SrcMatrix& s, int K, int N, int n0, float* buf) {
  switch (s.dtype) {
    case DType::kF32: return gather_panel<DType::kF32>(s, K, N, n0, buf);
    case DType::kF16: return gather_panel<DType::kF16>(s, K, N, n0, buf);
    case DType::kBF16: return gather_panel<DType::kBF16>(s, K, N, n0, buf);
    case DType::kQ8: {  // dequantized: q * s, exact in f32
      constexpr int NR = PackedMatrix::NR;
      const size_t nb = q8_blocks(K);
      std::vector<int8_t> q(nb * kQ8Block * NR);
      std::vector<float> sc(nb * NR);
      gather_q8_raw(s, K, N, n0, q.data(), sc.data());
      for (int k = 0; k < K; ++k)
        for (int j = 0; j < NR; ++j) buf[static_cast<size_t>(k) * NR + j] = q[static_cast<size_t>(k) * NR + j] * sc[(k / kQ8Block) * NR + j];
      return;
    }
  }
}

// Writes one q8 panel (q [Kp x NR] by row, scales [nb x NR]) in the packed block layout (q8.h).
void write_q8_panel(const int8_t* q, const float* sc, size_t nb, uint8_t* out) {
  constexpr int NR = PackedMatrix::NR;
  for (size_t b = 0; b < nb; ++b, out += q8_block_bytes(NR)) {
    std::memcpy(out, sc + b * NR, NR * sizeof(float));
    uint8_t* pairs = out + NR * 4;
    const int8_t* qb = q + b * kQ8Block * NR;
    for (int i = 0; i < kQ8Block / 2; ++i)
      for (int j = 0; j < NR; ++j) {
        pairs[i * 2 * NR + 2 * j] = static_cast<uint8_t>(qb[(2 * i) * NR + j]);
        pairs[i * 2 * NR + 2 * j + 1] = static_cast<uint8_t>(qb[(2 * i + 1) * NR + j]);
      }
  }
}

[[noreturn]] void f16_overflow(DType from, int k, int n, float v) {
  invalid("PackedMatrix::pack: f16 storage cannot hold W[" + std::to_string(k) + "," + std::to_string(n) +
          "] = " + std::to_string(v) + " (" + dtype_name(from) +
          " source; f16 holds finite |w| <= 65504): use Storage::kF32");
}

[[noreturn]] void q8_unrepresentable(DType from, int k, int n, float v) {
  invalid("PackedMatrix::pack: q8 storage cannot hold W[" + std::to_string(k) + "," + std::to_string(n) + "] = " +
          std::to_string(v) + " (" + dtype_name(from) + " source; q8 holds finite |w| <= 8.3e6): use Storage::kF32");
}

// Quantizes one decoded panel buf [K x NR] (q8.h): q [Kp x NR], scales [nb x NR].
void quantize_panel(DType from, const float* buf, int K, int n0, int8_t* q, float* sc) {
  constexpr int NR = PackedMatrix::NR;
  const int nb = static_cast<int>(q8_blocks(K));
  std::fill(q, q + static_cast<size_t>(nb) * kQ8Block * NR, int8_t{0});
  for (int b = 0; b < nb; ++b) {
    const int k0 = b * kQ8Block, k1 = std::min(K, k0 + kQ8Block);
    for (int j = 0; j < NR; ++j) {
      float amax = 0.f;
      for (int k = k0; k < k1; ++k) {
        const float v = buf[static_cast<size_t>(k) * NR + j];
        if (!(std::fabs(v) <= std::numeric_limits<float>::max())) q8_unrepresentable(from, k, n0 + j, v);
        amax = std::max(amax, std::fabs(v));
      }
      const uint16_t h = q8_scale_for(amax);
      if (h == 0x7c00u)
        for (int k = k0; k < k1; ++k)
          if (std::fabs(buf[static_cast<size_t>(k) * NR + j]) == amax) q8_unrepresentable(from, k, n0 + j, amax);
      const float scale = f16_to_f32(h);
      sc[b * NR + j] = scale;
      for (int k = k0; k < k1; ++k) q[static_cast<size_t>(k) * NR + j] = q8_quantize(buf[static_cast<size_t>(k) * NR + j], scale);
    }
  }
}

}  // namespace

// Packs panel by panel: fill(pi, out) writes panel pi's weights, decoded to f32, as [K x NR] rows
// (zero past N) at out. `from` names the source's dtype in error messages.
template <class Fill>
PackedMatrix PackedMatrix::pack_panels(int K, int N, const float* bias, Storage storage, DType from, Fill&& fill) {
  PackedMatrix p;
  p.K_ = K;
  p.N_ = N;
  p.storage_ = storage;
  const int panels = p.panels();
  if (storage == Storage::kF32) {
    p.f32_.resize(static_cast<size_t>(panels) * p.panel_stride());
    for (int pi = 0; pi < panels; ++pi) {
      float* panel = p.f32_.data() + pi * p.panel_stride();
      const int n0 = pi * NR;
      const int nr = std::min(NR, N - n0);
      for (int j = 0; j < NR; ++j) panel[j] = (bias != nullptr && j < nr) ? bias[n0 + j] : 0.f;
      fill(pi, panel + NR);
    }
    return p;
  }
  p.bias_.assign(static_cast<size_t>(panels) * NR, 0.f);
  if (bias != nullptr) std::copy(bias, bias + N, p.bias_.begin());
  std::vector<float> buf(static_cast<size_t>(K) * NR);
  if (storage == Storage::kQ8) {
    const size_t nb = q8_blocks(K);
    p.q8_.resize(static_cast<size_t>(panels) * p.panel_stride());
    std::vector<int8_t> q(nb * kQ8Block * NR);
    std::vector<float> sc(nb * NR);
    for (int pi = 0; pi < panels; ++pi) {
      fill(pi, buf.data());
      quantize_panel(from, buf.data(), K, pi * NR, q.data(), sc.data());
      write_q8_panel(q.data(), sc.data(), nb, p.q8_.data() + pi * p.panel_stride());
    }
    return p;
  }
  p.f16_.resize(static_cast<size_t>(panels) * p.panel_stride());
  constexpr int G = simd::kF16Group;
  for (int pi = 0; pi < panels; ++pi) {
    uint16_t* panel = p.f16_.data() + pi * p.panel_stride();
    const int n0 = pi * NR;
    fill(pi, buf.data());
    for (int k = 0; k < K; ++k) {
      const float* in = buf.data() + static_cast<size_t>(k) * NR;
      uint16_t* out = panel + static_cast<size_t>(k) * NR;
      for (int j = 0; j < NR; ++j) {
        // f16 -> f32 -> f16 is the identity for every finite half, so f16 sources are copied exactly.
        uint16_t h = f32_to_f16(in[j]);
        if ((h & 0x7c00u) == 0x7c00u) f16_overflow(from, k, n0 + j, in[j]);
        if ((h & 0x7c00u) == 0 && (h & 0x03ffu) != 0) {  // subnormal: side list, +0 in the panel
          if (n0 + j < N) p.sub_.push_back({n0 + j, k, f16_to_f32(h)});
          h = 0;
        }
        out[(j / G) * G + simd::f16_group_pos(j % G)] = h;
      }
    }
  }
  std::sort(p.sub_.begin(), p.sub_.end(),
            [](const Subnormal& a, const Subnormal& b) { return a.n < b.n || (a.n == b.n && a.k < b.k); });
  p.sub_.shrink_to_fit();
  return p;
}

PackedMatrix PackedMatrix::pack(const SrcMatrix& src, const float* bias, Storage storage) {
  if (src.rows <= 0 || src.cols <= 0)
    invalid("PackedMatrix::pack: expected a non-empty matrix, got [" + std::to_string(src.rows) + "," +
            std::to_string(src.cols) + "]");
  if (src.data == nullptr) invalid("PackedMatrix::pack: source data is null");
  if (src.dtype == DType::kQ8 && src.scales == nullptr) invalid("PackedMatrix::pack: q8 source without scales");
  const int K = src.transposed ? src.cols : src.rows;
  const int N = src.transposed ? src.rows : src.cols;
  if (src.dtype == DType::kQ8 && storage == Storage::kQ8) {  // as stored, no requantization
    PackedMatrix p;
    p.K_ = K;
    p.N_ = N;
    p.storage_ = storage;
    const size_t nb = q8_blocks(K);
    p.q8_.resize(static_cast<size_t>(p.panels()) * p.panel_stride());
    p.bias_.assign(static_cast<size_t>(p.panels()) * NR, 0.f);
    if (bias != nullptr) std::copy(bias, bias + N, p.bias_.begin());
    std::vector<int8_t> q(nb * kQ8Block * NR);
    std::vector<float> sc(nb * NR);
    for (int pi = 0; pi < p.panels(); ++pi) {
      gather_q8_raw(src, K, N, pi * NR, q.data(), sc.data());
      write_q8_panel(q.data(), sc.data(), nb, p.q8_.data() + pi * p.panel_stride());
    }
    return p;
  }
  return pack_panels(K, N, bias, storage, src.dtype, [&](int pi, float* out) { gather(src, K, N, pi * NR, out); });
}

PackedMatrix PackedMatrix::converted(Storage storage) const {
  if (K_ == 0) invalid("PackedMatrix::converted: matrix is empty (not packed)");
  std::vector<float> bias(N_);
  for (int n = 0; n < N_; ++n) bias[n] = this->bias(n);
  const DType from = storage_ == Storage::kF32 ? DType::kF32 : storage_ == Storage::kF16 ? DType::kF16 : DType::kQ8;
  return pack_panels(K_, N_, bias.data(), storage, from, [&](int pi, float* out) {
    const int n0 = pi * NR, nr = std::min(NR, N_ - n0);
    if (storage_ == Storage::kF32) {
      std::memcpy(out, f32_.data() + pi * panel_stride() + NR, static_cast<size_t>(K_) * NR * sizeof(float));
      return;
    }
    std::fill(out, out + static_cast<size_t>(K_) * NR, 0.f);
    for (int j = 0; j < nr; ++j)
      for (int k = 0; k < K_; ++k) out[static_cast<size_t>(k) * NR + j] = at(k, n0 + j);
  });
}

size_t PackedMatrix::f16_index(int k, int n) const {
  constexpr int G = simd::kF16Group;
  const int j = n % NR;
  return static_cast<size_t>(n / NR) * panel_stride() + static_cast<size_t>(k) * NR + (j / G) * G +
         simd::f16_group_pos(j % G);
}

int8_t PackedMatrix::q8_value(int k, int n) const {
  const size_t o = static_cast<size_t>(n / NR) * panel_stride() + static_cast<size_t>(k / kQ8Block) * q8_block_bytes(NR) +
                   NR * 4 + static_cast<size_t>((k % kQ8Block) / 2) * 2 * NR + 2 * (n % NR) + (k & 1);
  return static_cast<int8_t>(q8_[o]);
}

float PackedMatrix::q8_scale(int k, int n) const {
  const size_t o = static_cast<size_t>(n / NR) * panel_stride() + static_cast<size_t>(k / kQ8Block) * q8_block_bytes(NR) +
                   4 * (n % NR);
  float s;
  std::memcpy(&s, q8_.data() + o, 4);
  return s;
}

float PackedMatrix::at(int k, int n) const {
  if (storage_ == Storage::kF32) return f32_[(n / NR) * panel_stride() + static_cast<size_t>(k + 1) * NR + n % NR];
  if (storage_ == Storage::kQ8) return q8_value(k, n) * q8_scale(k, n);
  const uint16_t h = f16_[f16_index(k, n)];
  if (h == 0 && !sub_.empty()) {
    const auto it = std::lower_bound(sub_.begin(), sub_.end(), std::pair{n, k}, [](const Subnormal& s, std::pair<int, int> v) {
      return s.n < v.first || (s.n == v.first && s.k < v.second);
    });
    if (it != sub_.end() && it->n == n && it->k == k) return it->w;
  }
  return f16_to_f32(h);
}

void PackedMatrix::set_bias(const float* bias) {
  constexpr int NR = PackedMatrix::NR;
  if (storage_ == Storage::kF32) {
    for (int n = 0; n < N_; ++n) f32_[static_cast<size_t>(n / NR) * panel_stride() + n % NR] = bias[n];
  } else {  // f16, q8
    std::copy(bias, bias + N_, bias_.begin());
  }
}

float PackedMatrix::bias(int n) const {
  if (storage_ == Storage::kF32) return f32_[(n / NR) * panel_stride() + n % NR];
  return bias_[n];
}

void PackedMatrix::row(int k, float* out) const {
  if (k < 0 || k >= K_) invalid("PackedMatrix::row: k = " + std::to_string(k) + " not in [0, " + std::to_string(K_) + ")");
  for (int n = 0; n < N_; ++n) out[n] = at(k, n);
}

void PackedMatrix::col(int n, float* out) const {
  if (n < 0 || n >= N_) invalid("PackedMatrix::col: n = " + std::to_string(n) + " not in [0, " + std::to_string(N_) + ")");
  if (storage_ == Storage::kF32) {
    const float* p = f32_.data() + (n / NR) * panel_stride() + NR + n % NR;
    for (int k = 0; k < K_; ++k) out[k] = p[static_cast<size_t>(k) * NR];
  } else if (storage_ == Storage::kQ8) {
    for (int k = 0; k < K_; ++k) out[k] = at(k, n);
  } else {
    const uint16_t* p = f16_.data() + f16_index(0, n);
    for (int k = 0; k < K_; ++k) out[k] = f16_to_f32(p[static_cast<size_t>(k) * NR]);
    auto it = std::lower_bound(sub_.begin(), sub_.end(), n, [](const Subnormal& s, int v) { return s.n < v; });
    for (; it != sub_.end() && it->n == n; ++it) out[it->k] = it->w;
  }
}

}  // namespace lmdbg::kernels

