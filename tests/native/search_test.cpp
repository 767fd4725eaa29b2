// Keyword search: the z-scores are exact moments of wte·v, and ranking by them agrees with the
// exact rank of the keyword's token inside each value vector's projection.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "core/analysis/analysis_json.h"
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
  const auto hits = s->search({"river"}, {5}, 10);
  ASSERT_EQ(hits.size(), 5u);
  const auto kw = keyword_tokens(*model, {"river"})[0];
  EXPECT_FALSE(kw.multi_token);
  EXPECT_NE(std::find(kw.tokens.begin(), kw.tokens.end(), model->tokenizer().encode(" river")[0]), kw.tokens.end());
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
  for (const auto& h : hits) {
    ASSERT_EQ(h.matched.size(), 1u);
    EXPECT_NE(std::find(kw.tokens.begin(), kw.tokens.end(), h.matched[0].token), kw.tokens.end());
    const auto r = value_projection(*model, h.layer, h.index);
    const int rank = static_cast<int>(std::count_if(r.begin(), r.end(), [&](float x) { return x > r[h.matched[0].token]; }));
    EXPECT_LT(rank, 10) << value_vector_name(h.layer, h.index);
    EXPECT_EQ(h.top.size(), 10u);
    EXPECT_EQ(h.weak, h.matched[0].z < kWeakZ);
  }
  // Two keywords: scores add up.
  const auto two = search_value_vectors(*model, stats, {"river", " field "}, {3});
  EXPECT_EQ(two[0].matched.size(), 2u);
  EXPECT_NEAR(two[0].score, two[0].matched[0].z + two[0].matched[1].z, 1e-4);
  EXPECT_THROW(search_value_vectors(*model, stats, {" ", ""}, {3}), Error);
  EXPECT_THROW(search_value_vectors(*model, stats, {"x"}, {0}), Error);
}

// "paris" finds " Paris": every case spelling, with and without a leading space.
TEST(Search, KeywordsMatchEveryCaseSpelling) {
  EXPECT_EQ(case_variants("paris"), (std::vector<std::string>{"paris", "Paris", "PARIS"}));
  EXPECT_EQ(case_variants("iPhone"), (std::vector<std::string>{"iPhone", "iphone", "Iphone", "IPHONE"}));
  EXPECT_EQ(case_variants("été"), (std::vector<std::string>{"été", "Été", "ÉTÉ"}));
  EXPECT_EQ(case_variants("Москва"), (std::vector<std::string>{"Москва", "москва", "МОСКВА"}));
  EXPECT_EQ(case_variants("αθήνα")[1], "Αθήνα");
  EXPECT_EQ(case_variants("123"), (std::vector<std::string>{"123"}));
  EXPECT_EQ(case_variants("\xff\xfe"), (std::vector<std::string>{"\xff\xfe"}));  // not UTF-8: as typed
  auto s = test::session("l4-f32");
  const Model& m = s->model();
  const int the = m.tokenizer().encode("The")[0], the_sp = m.tokenizer().encode(" the")[0];
  for (const char* typed : {"the", "THE", " The "}) {
    const auto k = keyword_tokens(m, {typed})[0];
    EXPECT_FALSE(k.multi_token) << typed;
    EXPECT_NE(std::find(k.tokens.begin(), k.tokens.end(), the), k.tokens.end()) << typed;
    EXPECT_NE(std::find(k.tokens.begin(), k.tokens.end(), the_sp), k.tokens.end()) << typed;
  }
  const auto a = s->search({"the"}, {8}, 0), b = s->search({"THE"}, {8}, 0);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].index + 1000 * a[i].layer, b[i].index + 1000 * b[i].layer);
}

// A keyword of several tokens says so: it is matched by its spellings' first tokens.
TEST(Search, MultiTokenKeywordsSaySo) {
  auto s = test::session("l4-f32");
  const Model& m = s->model();
  const auto k = keyword_tokens(m, {"xylophone"})[0];
  EXPECT_TRUE(k.multi_token);
  EXPECT_EQ(k.pieces, m.tokenizer().encode(" xylophone"));
  EXPECT_GT(k.pieces.size(), 1u);
  EXPECT_NE(std::find(k.tokens.begin(), k.tokens.end(), k.pieces[0]), k.tokens.end());
  SearchOptions o;
  o.limit = 3;
  const auto j = nlohmann::json::parse(search_to_json(m, {"xylophone", "river"}, s->search({"xylophone", "river"}, o, 0), o).dump());
  EXPECT_TRUE(j["keywords"][0]["multiToken"].get<bool>());
  EXPECT_EQ(j["keywords"][0]["pieces"].size(), k.pieces.size());
  EXPECT_FALSE(j["keywords"][1]["multiToken"].get<bool>());
  EXPECT_FALSE(j["keywords"][1].contains("pieces"));
  EXPECT_EQ(j["weakZ"].get<double>(), kWeakZ);
  EXPECT_TRUE(j["hits"][0]["matched"][0].contains("weak"));
}

// LM-Debugger's ranking: the number of keywords with a token among each vector's exact top 50.
TEST(Search, LmDebuggerRankingCountsKeywordsInTheExactTop50) {
  auto s = test::session("l4-f32");
  const Model& m = s->model();
  const Config& c = m.config();
  const std::vector<std::string> words = {"river", "the", "old"};
  SearchOptions o;
  o.limit = 40;
  o.ranking = SearchRanking::kLmDebugger;
  const SearchStats stats = compute_search_stats(m);
  EXPECT_THROW(search_value_vectors(m, stats, words, o, &s->value_index()), Error);  // the index is not complete
  const auto hits = s->search(words, o, 0);  // completes it
  EXPECT_EQ(s->value_index().filled(), s->value_index().total());
  const auto kws = keyword_tokens(m, words);
  // Brute force over every vector: exact ranks in the full projection.
  std::vector<int> count(c.n_layers * c.d_mlp);
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < c.d_mlp; ++i) {
      const auto r = value_projection(m, l, i);
      for (const auto& k : kws) {
        bool in = false;
        for (int t : k.tokens) in |= std::count_if(r.begin(), r.end(), [&](float x) { return x > r[t]; }) < 50;
        count[l * c.d_mlp + i] += in;
      }
    }
  const int best = *std::max_element(count.begin(), count.end());
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].score, best);
  for (size_t h = 0; h < hits.size(); ++h) {
    const auto& hit = hits[h];
    EXPECT_EQ(hit.score, count[hit.layer * c.d_mlp + hit.index]) << value_vector_name(hit.layer, hit.index);
    EXPECT_GE(hit.score, 1.f);
    if (h > 0) EXPECT_TRUE(hits[h - 1].score > hit.score || (hits[h - 1].score == hit.score && hits[h - 1].z_sum >= hit.z_sum));
    int in_top = 0;
    for (const auto& mt : hit.matched) in_top += mt.in_top;
    EXPECT_EQ(in_top, hit.score);
  }
  // Every vector that is not listed scores at most the last hit.
  std::vector<bool> listed(count.size(), false);
  for (const auto& hit : hits) listed[hit.layer * c.d_mlp + hit.index] = true;
  if (static_cast<int>(hits.size()) == o.limit)
    for (size_t i = 0; i < count.size(); ++i)
      if (!listed[i]) EXPECT_LE(count[i], hits.back().score) << value_vector_name(i / c.d_mlp, i % c.d_mlp);
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

