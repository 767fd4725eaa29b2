// Packed-weight GEMM: C[M,N] = A[M,K] · W[K,N] + bias[N].
//
// Weights are packed once at load (XNNPACK style) into panels of NR columns. With f32 storage a
// panel holds its NR biases and then K rows of NR values, so accumulators start from the bias.
// With f16 storage a panel holds K rows of NR halves (in the decoder's pair order, simd.h) and the
// biases stay f32, exact, in a separate array. Compute is always f32.
//
// The kernels (ukernels.h) are chosen at compile time: wasm simd128 4x8 tiles (NR = 8), x86
// AVX2+FMA 6x16 tiles (NR = 16), scalar 4x8 elsewhere. M = 1 (generation) runs a GEMV kernel that
// streams the weights once; f16 weights are decoded in the kernel for M <= MR and, for larger M,
// one panel at a time into an f32 scratch panel that all row tiles then reuse.
//
//   // W is [K,N] = [in,out] (PyTorch Conv1D), row-major f32; x is [M,K]; y is [M,N].
//   PackedMatrix w = PackedMatrix::pack({wdata, DType::kF32, K, N}, bias, Storage::kF16);
//   gemm(y, N, x, K, M, w);
//   // tied unembedding: logits[M,V] = x · wte^T with wte stored [V,d]
//   PackedMatrix u = PackedMatrix::pack({wte, DType::kF32, V, d, /*transposed=*/true}, nullptr, Storage::kF32);
//   gemm(logits, V, x, d, M, u);
//   u.col(token, emb);  // wte[token, :], the embedding row
//
// Results do not depend on M's split into tiles except through summation order inside a tile:
// every output is bias + sum_k a[m,k] * w[k,n] in f32, k ascending (the 1-row kernels sum k in
// KU interleaved partial sums). Errors: lmdbg::Error (kInvalidArgument) on bad shapes or on
// weights that f16 storage cannot hold (|w| > 65504, inf, nan).
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
  bool transposed = false;  // false: W = data, [K = rows, N = cols]; true: data is [N = rows, K = cols], W = data^T
};

class PackedMatrix {
 public:
  // Panel width (columns per panel) of this build: 8 for wasm simd128 and scalar, 16 for AVX2.
#if defined(__AVX2__) && defined(__FMA__) && !defined(__wasm__)
  static constexpr int NR = 16;
#else
  static constexpr int NR = 8;
#endif

  PackedMatrix() = default;
  // W is [K,N] (PyTorch Conv1D layout: in, out) or, if src.transposed, stored as [N,K].
  // bias may be null (zeros).
  static PackedMatrix pack(const SrcMatrix& src, const float* bias, Storage storage);

  int K() const { return K_; }
  int N() const { return N_; }
  Storage storage() const { return storage_; }
  size_t bytes() const { return f32_.size() * 4 + f16_.size() * 2 + bias_.size() * 4; }
  // bytes() of a [K,N] matrix packed with this storage, without packing it.
  static size_t packed_bytes(int K, int N, Storage storage) {
    const size_t cols = (static_cast<size_t>(N) + NR - 1) / NR * NR;
    return storage == Storage::kF32 ? cols * (static_cast<size_t>(K) + 1) * 4 : cols * (static_cast<size_t>(K) * 2 + 4);
  }

  float at(int k, int n) const;       // W[k, n], decoded (f16 -> f32 exactly)
  void row(int k, float* out) const;  // W[k, 0..N)
  void col(int n, float* out) const;  // W[0..K, n)  (for a transposed source: data row n)
  float bias(int n) const;

  // Internal layout, for the kernels.
  int panels() const { return (N_ + NR - 1) / NR; }
  const float* f32() const { return f32_.data(); }        // f32 storage: panels [NR bias][K x NR]
  const uint16_t* f16() const { return f16_.data(); }     // f16 storage: panels [K x NR] halves
  const float* f16_bias() const { return bias_.data(); }  // f16 storage: panels() * NR biases
  // Elements (floats or halves) from one panel to the next.
  size_t panel_stride() const {
    return storage_ == Storage::kF32 ? static_cast<size_t>(K_ + 1) * NR : static_cast<size_t>(K_) * NR;
  }

 private:
  size_t f16_index(int k, int n) const;

  int K_ = 0, N_ = 0;
  Storage storage_ = Storage::kF32;
  std::vector<float> f32_;
  std::vector<uint16_t> f16_;
  std::vector<float> bias_;
};

// C[M,N] = A[M,K] · W + bias. lda/ldc are row strides in floats. M = 0 does nothing.
void gemm(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W);

// Same, for the column range [n0, n1) of W only (n1 is clamped to N). C points at column n0.
// Any n0 works; n0 a multiple of PackedMatrix::NR avoids recomputing one partial panel.
// Thread-safe for concurrent calls (scratch buffers are thread_local), e.g. one range per thread.
void gemm_cols(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W, int n0, int n1);

}  // namespace lmdbg::kernels
