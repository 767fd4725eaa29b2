// Clusters of value vectors (LM-Debugger's exploration view), by spherical k-means on the
// normalised vectors: similarity is the cosine, centroids are renormalised means.
// weights_tools writes them beside the checkpoint (value_clusters.json); the API answers a vector's
// cluster, its members, and the top tokens of the cluster's summed value vectors.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/analysis/tokens.h"
#include "core/analysis/value_vectors.h"
#include "core/io/json.h"
#include "core/model/model.h"

namespace lmdbg {

struct Clusters {
  int n_layers = 0, d_mlp = 0, k = 0;
  std::vector<int> assignment;  // [n_layers * d_mlp] cluster id of each value vector
  int cluster_of(int layer, int index) const { return assignment[static_cast<size_t>(layer) * d_mlp + index]; }
};

struct ClusterOptions {
  int k = 0;          // 0: n / 8 (about 8 vectors a cluster: tight enough to read as one theme)
  int iterations = 20;
  uint64_t seed = 1;
  std::function<void(int iteration, double moved_fraction)> progress;
};

Clusters cluster_value_vectors(const Model& m, const ClusterOptions& opt);

io::ojson clusters_to_json(const Clusters& c);
// value_clusters.json, validated against the model; throws Error(kBadFile) naming the problem.
Clusters clusters_from_json(const io::json& j, const Model& m);

std::vector<ValueVectorRef> cluster_members(const Clusters& c, int cluster);
// Top tokens of wte · (sum of the members' value vectors).
std::vector<TokenScore> cluster_top_tokens(const Model& m, const Clusters& c, int cluster, int k);

}  // namespace lmdbg
