// Packed-weight GEMM: C[M,N] = A[M,K] · W[K,N] + bias[N].
//
// Weights are packed once at load (XNNPACK style) into panels of NR columns. With f32 storage a
// panel holds its NR biases and then K rows of NR values (the bias is added after the k sum, see
// Determinism). With f16 storage a panel holds K rows of NR halves (in the decoder's order, simd.h) and the
// biases stay f32, exact, in a separate array. Compute is always f32. f16 subnormal weights
// (|w| < 2^-14, about 0.2% of GPT-2's) are kept exactly in a sorted side list and added after the
// dense product, because as f32 subnormals they would cost x86 a ~100-cycle microcode assist per
// SIMD multiply: 2x slower GEMV with GPT-2-like weights (docs/BENCHMARKS.md).
//
// The kernels (ukernels.h) are chosen at compile time: wasm simd128 4x8 tiles (NR = 8), x86
// AVX2+FMA 6x16 tiles (NR = 16), scalar 4x8 elsewhere. M = 1 (generation) runs a GEMV kernel that
// streams the weights once, four panels side by side. f16 weights: wasm decodes them with
// integer SIMD in the kernel for M <= 8 and, for larger M, one panel at a time into an f32 scratch
// panel that all row tiles then reuse; x86 decodes with F16C in the kernel. Measured f16/f32
// time in wasm: x1.0-1.1 for prompts (M >= 12), x0.6-0.7 for GEMV on large matrices.
//
//   // W is [K,N] = [in,out] (PyTorch Conv1D), row-major f32; x is [M,K]; y is [M,N].
//   PackedMatrix w = PackedMatrix::pack({wdata, DType::kF32, K, N}, bias, Storage::kF16);
//   gemm(y, N, x, K, M, w);
//   // tied unembedding: logits[M,V] = x · wte^T with wte stored [V,d]
//   PackedMatrix u = PackedMatrix::pack({wte, DType::kF32, V, d, /*transposed=*/true}, nullptr, Storage::kF32);
//   gemm(logits, V, x, d, M, u);
//   u.col(token, emb);  // wte[token, :], the embedding row
//
// Determinism: every output is (sum over k ascending of a[m,k] * w[k,n], in f32) + bias[n], then
// + the f16-subnormal terms, whatever M, the tile, the column range or the f16 path. So a row of
// C is bitwise the same whether computed alone (generation with a KV cache) or inside a longer
// prompt, and f16 storage of weights that are exactly f16 gives bitwise the f32-storage result
// (unless some are f16 subnormals: those are added last, after the bias).
// (Natively a*w + acc is one FMA; in wasm a rounded multiply then an add.)
// q8 storage (q8.h): int8 weights with an f16 scale per block of 32 along K; the kernels quantize
// each row of A per block to int16 and sum the products exactly in int32, blocks in f32. The
// results are approximate (docs/weights-format.md measures how much); they keep the determinism above
// (every output is one chain whatever M, the tile, the column range or the thread count).
//   PackedMatrix q = PackedMatrix::pack({wdata, DType::kF32, K, N}, bias, Storage::kQ8);  // quantizes
//   PackedMatrix r = PackedMatrix::pack({q8data, DType::kQ8, K, N, false, scales}, bias, Storage::kQ8);  // as stored
// Errors: lmdbg::Error (kInvalidArgument) on bad shapes or on weights that f16 storage cannot
// hold (|w| > 65504, inf, nan) or q8 storage cannot (inf, nan, |w| > 8.3e6).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "no_init.h"
#include "parallel.h"
#include "q8.h"

namespace lmdbg::kernels {

// kQ8: int8 values plus f16 scales per block of 32 along K (SrcMatrix::scales, q8.h).
enum class DType { kF32, kF16, kBF16, kQ8 };
enum class Storage { kF32, kF16, kQ8 };

// A row-major source matrix as found in a checkpoint, not yet decoded.
struct SrcMatrix {
  const void* data;
  DType dtype;
  int rows, cols;
  bool transposed = false;  // false: W = data, [K = rows, N = cols]; true: data is [N = rows, K = cols], W = data^T
  // kQ8 only: f16 scales, one per block of 32 along K: [ceil(K/32), N] (or [N, ceil(K/32)] if transposed).
  const void* scales = nullptr;
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
  size_t bytes() const {
    return f32_.size() * 4 + f16_.size() * 2 + q8_.size() + bias_.size() * 4 + sub_.size() * sizeof(Subnormal);
  }
  // bytes() of a [K,N] matrix packed with this storage, without packing it (f16: without the
  // subnormal side list, about 0.03 bytes per weight for GPT-2). In 64 bits: wasm's size_t has 32.
  static uint64_t packed_bytes(int K, int N, Storage storage) {
    const uint64_t cols = (static_cast<uint64_t>(N) + NR - 1) / NR * NR, k = static_cast<uint64_t>(K);
    switch (storage) {
      case Storage::kF32: return cols * (k + 1) * 4;
      case Storage::kF16: return cols * (k * 2 + 4);
      case Storage::kQ8: return cols / NR * q8_panel_bytes(k, NR) + cols * 4;
    }
    return 0;
  }
  // The same matrix in another storage (f32 -> q8 for a screening copy, ...): decoded panel by
  // panel, then packed as pack() would pack the decoded values.
  PackedMatrix converted(Storage storage) const;

  float at(int k, int n) const;       // W[k, n], decoded (f16 -> f32 exactly)
  void row(int k, float* out) const;  // W[k, 0..N)
  void col(int n, float* out) const;  // W[0..K, n)  (for a transposed source: data row n)
  float bias(int n) const;
  // Replaces the N biases (a streaming load may receive a bias after its weight).
  void set_bias(const float* bias);

  // Internal layout, for the kernels.
  int panels() const { return (N_ + NR - 1) / NR; }
  const float* f32() const { return f32_.data(); }        // f32 storage: panels [NR bias][K x NR]
  const uint16_t* f16() const { return f16_.data(); }     // f16 storage: panels [K x NR] halves
  const float* f16_bias() const { return bias_.data(); }  // f16 and q8 storage: panels() * NR biases
  const uint8_t* q8() const { return q8_.data(); }        // q8 storage: panels of blocks (q8.h)
  // f16 storage: the weights whose f16 is subnormal; f16() holds +0 in their place.
  struct Subnormal {
    int n, k;
    float w;
  };
  const std::vector<Subnormal>& f16_subnormals() const { return sub_; }  // sorted by (n, k)
  // Elements (floats, halves or, for q8, bytes) from one panel to the next.
  size_t panel_stride() const {
    switch (storage_) {
      case Storage::kF32: return static_cast<size_t>(K_ + 1) * NR;
      case Storage::kF16: return static_cast<size_t>(K_) * NR;
      case Storage::kQ8: return q8_panel_bytes(static_cast<size_t>(K_), NR);
    }
    return 0;
  }
  // q8 storage: q[k, n] and the scale of its block.
  int8_t q8_value(int k, int n) const;
  float q8_scale(int k, int n) const;

 private:
  size_t f16_index(int k, int n) const;
  template <class Fill>
  static PackedMatrix pack_panels(int K, int N, const float* bias, Storage storage, DType from, Fill&& fill);

  int K_ = 0, N_ = 0;
  Storage storage_ = Storage::kF32;
  // Sized, then written in full by pack(): not zeroed first (no_init.h).
  uninit_vector<float> f32_;
  uninit_vector<uint16_t> f16_;
  uninit_vector<uint8_t> q8_;
  std::vector<float> bias_;
  std::vector<Subnormal> sub_;
};

// C[M,N] = A[M,K] · W + bias. lda/ldc are row strides in floats. M = 0 does nothing.
// `aside`: the caller's own serial work, run once while the other threads start (parallel.h).
void gemm(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W, const Aside& aside = {});

// Same, for the column range [n0, n1) of W only (n1 is clamped to N). C points at column n0.
// Any n0 works; n0 a multiple of PackedMatrix::NR avoids recomputing one partial panel.
// Thread-safe for concurrent calls (scratch buffers are thread_local), e.g. one range per thread.
void gemm_cols(float* C, size_t ldc, const float* A, size_t lda, int M, const PackedMatrix& W, int n0, int n1,
               const Aside& aside = {});

}  // namespace lmdbg::kernels
