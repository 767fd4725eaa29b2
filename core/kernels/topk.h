// Top-k selection over a float vector: the k largest (or smallest) values of x[0..n).
//
//   int idx[10];
//   int got = topk(logits, 50257, 10, idx);         // idx sorted by value, largest first
//   int lo = topk(logits, 50257, 10, idx, false);   // smallest first
//
// Ties are broken by the lower index (a stable order). NaN ranks below every number in both
// directions (it is selected only when fewer than k numbers exist). Returns min(k, n) (0 for
// k <= 0 or n <= 0), the number of indices written. O(n + k log k): one vectorised pass over x
// for block maxima, one pass over the few blocks that can hold the top k, no full sort.
#pragma once

namespace lmdbg::kernels {

int topk(const float* x, int n, int k, int* idx_out, bool largest = true);

}  // namespace lmdbg::kernels
