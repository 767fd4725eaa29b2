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

struct ClusterBuilder::Impl {
  const Model& m;
  ClusterOptions opt;
  int d, n, k, D;
  int it = 0, row = 0;  // the iteration and the next block's first vector
  int moved = 0;
  bool done = false;
  size_t units_done = 0, units_total = 0;
  std::vector<float> cent, sums, sim, best_sim, x;
  std::vector<int> count;
  kernels::PackedMatrix C;
  Clusters out;

  Impl(const Model& model, const ClusterOptions& o) : m(model), opt(o) {
    const Config& c = m.config();
    d = c.d_model;
    D = c.d_mlp;
    n = c.n_layers * D;
    k = opt.k > 0 ? opt.k : std::max(1, n / 8);
    if (k > n) invalid("clusters: k = " + std::to_string(k) + " exceeds the " + std::to_string(n) + " value vectors");
    if (opt.iterations < 1) invalid("clusters: iterations must be >= 1");
    units_total = static_cast<size_t>(opt.iterations) * ((n + kRows - 1) / kRows);
    // Seeds: k distinct vectors in a seeded random order.
    std::mt19937_64 rng(opt.seed);
    std::vector<int> perm(n);
    for (int i = 0; i < n; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    cent.resize(static_cast<size_t>(k) * d);
    for (int j = 0; j < k; ++j) load(perm[j], 1, cent.data() + static_cast<size_t>(j) * d);
    out.n_layers = c.n_layers;
    out.d_mlp = D;
    out.k = k;
    out.computed = true;
    out.assignment.assign(n, -1);
    best_sim.resize(n);
    sim.resize(static_cast<size_t>(kRows) * k);
    x.resize(static_cast<size_t>(kRows) * d);
    start_iteration();
  }

  // Normalised vectors i0..i0+rows-1 (in layer-major order) into dst [rows, d].
  void load(int i0, int rows, float* dst) const {
    for (int r = 0; r < rows;) {
      const int l = (i0 + r) / D, i = (i0 + r) % D, take = std::min(rows - r, D - i);
      m.value_vectors(l, i, i + take, dst + static_cast<size_t>(r) * d, d);
      r += take;
    }
    for (int r = 0; r < rows; ++r) normalise(dst + static_cast<size_t>(r) * d, d);
  }

  void start_iteration() {
    C = kernels::PackedMatrix::pack({cent.data(), kernels::DType::kF32, k, d, /*transposed=*/true}, nullptr,
                                    kernels::Storage::kF32);
    sums.assign(static_cast<size_t>(k) * d, 0.f);
    count.assign(k, 0);
    moved = 0;
    row = 0;
  }

  // Assign one block: cosine similarity to every centroid as one GEMM; accumulate the new means.
  void unit() {
    const int rows = std::min(kRows, n - row);
    load(row, rows, x.data());
    kernels::gemm(sim.data(), k, x.data(), d, rows, C);
    for (int r = 0; r < rows; ++r) {
      const float* s = sim.data() + static_cast<size_t>(r) * k;
      const int best = static_cast<int>(std::max_element(s, s + k) - s);
      if (out.assignment[row + r] != best) ++moved;
      out.assignment[row + r] = best;
      best_sim[row + r] = s[best];
      ++count[best];
      const float* v = x.data() + static_cast<size_t>(r) * d;
      float* ce = sums.data() + static_cast<size_t>(best) * d;
      for (int q = 0; q < d; ++q) ce[q] += v[q];
    }
    row += rows;
    ++units_done;
    if (row < n) return;
    // Update: renormalised means; an empty cluster takes the point farthest from its centroid.
    cent.swap(sums);
    for (int j = 0; j < k; ++j) {
      float* ce = cent.data() + static_cast<size_t>(j) * d;
      if (count[j] == 0) {
        const int far = static_cast<int>(std::min_element(best_sim.begin(), best_sim.end()) - best_sim.begin());
        load(far, 1, ce);
        best_sim[far] = 1.f;
      }
      normalise(ce, d);
    }
    if (opt.progress) opt.progress(it, static_cast<double>(moved) / n);
    if (moved == 0 || ++it == opt.iterations) {
      done = true;
      return;
    }
    start_iteration();
  }
};

ClusterBuilder::ClusterBuilder(const Model& m, const ClusterOptions& opt) : impl_(std::make_unique<Impl>(m, opt)) {}
ClusterBuilder::~ClusterBuilder() = default;

bool ClusterBuilder::step(int units) {
  for (int u = 0; u < units && !impl_->done; ++u) impl_->unit();
  return impl_->done;
}

double ClusterBuilder::progress() const {
  return impl_->done ? 1.0 : static_cast<double>(impl_->units_done) / impl_->units_total;
}

Clusters ClusterBuilder::take() {
  if (!impl_->done) fail(ErrorCode::kState, "clusters: not complete");
  return std::move(impl_->out);
}

Clusters cluster_value_vectors(const Model& m, const ClusterOptions& opt) {
  ClusterBuilder b(m, opt);
  while (!b.step(1 << 20)) {
  }
  return b.take();
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
