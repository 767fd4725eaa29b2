#include "attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/kernels/attention_kernels.h"
#include "core/kernels/parallel.h"
#include "core/kernels/vmath.h"

namespace lmdbg::ops {

namespace {
// Below this many score multiply-adds (H * T * (P + T) * dh) the heads stay on one thread: a
// generation step over a short cache is a few microseconds of work, like one fork-join.
constexpr double kParallelMinMacs = 1 << 17;
}  // namespace

// Per head and query: scores against every visible key (attn_scores: 4 keys per pass, SIMD over
// d_head), softmax (vectorised exp), then the weighted sum of values (attn_weighted_sum). The
// arithmetic for a query depends only on its absolute position and the cache contents, so a
// KV-cached step computes exactly what the full prompt computes at that position. Heads and
// their query rows are independent, so they run in parallel (kernels::parallel_for) with bitwise the
// same results.
void attention_forward(float* out, float* scores, float* pattern, const float* q, int ldq, const float* k, const float* v,
                       int ldkv, int T, int P, int H, int dh) {
  const int S = P + T;
  const float scale = 1.f / std::sqrt(static_cast<float>(dh));
  const int d = H * dh;
  // One query row of one head. The thread-local row buffer is one per thread.
  const auto row = [&](int h, int t, std::vector<float>& w) {
    const float* qt = q + static_cast<size_t>(t) * ldq + h * dh;
    const int n = P + t + 1;
    kernels::attn_scores(w.data(), qt, k + h * dh, ldkv, n, dh, scale);
    if (scores) {
      float* s = scores + (static_cast<size_t>(h) * T + t) * S;
      std::copy(w.begin(), w.begin() + n, s);
      std::fill(s + n, s + S, -std::numeric_limits<float>::infinity());
    }
    kernels::softmax_f32(w.data(), n);
    float* o = out + static_cast<size_t>(t) * d + h * dh;
    kernels::attn_weighted_sum(o, w.data(), v + h * dh, ldkv, n, dh);
    if (pattern) {
      float* p = pattern + (static_cast<size_t>(h) * T + t) * S;
      std::copy(w.begin(), w.begin() + n, p);
      std::fill(p + n, p + S, 0.f);
    }
  };
  // Tasks: a head and every B-th query row from b. Strided rows give the tasks of a head nearly the
  // same causal work; B > 1 only when there are fewer heads than 4 tasks per thread.
  const bool split = static_cast<double>(H) * T * S * dh >= kParallelMinMacs;
  const int B = split ? std::clamp((4 * kernels::num_threads() + H - 1) / H, 1, T) : 1;
  const auto task = [&](int i) {
    thread_local std::vector<float> w;
    if (w.size() < static_cast<size_t>(S)) w.resize(S);
    const int h = i / B;
    for (int t = i % B; t < T; t += B) row(h, t, w);
  };
  if (!split) {
    for (int h = 0; h < H; ++h) task(h);
  } else {
    kernels::parallel_for(H * B, task);
  }
}

}  // namespace lmdbg::ops
