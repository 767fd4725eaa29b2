#include "clusters.h"

#include <algorithm>
#include <cmath>
#include <climits>
#include <random>

#include "core/error.h"
#include "core/kernels/gemm.h"

namespace lmdbg {

namespace {

constexpr int kRows = 256;

void normalise(float* v, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) s += static_cast<double>(v[i]) * v[i];
  const float inv = s > 0 ? static_cast<float>(1.0 / std::sqrt(s)) : 0.f;
  for (int i = 0; i < d; ++i) v[i] *= inv;
}

}  // namespace

Clusters cluster_value_vectors(const Model& m, const ClusterOptions& opt) {
  const Config& c = m.config();
  const int d = c.d_model, n = c.n_layers * c.d_mlp;
  const int k = opt.k > 0 ? opt.k : std::max(1, n / 8);
  if (k > n) invalid("clusters: k = " + std::to_string(k) + " exceeds the " + std::to_string(n) + " value vectors");
  if (opt.iterations < 1) invalid("clusters: iterations must be >= 1");

  // All normalised value vectors, [n, d] (natively only a few hundred MB even for gpt2-large).
  std::vector<float> x(static_cast<size_t>(n) * d);
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < c.d_mlp; ++i) {
      float* v = x.data() + (static_cast<size_t>(l) * c.d_mlp + i) * d;
      m.value_vector(l, i, v);
      normalise(v, d);
    }

  std::mt19937_64 rng(opt.seed);
  std::vector<int> perm(n);
  for (int i = 0; i < n; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<float> cent(static_cast<size_t>(k) * d);
  for (int j = 0; j < k; ++j) std::copy_n(x.data() + static_cast<size_t>(perm[j]) * d, d, cent.data() + static_cast<size_t>(j) * d);

  Clusters out;
  out.n_layers = c.n_layers;
  out.d_mlp = c.d_mlp;
  out.k = k;
  out.assignment.assign(n, -1);
  std::vector<float> sim(static_cast<size_t>(kRows) * k), best_sim(n);
  for (int it = 0; it < opt.iterations; ++it) {
    // Assign: cosine similarity to every centroid as one GEMM per row block.
    const auto C = kernels::PackedMatrix::pack({cent.data(), kernels::DType::kF32, k, d, /*transposed=*/true}, nullptr,
                                               kernels::Storage::kF32);
    int moved = 0;
    for (int r0 = 0; r0 < n; r0 += kRows) {
      const int rows = std::min(kRows, n - r0);
      kernels::gemm(sim.data(), k, x.data() + static_cast<size_t>(r0) * d, d, rows, C);
      for (int r = 0; r < rows; ++r) {
        const float* s = sim.data() + static_cast<size_t>(r) * k;
        const int best = static_cast<int>(std::max_element(s, s + k) - s);
        if (out.assignment[r0 + r] != best) ++moved;
        out.assignment[r0 + r] = best;
        best_sim[r0 + r] = s[best];
      }
    }
    // Update: renormalised means; an empty cluster takes the point farthest from its centroid.
    std::fill(cent.begin(), cent.end(), 0.f);
    std::vector<int> count(k, 0);
    for (int i = 0; i < n; ++i) {
      const int a = out.assignment[i];
      ++count[a];
      const float* v = x.data() + static_cast<size_t>(i) * d;
      float* ce = cent.data() + static_cast<size_t>(a) * d;
      for (int q = 0; q < d; ++q) ce[q] += v[q];
    }
    for (int j = 0; j < k; ++j) {
      float* ce = cent.data() + static_cast<size_t>(j) * d;
      if (count[j] == 0) {
        const int far = static_cast<int>(std::min_element(best_sim.begin(), best_sim.end()) - best_sim.begin());
        std::copy_n(x.data() + static_cast<size_t>(far) * d, d, ce);
        best_sim[far] = 1.f;
      }
      normalise(ce, d);
    }
    if (opt.progress) opt.progress(it, static_cast<double>(moved) / n);
    if (moved == 0) break;
  }
  return out;
}

io::ojson clusters_to_json(const Clusters& c) {
  return {{"schema", "lmdbg.clusters/1"},
                      {"method", "spherical k-means on normalised value vectors"},
                      {"nLayers", c.n_layers},
                      {"dMlp", c.d_mlp},
                      {"k", c.k},
                      {"assignment", c.assignment}};
}

Clusters clusters_from_json(const io::json& j, const Model& m) {
  const Config& cfg = m.config();
  if (!j.is_object() || !j.contains("schema") || j["schema"] != "lmdbg.clusters/1")  // value() throws on a non-string
    bad_file("value_clusters.json: not an lmdbg.clusters/1 file");
  Clusters c;
  auto field = [&](const char* key) -> const io::json& {
    const io::json* v = io::json_field(j, key);
    if (!v) bad_file(std::string("value_clusters.json: missing \"") + key + "\"");
    return *v;
  };
  auto count = [&](const char* key) {
    return io::json_int(field(key), std::string("value_clusters.json: \"") + key + "\"", 0, INT_MAX, ErrorCode::kBadFile);
  };
  c.n_layers = count("nLayers");
  c.d_mlp = count("dMlp");
  c.k = count("k");
  const io::json& a = field("assignment");
  if (!a.is_array()) bad_file("value_clusters.json: \"assignment\" must be an array");
  for (const auto& e : a) c.assignment.push_back(io::json_int(e, "value_clusters.json: cluster id", INT_MIN, INT_MAX, ErrorCode::kBadFile));
  if (c.n_layers != cfg.n_layers || c.d_mlp != cfg.d_mlp)
    bad_file("value_clusters.json: made for " + std::to_string(c.n_layers) + "x" + std::to_string(c.d_mlp) +
             " value vectors, but the model has " + std::to_string(cfg.n_layers) + "x" + std::to_string(cfg.d_mlp));
  if (c.assignment.size() != static_cast<size_t>(c.n_layers) * c.d_mlp)
    bad_file("value_clusters.json: assignment has " + std::to_string(c.assignment.size()) + " entries");
  for (int a : c.assignment)
    if (a < 0 || a >= c.k) bad_file("value_clusters.json: cluster id " + std::to_string(a) + " out of range");
  return c;
}

std::vector<ValueVectorRef> cluster_members(const Clusters& c, int cluster) {
  if (cluster < 0 || cluster >= c.k)
    invalid("cluster " + std::to_string(cluster) + " out of range [0, " + std::to_string(c.k) + ")");
  std::vector<ValueVectorRef> out;
  for (size_t i = 0; i < c.assignment.size(); ++i)
    if (c.assignment[i] == cluster) out.push_back({static_cast<int>(i) / c.d_mlp, static_cast<int>(i) % c.d_mlp});
  return out;
}

std::vector<TokenScore> cluster_top_tokens(const Model& m, const Clusters& c, int cluster, int k) {
  const Config& cfg = m.config();
  const auto members = cluster_members(c, cluster);
  std::vector<float> sum(cfg.d_model, 0.f), v(cfg.d_model), r(cfg.d_vocab);
  for (const auto& mb : members) {
    m.value_vector(mb.layer, mb.index, v.data());
    for (int i = 0; i < cfg.d_model; ++i) sum[i] += v[i];
  }
  kernels::gemm(r.data(), cfg.d_vocab, sum.data(), cfg.d_model, 1, m.weights().W_U);
  return top_tokens(r.data(), cfg.d_vocab, k, false);
}

}  // namespace lmdbg
