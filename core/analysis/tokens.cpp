#include "tokens.h"

#include <algorithm>

#include "core/kernels/topk.h"
#include "core/kernels/vmath.h"

namespace lmdbg {

double logsumexp(const float* x, int n) {
  if (n <= 0) return -INFINITY;
  const float mx = kernels::max_f32(x, n);
  if (std::isinf(mx)) return NAN;  // all -inf or NaN, or a +inf logit: as exp(x - mx) summed would give
  return mx + std::log(kernels::sum_exp_f64(x, n, mx));
}

namespace {
std::vector<TokenScore> top_with(const float* logits, int n, int k, bool with_probs, bool largest, double lse) {
  std::vector<int> idx(std::max(0, std::min(k, n)));
  const int got = kernels::topk(logits, n, k, idx.data(), largest);
  idx.resize(got);
  std::vector<TokenScore> out;
  out.reserve(got);
  for (int id : idx)
    out.push_back({id, logits[id], with_probs ? static_cast<float>(std::exp(logits[id] - lse)) : NAN});
  return out;
}
}  // namespace

std::vector<TokenScore> top_tokens(const float* logits, int n, int k, bool with_probs, bool largest) {
  return top_with(logits, n, k, with_probs, largest, with_probs ? logsumexp(logits, n) : 0.0);
}

std::vector<TokenScore> top_tokens_lse(const float* logits, int n, int k, double lse) {
  return top_with(logits, n, k, true, true, lse);
}

int rank_of(const float* x, int n, int id) {
  int r = 0;
  const float v = x[id];
  for (int i = 0; i < n; ++i) r += x[i] > v;
  return r;
}

}  // namespace lmdbg
