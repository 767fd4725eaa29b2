#include "gemm.h"

#include <algorithm>
#include <cstring>

#include "fp16.h"

namespace lmdbg::kernels {

namespace {

float load_src(const SrcMatrix& s, int k, int n) {
  const size_t idx = s.transposed ? static_cast<size_t>(n) * s.cols + k : static_cast<size_t>(k) * s.cols + n;
  switch (s.dtype) {
    case DType::kF32: return static_cast<const float*>(s.data)[idx];
    case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(s.data)[idx]);
    case DType::kBF16: return bf16_to_f32(static_cast<const uint16_t*>(s.data)[idx]);
  }
  return 0.f;
}

}  // namespace

PackedMatrix PackedMatrix::pack(const SrcMatrix& src, const float* bias, Storage storage) {
  PackedMatrix p;
  p.K_ = src.transposed ? src.cols : src.rows;
  p.N_ = src.transposed ? src.rows : src.cols;
  p.storage_ = storage;
  const int panels = (p.N_ + NR - 1) / NR;
  const size_t total = static_cast<size_t>(panels) * p.panel_stride();
  std::vector<float> tmp;
  float* dst;
  if (storage == Storage::kF32) {
    p.f32_.assign(total, 0.f);
    dst = p.f32_.data();
  } else {
    tmp.assign(total, 0.f);
    dst = tmp.data();
  }
  for (int pi = 0; pi < panels; ++pi) {
    float* panel = dst + pi * p.panel_stride();
    const int n0 = pi * NR;
    const int nr = std::min(NR, p.N_ - n0);
    for (int j = 0; j < nr; ++j) panel[j] = bias ? bias[n0 + j] : 0.f;
    for (int k = 0; k < p.K_; ++k)
      for (int j = 0; j < nr; ++j) panel[(k + 1) * NR + j] = load_src(src, k, n0 + j);
  }
  if (storage == Storage::kF16) {
    p.f16_.resize(total);
    for (size_t i = 0; i < total; ++i) p.f16_[i] = f32_to_f16(tmp[i]);
    // bias stays exact: keep a float copy of it is not possible in u16 storage, so biases are
    // rounded to f16 too. Callers that need exact f32 bias keep it separately.
  }
  return p;
}

float PackedMatrix::at(int k, int n) const {
  const size_t i = (n / NR) * panel_stride() + static_cast<size_t>(k + 1) * NR + n % NR;
  return storage_ == Storage::kF32 ? f32_[i] : f16_to_f32(f16_[i]);
}

float PackedMatrix::bias(int n) const {
  const size_t i = (n / NR) * panel_stride() + n % NR;
  return storage_ == Storage::kF32 ? f32_[i] : f16_to_f32(f16_[i]);
}

void PackedMatrix::row(int k, float* out) const {
  for (int n = 0; n < N_; ++n) out[n] = at(k, n);
}

void PackedMatrix::col(int n, float* out) const {
  for (int k = 0; k < K_; ++k) out[k] = at(k, n);
}

void gemm_cols(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W, int n0, int n1) {
  constexpr int NR = PackedMatrix::NR;
  const int K = W.K();
  n1 = std::min(n1, W.N());
  float buf[NR];
  for (int n = n0; n < n1; n += NR) {
    const size_t off = (n / NR) * W.panel_stride();
    const int nr = std::min(NR, n1 - n);
    for (int m = 0; m < M; ++m) {
      const float* a = A + m * lda;
      float acc[NR];
      if (W.storage() == Storage::kF32) {
        const float* w = W.f32() + off;
        for (int j = 0; j < NR; ++j) acc[j] = w[j];
        for (int k = 0; k < K; ++k) {
          const float* wk = w + (k + 1) * NR;
          const float av = a[k];
          for (int j = 0; j < NR; ++j) acc[j] += av * wk[j];
        }
      } else {
        const uint16_t* w = W.f16() + off;
        for (int j = 0; j < NR; ++j) acc[j] = f16_to_f32(w[j]);
        for (int k = 0; k < K; ++k) {
          for (int j = 0; j < NR; ++j) buf[j] = f16_to_f32(w[(k + 1) * NR + j]);
          const float av = a[k];
          for (int j = 0; j < NR; ++j) acc[j] += av * buf[j];
        }
      }
      float* c = C + m * ldc + (n - n0);
      for (int j = 0; j < nr; ++j) c[j] = acc[j];
    }
  }
}

void gemm(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W) {
  gemm_cols(C, ldc, A, lda, M, W, 0, W.N());
}

}  // namespace lmdbg::kernels
