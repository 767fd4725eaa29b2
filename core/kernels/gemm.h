// Packed-weight GEMM: C[M,N] = A[M,K] · W[K,N] + bias[N].
//
// Weights are packed once at load (XNNPACK style): panels of NR columns, each panel holding
// its NR biases first and then K rows of NR values, so accumulators start from the bias.
// Storage is f32 or f16 (decoded to f32 in the kernel); compute is always f32.
//
//   PackedMatrix w = PackedMatrix::pack({ptr, DType::kF32, K, N}, bias, Storage::kF32);
//   gemm(C, N, A, K, M, w);
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmdbg::kernels {

enum class DType { kF32, kF16, kBF16 };
enum class Storage { kF32, kF16 };

// A row-major source matrix as found in a checkpoint, not yet decoded.
struct SrcMatrix {
  const void* data;
  DType dtype;
  int rows, cols;
  bool transposed = false;  // true: logical W[k][n] = data[n * rows... ] i.e. data is [N,K] (e.g. wte for the unembedding)
};

class PackedMatrix {
 public:
  static constexpr int NR = 8;

  PackedMatrix() = default;
  // W is [K,N] (PyTorch Conv1D layout: in, out) or, if src.transposed, stored as [N,K].
  // bias may be null (zeros).
  static PackedMatrix pack(const SrcMatrix& src, const float* bias, Storage storage);

  int K() const { return K_; }
  int N() const { return N_; }
  Storage storage() const { return storage_; }
  size_t bytes() const { return f32_.size() * 4 + f16_.size() * 2; }

  float at(int k, int n) const;
  void row(int k, float* out) const;  // W[k, 0..N)
  void col(int n, float* out) const;  // W[0..K, n)
  float bias(int n) const;

  // Internal layout, for the kernels.
  const float* f32() const { return f32_.data(); }
  const uint16_t* f16() const { return f16_.data(); }
  size_t panel_stride() const { return static_cast<size_t>(K_ + 1) * NR; }

 private:
  int K_ = 0, N_ = 0;
  Storage storage_ = Storage::kF32;
  std::vector<float> f32_;
  std::vector<uint16_t> f16_;
};

// C[M,N] = A[M,K] · W + bias. lda/ldc are row strides in floats.
void gemm(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W);

// Same, for a column range [n0, n1) of W only (n0 multiple of NR). C points at column n0.
void gemm_cols(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W, int n0, int n1);

}  // namespace lmdbg::kernels
