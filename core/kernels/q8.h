// q8 weight storage (PackedMatrix Storage::kQ8): int8 weights with one scale per block of 32
// along K, and the GEMM microkernels that read it. The file format that carries such weights is
// docs/weights-format.md; callers outside core/kernels use gemm.h.
//
// Weights (quantized once: at pack time, or by `lmdbg convert --dtype q8`). For column n of
// W [K, N] and block b (rows k = 32b .. 32b + 31; the last block may be shorter):
//   s[b, n] = the smallest f16 >= max|w| / 127 (0 for an all-zero block),
//   q[k, n] = round-half-even(w / s) in [-127, 127] (the division in f32).
//   The dequantized weight q * s is exact in f32 (8-bit q times an 11-bit f16), and
//   |w - q s| <= 0.50001 s.
// Activations (in every GEMM call): each row of A is quantized per block of 32 to int16,
//   t = max|a_block| / 32767 (f32),   a_q = round-half-even(a * (32767 / max|a_block|)),
//   so |a - a_q t| <= 0.51 t = 2^-16 of the block's largest |a|; a block holding NaN or Inf gets
//   t = NaN (the outputs of that row become NaN, as in f32 compute).
// Compute: every output is, for every kernel, tile, column range and thread count,
//   acc = 0;  for each block b ascending:  acc = madd(acc, float(I_b), t_b * s[b, n]);  acc + bias[n]
// with I_b = sum over the block of a_q[k] * q[k, n] in int32, exact (pairs of k through
// i32x4.dot_i16x8_s in wasm, vpmaddwd natively; |I_b| < 2^27). So a row's result does not depend
// on M or on the split, as for f32 and f16 storage (gemm.h, Determinism). The int16 activations
// make the product cheaper than decoding int8 to f32 (docs/BENCHMARKS.md, "q8"): 6 wasm
// instructions per 16 multiply-adds instead of ~20.
//
// Packed layout, per panel of NR columns (PackedMatrix::NR), K padded to whole blocks with zeros:
//   for each block b: NR f32 scales s[b, n0 .. n0 + NR), then 16 pairs of rows (k, k + 1), each
//   pair NR x 2 int8: column j's q[k, j], q[k + 1, j] at bytes 2j, 2j + 1.
//   Biases: f32, NR per panel, in a separate array (as for f16 storage).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace lmdbg::kernels {

inline constexpr int kQ8Block = 32;

// Blocks of K; bytes of one block of one panel of NR columns; bytes of one panel.
constexpr size_t q8_blocks(size_t K) { return (K + kQ8Block - 1) / kQ8Block; }
constexpr size_t q8_block_bytes(size_t nr) { return nr * 4 + kQ8Block * nr; }
constexpr size_t q8_panel_bytes(size_t K, size_t nr) { return q8_blocks(K) * q8_block_bytes(nr); }

// The f16 bits of a block's scale for max|w| = amax (finite, >= 0): the smallest f16 >= amax / 127,
// 0 for amax = 0. Returns 0x7c00 (inf) when amax / 127 exceeds the largest f16 (amax > 8.3e6).
uint16_t q8_scale_for(float amax);
// q = round-half-even(w / s) clamped to [-127, 127]; 0 when s = 0.
int8_t q8_quantize(float w, float s);

// Quantizes M rows of A [M, K] (row stride lda) per block: out [M, blocks * 32] int16 (zero past K),
// out_scale [M, blocks] (see the top of this file).
void q8_quantize_rows(size_t M, size_t K, const float* a, size_t lda, int16_t* out, float* out_scale);

// c[mr, nc] = dequantized product + bias. a: mr rows of nb * 32 int16; at: mr rows of nb scales;
// w: panels of nb blocks (panel stride q8_panel_bytes); bias: NR floats per panel; nc may span
// panels; rows past mr alias the last one (ukernel_impl.h's contract).
using Q8GemmFn = void (*)(size_t mr, size_t nc, size_t nb, const int16_t* a, const float* at, const uint8_t* w,
                          const float* bias, float* c, size_t c_stride);

struct Q8KernelSet {
  const char* isa;
  int mr;  // main tile rows
  Q8GemmFn main, two, one, gemv;  // gemv: M = 1, several panels side by side
};
const Q8KernelSet& q8_kernel_set();         // the fastest for this build
const Q8KernelSet& q8_scalar_kernel_set();  // their __scalar twins (same layout, same sums)

struct Q8GemmUkernel {
  const char* name;
  int mr, nr;
  Q8GemmFn fn;
};
std::span<const Q8GemmUkernel> q8_gemm_ukernels();  // every compiled kernel, for tests

}  // namespace lmdbg::kernels
