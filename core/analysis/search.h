// Keyword search over all value vectors, in the client, with no prebuilt index.
//
// Scoring. For value vector v and token t, LM-Debugger asks whether t is among the top tokens of
// r = wte·v. We score t by its z-score within r:
//     z(t, v) = (wte[t]·v - mean(r)) / std(r),   mean(r) = μ·v,   var(r) = vᵀ Σ v,
// where μ and Σ are the mean and covariance of the rows of wte. These moments are exact (population
// statistics over the whole vocabulary), so z needs one dot product per (token, vector) instead of a
// projection onto the whole vocabulary. SearchStats holds μ·v and std(r) for every vector; it costs
// about d²(V + n) multiply-adds once per model (computed on first use).
// A keyword counts its whole-word tokens with and without a leading space (or, when neither
// spelling is one token, the first token of each); its score is the best z of those; several
// keywords add up, so hits promote all of them.
#pragma once
#include <string>
#include <vector>

#include "core/analysis/tokens.h"
#include "core/model/model.h"

namespace lmdbg {

struct SearchStats {
  int n_layers = 0, d_mlp = 0;
  std::vector<float> mean;  // [L * d_mlp] μ·v
  std::vector<float> std;   // [L * d_mlp] sqrt(vᵀ Σ v)
};

SearchStats compute_search_stats(const Model& m);

struct KeywordTokens {
  std::string keyword;
  std::vector<int> tokens;  // distinct candidate tokens
};

struct SearchHit {
  int layer = 0, index = 0;
  float score = 0.f;                  // sum over keywords of the best z
  std::vector<TokenScore> matched;    // per keyword: the best token, with logit = its z-score
  std::vector<TokenScore> top;        // top tokens of wte·v (when asked)
};

std::vector<KeywordTokens> keyword_tokens(const Model& m, const std::vector<std::string>& keywords);

// Ranks all n_layers × d_mlp value vectors. top_k > 0 also projects the returned hits.
std::vector<SearchHit> search_value_vectors(const Model& m, const SearchStats& stats,
                                            const std::vector<std::string>& keywords, int limit, int top_k = 0);

// z-scores of one token against every value vector ([L * d_mlp]); exposed for tests and tools.
std::vector<float> token_zscores(const Model& m, const SearchStats& stats, int token);

}  // namespace lmdbg
