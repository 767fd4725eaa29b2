// Clusters of value vectors (LM-Debugger's exploration view), by spherical k-means on the
// normalised vectors: similarity is the cosine, centroids are renormalised means.
// `lmdbg cluster` writes them beside the checkpoint (value_clusters.json); a host without that file
// computes them step by step in idle time (ClusterBuilder: the same algorithm and result). The API
// answers a vector's cluster, its members, and the top tokens of the cluster's summed value vectors.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
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
  bool computed = false;        // computed here (ClusterBuilder) rather than read from value_clusters.json
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

// The same k-means in bounded steps, so a host can compute clusters between requests (the Worker
// does it when idle). Vectors are read from the weights and normalised block by block, so it keeps
// no copy of them: memory is the centroids (2·k·d floats, packed once per iteration) and one block
// of similarities. One unit = one block of 256 vectors against every centroid (256·k·d
// multiply-adds: 0.9·10^9 for GPT-2 small, k = 4608); an iteration is n / 256 units.
//   ClusterBuilder b(model, {});
//   while (!b.step(1)) { /* yield */ }
//   Clusters c = b.take();
class ClusterBuilder {
 public:
  ClusterBuilder(const Model& m, const ClusterOptions& opt);
  ~ClusterBuilder();
  bool step(int units);     // true once complete (converged or out of iterations)
  double progress() const;  // 0..1, against the iteration limit
  Clusters take();          // after step() returned true

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

io::ojson clusters_to_json(const Clusters& c);
// value_clusters.json, validated against the model; throws Error(kBadFile) naming the problem.
Clusters clusters_from_json(const io::json& j, const Model& m);

std::vector<ValueVectorRef> cluster_members(const Clusters& c, int cluster);
// Top tokens of wte · (sum of the members' value vectors).
std::vector<TokenScore> cluster_top_tokens(const Model& m, const Clusters& c, int cluster, int k);

}  // namespace lmdbg
