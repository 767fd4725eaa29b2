// Keyword search over all value vectors, in the client, with no prebuilt index.
//
// Keywords. A keyword matches its tokens under every case and leading-space spelling: "paris"
// tries "paris", "Paris", "PARIS", each with and without a leading space, and keeps the spellings
// that are one token (case folding covers ASCII, Latin-1, Greek and Cyrillic letters; other text is
// matched as typed). When no spelling is one token, the keyword is marked multi-token and matched
// by the first token of each spelling (what a vector must promote for the model to start the word);
// the result says so and lists the keyword's pieces.
//
// Ranking 1 (default), z-scores. For value vector v and token t, LM-Debugger asks whether t is among
// the top tokens of r = wte·v. We score t by its z-score within r:
//     z(t, v) = (wte[t]·v - mean(r)) / std(r),   mean(r) = μ·v,   var(r) = vᵀ Σ v,
// where μ and Σ are the mean and covariance of the rows of wte. These moments are exact (population
// statistics over the whole vocabulary), so z needs one dot product per (token, vector) instead of a
// projection onto the whole vocabulary. SearchStats holds μ·v and std(r) for every vector; it costs
// about d²(V + n) multiply-adds once per model (computed on first use).
// A keyword's score is the best z of its tokens; several keywords add up, so hits promote all of them.
// A keyword's match with z < kWeakZ is weak: the token is not among the vector's top tokens in any
// useful sense (were the projection normal, z >= 3 would be its top 0.13%: about 68 of GPT-2's
// 50,257 tokens, close to LM-Debugger's top 50), and a hit whose matches are all weak is marked weak.
//
// Ranking 2, LM-Debugger's. A vector's score is how many keywords have a token among its top 50
// (LM-Debugger indexes each vector's top-50 tokens); ties are ordered by the z-score sum. Exact: the
// value index keeps each vector's top-50 cut (core/analysis/value_index.h), so it needs the whole
// index (every vector projected once per model: precomputed in idle time, or value_index.bin).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/analysis/tokens.h"
#include "core/analysis/value_index.h"
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

constexpr float kWeakZ = 3.f;

enum class SearchRanking { kZScore, kLmDebugger };

struct SearchOptions {
  int limit = 20;
  SearchRanking ranking = SearchRanking::kZScore;
};

struct KeywordTokens {
  std::string keyword;      // trimmed, as typed
  std::vector<int> tokens;  // distinct candidate tokens (single-token spellings, or first tokens)
  bool multi_token = false; // no spelling is one token
  std::vector<int> pieces;  // multi_token: the keyword with a leading space, as typed, in tokens
};

struct KeywordMatch {
  int token = 0;        // the keyword's best token for this vector
  float z = 0.f;        // its z-score
  bool weak = false;    // z < kWeakZ
  bool in_top = false;  // LM-Debugger ranking: a token of the keyword is among the vector's top 50
};

struct SearchHit {
  int layer = 0, index = 0;
  float score = 0.f;                  // the ranking's: the z sum, or the number of keywords in the top 50
  float z_sum = 0.f;                  // sum over keywords of the best z
  bool weak = false;                  // every match is weak
  std::vector<KeywordMatch> matched;  // one per keyword, in order
  std::vector<TokenScore> top;        // top tokens of wte·v (when asked)
};

std::vector<KeywordTokens> keyword_tokens(const Model& m, const std::vector<std::string>& keywords);
// The case spellings tried for a keyword (as typed, lower, Capitalised, UPPER; distinct).
std::vector<std::string> case_variants(const std::string& keyword);

// Ranks all n_layers × d_mlp value vectors (hits' `top` left empty: the Session fills it from its
// value index). The LM-Debugger ranking needs `index` complete (its top-50 cuts); it lists only
// vectors with at least one keyword in their top 50.
std::vector<SearchHit> search_value_vectors(const Model& m, const SearchStats& stats,
                                            const std::vector<std::string>& keywords, const SearchOptions& opt,
                                            const ValueIndex* index = nullptr);

// z-scores of one token against every value vector ([L * d_mlp]); exposed for tests and tools.
std::vector<float> token_zscores(const Model& m, const SearchStats& stats, int token);

}  // namespace lmdbg
