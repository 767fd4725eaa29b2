// PackedMatrix: packing (once, at load) and the element accessors.
#include <algorithm>
#include <cstring>
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
      for (int j = 0; j < nr; ++j) out[j] = decode<D>(s.data, base + j);
    }
  } else {  // data [N, K]: row n is contiguous over k
    for (int j = 0; j < nr; ++j) {
      const size_t base = static_cast<size_t>(n0 + j) * s.cols;
      for (int k = 0; k < K; ++k) buf[static_cast<size_t>(k) * NR + j] = decode<D>(s.data, base + k);
    }
  }
}

void gather(const SrcMatrix& s, int K, int N, int n0, float* buf) {
  switch (s.dtype) {
    case DType::kF32: return gather_panel<DType::kF32>(s, K, N, n0, buf);
    case DType::kF16: return gather_panel<DType::kF16>(s, K, N, n0, buf);
    case DType::kBF16: return gather_panel<DType::kBF16>(s, K, N, n0, buf);
  }
}

[[noreturn]] void f16_overflow(const SrcMatrix& s, int k, int n, float v) {
  invalid("PackedMatrix::pack: f16 storage cannot hold W[" + std::to_string(k) + "," + std::to_string(n) +
          "] = " + std::to_string(v) + " (" + dtype_name(s.dtype) +
          " source; f16 holds finite |w| <= 65504): use Storage::kF32");
}

}  // namespace

PackedMatrix PackedMatrix::pack(const SrcMatrix& src, const float* bias, Storage storage) {
  if (src.rows <= 0 || src.cols <= 0)
    invalid("PackedMatrix::pack: expected a non-empty matrix, got [" + std::to_string(src.rows) + "," +
            std::to_string(src.cols) + "]");
  if (src.data == nullptr) invalid("PackedMatrix::pack: source data is null");
  PackedMatrix p;
  p.K_ = src.transposed ? src.cols : src.rows;
  p.N_ = src.transposed ? src.rows : src.cols;
  p.storage_ = storage;
  const int K = p.K_, N = p.N_;
  const int panels = p.panels();
  std::vector<float> buf(static_cast<size_t>(K) * NR);
  if (storage == Storage::kF32) {
    p.f32_.resize(static_cast<size_t>(panels) * p.panel_stride());
    for (int pi = 0; pi < panels; ++pi) {
      float* panel = p.f32_.data() + pi * p.panel_stride();
      const int n0 = pi * NR;
      const int nr = std::min(NR, N - n0);
      for (int j = 0; j < NR; ++j) panel[j] = (bias != nullptr && j < nr) ? bias[n0 + j] : 0.f;
      gather(src, K, N, n0, buf.data());
      std::memcpy(panel + NR, buf.data(), buf.size() * sizeof(float));
    }
  } else {
    p.f16_.resize(static_cast<size_t>(panels) * p.panel_stride());
    p.bias_.assign(static_cast<size_t>(panels) * NR, 0.f);
    if (bias != nullptr) std::copy(bias, bias + N, p.bias_.begin());
    constexpr int G = simd::kF16Group;
    for (int pi = 0; pi < panels; ++pi) {
      uint16_t* panel = p.f16_.data() + pi * p.panel_stride();
      const int n0 = pi * NR;
      gather(src, K, N, n0, buf.data());
      for (int k = 0; k < K; ++k) {
        const float* in = buf.data() + static_cast<size_t>(k) * NR;
        uint16_t* out = panel + static_cast<size_t>(k) * NR;
        for (int j = 0; j < NR; ++j) {
          // f16 -> f32 -> f16 is the identity for every finite half, so f16 sources are copied exactly.
          uint16_t h = f32_to_f16(in[j]);
          if ((h & 0x7c00u) == 0x7c00u) f16_overflow(src, k, n0 + j, in[j]);
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
  }
  return p;
}

size_t PackedMatrix::f16_index(int k, int n) const {
  constexpr int G = simd::kF16Group;
  const int j = n % NR;
  return static_cast<size_t>(n / NR) * panel_stride() + static_cast<size_t>(k) * NR + (j / G) * G +
         simd::f16_group_pos(j % G);
}

float PackedMatrix::at(int k, int n) const {
  if (storage_ == Storage::kF32) return f32_[(n / NR) * panel_stride() + static_cast<size_t>(k + 1) * NR + n % NR];
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
  } else {
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
  } else {
    const uint16_t* p = f16_.data() + f16_index(0, n);
    for (int k = 0; k < K_; ++k) out[k] = f16_to_f32(p[static_cast<size_t>(k) * NR]);
    auto it = std::lower_bound(sub_.begin(), sub_.end(), n, [](const Subnormal& s, int v) { return s.n < v; });
    for (; it != sub_.end() && it->n == n; ++it) out[it->k] = it->w;
  }
}

}  // namespace lmdbg::kernels
