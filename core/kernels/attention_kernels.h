// SIMD helpers for the attention inner loops (one head, one query):
//
//   attn_scores(s, q, k, ldk, n, d, scale):    s[j] = scale * dot(q[0..d), k[j*ldk + 0..d)),  j < n
//   attn_weighted_sum(o, p, v, ldv, n, d):     o[0..d) = sum_j p[j] * v[j*ldv + 0..d)
//
// k / v point at the head's first column of key / value row 0 (row stride ldk / ldv floats), as
// in core/ops/attention.cpp. Plain dot-product loops do not vectorise without -ffast-math
// (reassociation), so these split d over independent vector accumulators. Sums are reassociated:
// results differ from a sequential loop by f32 rounding only.
#pragma once
#include <cstddef>

namespace lmdbg::kernels {

void attn_scores(float* s, const float* q, const float* k, size_t ldk, int n, int d, float scale);
void attn_weighted_sum(float* o, const float* p, const float* v, size_t ldv, int n, int d);

}  // namespace lmdbg::kernels
