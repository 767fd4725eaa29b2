// Keyword search: the z-scores are exact moments of wte·v, and ranking by them agrees with the
// exact rank of the keyword's token inside each value vector's projection.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "core/analysis/search.h"
#include "core/analysis/value_vectors.h"
#include "core/error.h"
#include "test_util.h"

using namespace lmdbg;

namespace {

// Spearman correlation of two equally long vectors (no ties expected).
double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  auto ranks = [](const std::vector<double>& x) {
    std::vector<int> idx(x.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int i, int j) { return x[i] < x[j]; });
    std::vector<double> r(x.size());
    for (size_t k = 0; k < idx.size(); ++k) r[idx[k]] = static_cast<double>(k);
    return r;
  };
  const auto ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  double d2 = 0;
  for (size_t i = 0; i < ra.size(); ++i) d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  return 1 - 6 * d2 / (n * (n * n - 1));
}

}  // namespace

class SearchRef : public ::testing::TestWithParam<const char*> {};

TEST_P(SearchRef, ZScoresAreExactAndAgreeWithExactRank) {
  auto model = Model::load_dir(test::model_dir(GetParam()));
  const Config& c = model->config();
  const SearchStats stats = compute_search_stats(*model);
  const int n = c.n_layers * c.d_mlp, V = c.d_vocab;
  // Brute force: project every value vector on the whole vocabulary.
  std::vector<std::vector<float>> proj(n);
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < c.d_mlp; ++i) proj[l * c.d_mlp + i] = value_projection(*model, l, i);
  double worst_z = 0, worst_rho = 1;
  int worst_top = 0;
  for (const std::string word : {"the", "and", "old", "river", "children", "field"}) {
    const int tok = model->tokenizer().encode(" " + word)[0];
    const auto z = token_zscores(*model, stats, tok);
    std::vector<double> zs(n), neg_rank(n);
    for (int i = 0; i < n; ++i) {
      const auto& r = proj[i];
      double mean = 0, var = 0;
      for (float x : r) mean += x;
      mean /= V;
      for (float x : r) var += (x - mean) * (x - mean);
      const double exact_z = (r[tok] - mean) / std::sqrt(var / V);
      worst_z = std::max(worst_z, std::fabs(exact_z - z[i]));
      zs[i] = z[i];
      neg_rank[i] = -static_cast<double>(std::count_if(r.begin(), r.end(), [&](float x) { return x > r[tok]; }));
    }
    const double rho = spearman(zs, neg_rank);
    worst_rho = std::min(worst_rho, rho);
    // The 10 best vectors by z hold the token near the top of their projection.
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 10, order.end(), [&](int a, int b) { return zs[a] > zs[b]; });
    for (int k = 0; k < 10; ++k) worst_top = std::max(worst_top, static_cast<int>(-neg_rank[order[k]]));
  }
  std::printf("[ search   ] %s: max |z - exact z| = %.3g, min Spearman(z, -exact rank) = %.4f, "
              "worst exact rank among the top-10 by z = %d of %d\n",
              GetParam(), worst_z, worst_rho, worst_top, V);
  EXPECT_LT(worst_z, 1e-3);
  EXPECT_GT(worst_rho, 0.95);
  EXPECT_LT(worst_top, V / 25);  // measured: 14-15 of 507 on the fixtures
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SearchRef, ::testing::Values("l4-f32", "l2-f16"),
                         [](const auto& info) { return std::string(info.param) == "l4-f32" ? "l4_f32" : "l2_f16"; });

TEST(Search, RanksVectorsThatPromoteTheKeywords) {
  auto s = test::session("l4-f32");
  const Model* model = &s->model();
  const SearchStats stats = compute_search_stats(*model);
  const auto hits = s->search({"river"}, 5, 10);
  ASSERT_EQ(hits.size(), 5u);
  const int with_space = model->tokenizer().encode(" river")[0];
  const int without = model->tokenizer().encode("river")[0];
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
  for (const auto& h : hits) {
    ASSERT_EQ(h.matched.size(), 1u);
    EXPECT_TRUE(h.matched[0].id == with_space || h.matched[0].id == without);
    const auto r = value_projection(*model, h.layer, h.index);
    const int rank = static_cast<int>(std::count_if(r.begin(), r.end(), [&](float x) { return x > r[h.matched[0].id]; }));
    EXPECT_LT(rank, 10) << value_vector_name(h.layer, h.index);
    EXPECT_EQ(h.top.size(), 10u);
  }
  // Two keywords: scores add up.
  const auto two = search_value_vectors(*model, stats, {"river", " field "}, 3);
  EXPECT_EQ(two[0].matched.size(), 2u);
  EXPECT_NEAR(two[0].score, two[0].matched[0].logit + two[0].matched[1].logit, 1e-4);
  EXPECT_THROW(search_value_vectors(*model, stats, {" ", ""}, 3), Error);
  EXPECT_THROW(search_value_vectors(*model, stats, {"x"}, 0), Error);
}

TEST(SearchStatsBuilderTest, StepwiseEqualsOneShotAndTheDoubleReference) {
  for (const char* variant : {"l4-f32", "l2-f16"}) {
    LoadOptions opt;
    opt.storage = std::string(variant) == "l2-f16" ? kernels::Storage::kF16 : kernels::Storage::kF32;
    auto m = Model::load_dir(test::model_dir(variant), opt);
    const Config& c = m->config();
    const SearchStats once = compute_search_stats(*m);
    SearchStatsBuilder b(*m);
    double last = -1;
    int steps = 0;
    while (!b.step(1)) {
      EXPECT_GT(b.progress(), last);
      EXPECT_LT(b.progress(), 1.0);
      last = b.progress();
      ++steps;
    }
    EXPECT_EQ(b.progress(), 1.0);
    EXPECT_GT(steps, 3);
    const SearchStats st = b.take();
    EXPECT_EQ(st.mean, once.mean) << variant;
    EXPECT_EQ(st.std, once.std) << variant;
    // Double-precision reference: the full projection of each vector.
    const int V = c.d_vocab, d = c.d_model;
    std::vector<double> emb(static_cast<size_t>(V) * d);
    std::vector<float> e(d), v(d);
    for (int t = 0; t < V; ++t) {
      m->embedding(t, e.data());
      std::copy(e.begin(), e.end(), emb.begin() + static_cast<size_t>(t) * d);
    }
    double worst_m = 0, worst_s = 0;
    for (int l = 0; l < c.n_layers; ++l)
      for (int i = 0; i < c.d_mlp; i += 7) {
        m->value_vector(l, i, v.data());
        double mean = 0, sq = 0;
        std::vector<double> r(V);
        for (int t = 0; t < V; ++t) {
          double s = 0;
          for (int k = 0; k < d; ++k) s += emb[static_cast<size_t>(t) * d + k] * v[k];
          r[t] = s;
          mean += s;
        }
        mean /= V;
        for (double x : r) sq += (x - mean) * (x - mean);
        const double sd = std::sqrt(sq / V);
        const size_t idx = static_cast<size_t>(l) * c.d_mlp + i;
        worst_m = std::max(worst_m, std::fabs(st.mean[idx] - mean) / sd);
        worst_s = std::max(worst_s, std::fabs(st.std[idx] - sd) / sd);
      }
    EXPECT_LT(worst_m, 1e-5) << variant;
    EXPECT_LT(worst_s, 1e-5) << variant;
  }
}

