// Ranked token lists over a vocabulary-sized row of logits.
#pragma once
#include <cmath>
#include <vector>

namespace lmdbg {

struct TokenScore {
  int id = 0;
  float logit = 0.f;
  float prob = NAN;  // softmax probability; NaN where it has no meaning (raw projections)
};

// log(sum(exp(x))) over n values, stable (max shift; terms by a vectorised exp, summed in double).
double logsumexp(const float* x, int n);

// The k largest (or smallest) entries, best first, ties by lower id. With probs, fills prob via softmax.
std::vector<TokenScore> top_tokens(const float* logits, int n, int k, bool with_probs, bool largest = true);
// The k largest, with probabilities from a logsumexp the caller already has.
std::vector<TokenScore> top_tokens_lse(const float* logits, int n, int k, double lse);

// Number of entries strictly greater than x[id] (0 = top-1).
int rank_of(const float* x, int n, int id);

}  // namespace lmdbg
