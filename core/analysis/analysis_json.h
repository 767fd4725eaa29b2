// JSON for the analysis results, shared by the CLI and the wasm bindings (docs/trace-schema.md).
#pragma once
#include <string>
#include <vector>

#include "core/analysis/clusters.h"
#include "core/analysis/search.h"
#include "core/analysis/value_vectors.h"

namespace lmdbg {

// clusters may be null; with it, the vector's cluster (id, size, top tokens, first members) is added.
std::string value_vector_to_json(const Model& m, const ValueVectorTokens& v, const Clusters* clusters = nullptr,
                                 int cluster_members_limit = 50);
std::string search_to_json(const Model& m, const std::vector<std::string>& keywords, const std::vector<SearchHit>& hits);
std::string cluster_to_json(const Model& m, const Clusters& c, int cluster, int top_k, int members_limit);

}  // namespace lmdbg
