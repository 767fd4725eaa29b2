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
#include <memory>
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

// The same computation in bounded steps, so a host can prepare search between requests (the Worker
// does it when idle). Cost (GPT-2 small): the covariance of wte by a symmetric rank-256 update per
// chunk of tokens (upper triangle only: V·d²/2 multiply-adds), then vᵀΣv = 2·v·(U v) with U the upper
// triangle of Σ (diagonal halved), as GEMMs over column blocks that skip U's zero lower part
// (n·d²/2): about 25·10^9 multiply-adds in all, half of Σ and vᵀΣv computed in full.
//   SearchStatsBuilder b(model);
//   while (!b.step(1)) { /* yield */ }     // one unit ~ 256 tokens or vectors, ~10^8 multiply-adds
//   SearchStats s = b.take();
class SearchStatsBuilder {
 public:
  explicit SearchStatsBuilder(const Model& m);
  ~SearchStatsBuilder();
  bool step(int units);     // true once complete
  double progress() const;  // 0..1
  SearchStats take();       // after step() returned true

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

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

// Ranks all n_layers × d_mlp value vectors (hits' `top` left empty: the Session fills it from its
// value index).
std::vector<SearchHit> search_value_vectors(const Model& m, const SearchStats& stats,
                                            const std::vector<std::string>& keywords, int limit);

// z-scores of one token against every value vector ([L * d_mlp]); exposed for tests and tools.
std::vector<float> token_zscores(const Model& m, const SearchStats& stats, int token);

}  // namespace lmdbg
