#include "tokens.h"

#include <algorithm>

#include "core/kernels/topk.h"

namespace lmdbg {

double logsumexp(const float* x, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - mx);
  return mx + std::log(s);
}

std::vector<TokenScore> top_tokens(const float* logits, int n, int k, bool with_probs, bool largest) {
  std::vector<int> idx(std::max(0, std::min(k, n)));
  const int got = kernels::topk(logits, n, k, idx.data(), largest);
  idx.resize(got);
  const double lse = with_probs ? logsumexp(logits, n) : 0.0;
  std::vector<TokenScore> out;
  out.reserve(got);
  for (int id : idx)
    out.push_back({id, logits[id], with_probs ? static_cast<float>(std::exp(logits[id] - lse)) : NAN});
  return out;
}

int rank_of(const float* x, int n, int id) {
  int r = 0;
  const float v = x[id];
  for (int i = 0; i < n; ++i) r += x[i] > v;
  return r;
}

}  // namespace lmdbg
