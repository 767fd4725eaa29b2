// Row access to a packed weight matrix W [K, N] (gemm.h), for the analyses that treat the rows of
// W as vectors: mlp.c_proj's rows are the value vectors v_i.
//
//   copy_rows(W, k0, k1, out, ld)              out[(k - k0) * ld + n] = W[k, n], k in [k0, k1)
//   copy_cols(W, n0, n1, out, ld)              out[k * ld + (n - n0)] = W[k, n], n in [n0, n1)
//                                              (for the tied unembedding: the embeddings of tokens
//                                              n0..n1, as a [d, n1 - n0] matrix)
//   rows_dot(W, x, nx, ldx, y, ldy, k0, k1)    y[j * ldy + (k - k0)] = sum_n W[k, n] * x[j * ldx + n]
//                                              for j < nx: W·x_j over a range of rows (no bias)
//
// Both walk the panels in memory order for a block of rows (contiguous NR-wide slices), decode f16
// storage with the GEMM's decoder (the scaled integer decode: x pre-scaled by a power of two, exact)
// and add the f16-subnormal side list. copy_rows is exact (the stored values, like
// PackedMatrix::at); rows_dot sums n in SIMD lanes (a different order than gemm(): f32 rounding).
// PackedMatrix::row() decodes element by element through at() (a binary search per f16 zero):
// ~100x slower, fine for one row, not for 36,864 value vectors per search.
#pragma once
#include <cstddef>

#include "gemm.h"

namespace lmdbg::kernels {

void copy_rows(const PackedMatrix& W, int k0, int k1, float* out, size_t ld);
void copy_cols(const PackedMatrix& W, int n0, int n1, float* out, size_t ld);
void rows_dot(const PackedMatrix& W, const float* x, int nx, size_t ldx, float* y, size_t ldy, int k0, int k1);

}  // namespace lmdbg::kernels
