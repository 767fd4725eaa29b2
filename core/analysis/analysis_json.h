// JSON for the analysis results, as values (the bindings and the CLI print them once). Shapes are
// documented in docs/trace-schema.md.
#pragma once
#include <string>
#include <vector>

#include "core/analysis/clusters.h"
#include "core/analysis/search.h"
#include "core/analysis/value_vectors.h"
#include "core/io/json.h"

namespace lmdbg {

// {"id", "text"}: text is the token's bytes (U+FFFD where a token holds part of a character).
io::ojson token_json(const Model& m, int id);
// [{"id", "text", "logit", "prob"?}]; prob where the list is a probability distribution.
io::ojson token_list_json(const Model& m, const std::vector<TokenScore>& ts);

// clusters may be null; with it, the vector's cluster (id, size, top tokens, first members) is added.
io::ojson value_vector_to_json(const Model& m, const ValueVectorTokens& v, const Clusters* clusters = nullptr,
                               int cluster_members_limit = 50);
io::ojson search_to_json(const Model& m, const std::vector<std::string>& keywords, const std::vector<SearchHit>& hits,
                         const SearchOptions& opt);
// "zscore" | "lmdebugger"
SearchRanking search_ranking_from_name(const std::string& name);
io::ojson cluster_to_json(const Model& m, const Clusters& c, int cluster, int top_k, int members_limit);

}  // namespace lmdbg
