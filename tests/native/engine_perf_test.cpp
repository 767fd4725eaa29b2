// The single-thread engine speed work, against naive references: vector math (exp, softmax,
// logsumexp sums, GELU), row access to packed matrices (copy_rows / copy_cols / rows_dot), the
// value-vector token index (on demand, background fill, value_index.bin), the incremental search
// statistics and the fast packing/loading paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "core/analysis/search.h"
#include "core/analysis/value_vectors.h"
#include "core/error.h"
#include "core/kernels/fp16.h"
#include "core/kernels/gemm.h"
#include "core/kernels/rows.h"
#include "core/kernels/vmath.h"
#include "core/model/forward.h"
#include "core/trace/trace.h"
#include "test_util.h"

using namespace lmdbg;
using namespace lmdbg::kernels;

namespace {

using lmdbg::test::randn;

double rel_err(double got, double want) { return std::fabs(got - want) / std::max(std::fabs(want), 1e-300); }

}  // namespace

// ------------------------------------------------------------------ vmath

TEST(VMath, ExpMatchesLibm) {
  std::vector<float> x;
  for (float v = -87.f; v <= 88.f; v += 0.0137f) x.push_back(v);
  for (float v : {0.f, -0.f, 1e-8f, -1e-8f, 0.5f, -0.5f, 1.f, 10.f, -10.f}) x.push_back(v);
  std::vector<float> y(x.size());
  exp_f32(y.data(), x.data(), x.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    worst = std::max(worst, rel_err(y[i], std::exp(static_cast<double>(x[i]))));
    EXPECT_EQ(y[i], exp_poly(x[i])) << "vector and scalar exp differ at " << x[i];
  }
  EXPECT_LT(worst, 3e-7) << "about 2 ulp";
  const float odd[] = {-100.f, -88.f, -1e30f, -INFINITY, NAN, INFINITY};
  float out[6];
  exp_f32(out, odd, 6);
  EXPECT_EQ(out[0], 0.f);
  EXPECT_EQ(out[1], 0.f);
  EXPECT_EQ(out[2], 0.f);
  EXPECT_EQ(out[3], 0.f);
  EXPECT_TRUE(std::isnan(out[4]));
  EXPECT_GT(out[5], 1e38f);
}

TEST(VMath, SoftmaxMaxAndSumExp) {
  for (int n : {1, 3, 4, 7, 8, 17, 64, 1000, 50257}) {
    auto x = randn(n, n, 3.f);
    double mx = -INFINITY;
    for (float v : x) mx = std::max<double>(mx, v);
    EXPECT_EQ(max_f32(x.data(), n), static_cast<float>(mx)) << n;
    double s = 0;
    for (float v : x) s += std::exp(static_cast<double>(v) - mx);
    EXPECT_LT(rel_err(sum_exp_f64(x.data(), n, static_cast<float>(mx)), s), 1e-6) << n;
    std::vector<float> p = x;
    softmax_f32(p.data(), n);
    double worst = 0;
    for (int i = 0; i < n; ++i) worst = std::max(worst, std::fabs(p[i] - std::exp(x[i] - mx) / s));
    EXPECT_LT(worst, 1e-6) << n;
  }
  const float with_nan[] = {1.f, NAN, 3.f, 2.f, 0.f};
  EXPECT_EQ(max_f32(with_nan, 5), 3.f);  // NaN ignored, as std::max does
}

TEST(VMath, GeluMatchesTheTanhFormula) {
  std::vector<float> x;
  for (float v = -12.f; v <= 12.f; v += 0.00731f) x.push_back(v);
  for (float v : {0.f, 1e-30f, -1e-30f, 1e-6f, 100.f, -100.f, 1e10f}) x.push_back(v);
  std::vector<float> y(x.size());
  gelu_tanh_f32(y.data(), x.data(), x.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    const double want = 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    worst = std::max(worst, std::fabs(y[i] - want) / std::max(1.0, std::fabs(want)) );
    // Near gelu's minimum 1 + tanh(.) cancels: a few f32 ulps of relative error there.
    if (std::fabs(want) > 1e-3) EXPECT_LT(rel_err(y[i], want), 4e-6) << x[i];
  }
  EXPECT_LT(worst, 1e-6);
  const float n[] = {NAN};
  float o[1];
  gelu_tanh_f32(o, n, 1);
  EXPECT_TRUE(std::isnan(o[0]));
}

// ------------------------------------------------------------------ rows

namespace {

// Weights like GPT-2's (N(0, 0.02)) plus some that are f16 subnormals.
std::vector<float> weights(int rows, int cols, uint32_t seed) {
  auto w = randn(static_cast<size_t>(rows) * cols, seed, 0.02f);
  for (size_t i = 0; i < w.size(); i += 37) w[i] = (i % 2 ? 1 : -1) * 3e-6f * static_cast<float>(1 + i % 5);
  return w;
}

}  // namespace

TEST(Rows, CopyRowsColsAndRowsDotMatchTheNaiveReference) {
  for (Storage s : {Storage::kF32, Storage::kF16})
    for (bool transposed : {false, true})
      for (auto [K, N] : {std::pair{37, 29}, std::pair{64, 48}, std::pair{300, 77}}) {
        const auto src = weights(transposed ? N : K, transposed ? K : N, K * 131 + N);
        const auto W = PackedMatrix::pack({src.data(), DType::kF32, transposed ? N : K, transposed ? K : N, transposed},
                                          nullptr, s);
        const std::string where = std::string(s == Storage::kF16 ? "f16 " : "f32 ") + (transposed ? "T " : "") +
                                  std::to_string(K) + "x" + std::to_string(N);
        if (s == Storage::kF16) ASSERT_FALSE(W.f16_subnormals().empty()) << where;
        // copy_rows over a sub-range equals at()
        const int k0 = 3, k1 = K - 2;
        std::vector<float> rows(static_cast<size_t>(k1 - k0) * (N + 5), -1.f);
        copy_rows(W, k0, k1, rows.data(), N + 5);
        for (int k = k0; k < k1; ++k)
          for (int n = 0; n < N; ++n) ASSERT_EQ(rows[(k - k0) * (N + 5) + n], W.at(k, n)) << where << " " << k << "," << n;
        // copy_cols over an unaligned range
        const int n0 = 5, n1 = N - 1;
        std::vector<float> cols(static_cast<size_t>(K) * (n1 - n0));
        copy_cols(W, n0, n1, cols.data(), n1 - n0);
        for (int k = 0; k < K; ++k)
          for (int n = n0; n < n1; ++n) ASSERT_EQ(cols[k * (n1 - n0) + (n - n0)], W.at(k, n)) << where;
        // rows_dot against a double-precision dot product of the stored values, several x at once
        for (int nx : {1, 3, 4, 6}) {
          auto x = randn(static_cast<size_t>(nx) * N, nx + K, 1.f);
          x[0] = 1e-12f;  // tiny and large inputs: the f16 pre-scaling must keep them exact
          if (nx > 1) x[N] = 300.f;
          std::vector<float> y(static_cast<size_t>(nx) * (K + 1), 0.f);
          rows_dot(W, x.data(), nx, N, y.data(), K + 1, 0, K);
          for (int j = 0; j < nx; ++j)
            for (int k = 0; k < K; ++k) {
              double want = 0, mag = 0;
              for (int n = 0; n < N; ++n) {
                want += static_cast<double>(W.at(k, n)) * x[j * N + n];
                mag += std::fabs(static_cast<double>(W.at(k, n)) * x[j * N + n]);
              }
              ASSERT_NEAR(y[j * (K + 1) + k], want, 1e-6 * mag + 1e-30) << where << " nx " << nx;
            }
        }
      }
}

TEST(Rows, BadRangesThrow) {
  const auto src = weights(16, 16, 1);
  const auto W = PackedMatrix::pack({src.data(), DType::kF32, 16, 16}, nullptr, Storage::kF32);
  float out[256];
  EXPECT_THROW(copy_rows(W, 3, 17, out, 16), Error);
  EXPECT_THROW(copy_cols(W, -1, 2, out, 16), Error);
  EXPECT_THROW(rows_dot(W, out, 1, 16, out, 16, 5, 2), Error);
}

// ------------------------------------------------------------------ value-vector tokens

namespace {

// Naive: the full projection, sorted (value desc / asc, ties by lower id).
void naive_tokens(const Model& m, int l, int i, int k, std::vector<std::pair<int, float>>& top,
                  std::vector<std::pair<int, float>>& bottom) {
  const auto r = value_projection(m, l, i);
  std::vector<int> idx(r.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return r[a] > r[b]; });
  top.clear();
  for (int q = 0; q < k; ++q) top.push_back({idx[q], r[idx[q]]});
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return r[a] < r[b] || (r[a] == r[b] && a < b); });
  bottom.clear();
  for (int q = 0; q < k; ++q) bottom.push_back({idx[q], r[idx[q]]});
}

void expect_equal(const std::vector<TokenScore>& got, const std::vector<std::pair<int, float>>& want, const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t q = 0; q < got.size(); ++q) {
    EXPECT_EQ(got[q].id, want[q].first) << where << " rank " << q;
    EXPECT_EQ(got[q].logit, want[q].second) << where << " rank " << q;
  }
}

}  // namespace

class ValueIndexTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ValueIndexTest, OnDemandBackgroundAndFileAreExact) {
  LoadOptions opt;
  opt.storage = std::string(GetParam()) == "l4-f32" ? Storage::kF32 : Storage::kF16;
  auto m = Model::load_dir(test::model_dir(GetParam()), opt);
  const Config& c = m->config();
  std::vector<ValueVectorRef> refs;
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < 7; ++i) refs.push_back({l, (i * 37 + l) % c.d_mlp});
  refs.push_back(refs[3]);  // a duplicate
  EXPECT_EQ(m->value_index().filled(), 0u);
  const auto cold = value_vector_tokens(*m, refs, 10, 5);
  EXPECT_EQ(m->value_index().filled(), refs.size() - 1);
  const auto warm = value_vector_tokens(*m, refs, 10, 5);
  std::vector<std::pair<int, float>> top, bottom;
  for (size_t j = 0; j < refs.size(); ++j) {
    naive_tokens(*m, refs[j].layer, refs[j].index, 10, top, bottom);
    bottom.resize(5);
    const std::string where = value_vector_name(refs[j].layer, refs[j].index);
    expect_equal(cold[j].top, top, where + " cold top");
    expect_equal(cold[j].bottom, bottom, where + " cold bottom");
    expect_equal(warm[j].top, top, where + " warm top");
    expect_equal(warm[j].bottom, bottom, where + " warm bottom");
  }
  // More than the index keeps: computed, still exact.
  const auto big = value_vector_tokens(*m, {refs[0]}, 40, 0);
  naive_tokens(*m, refs[0].layer, refs[0].index, 40, top, bottom);
  expect_equal(big[0].top, top, "top 40");

  // The trace uses the same lists.
  TraceOptions to;
  const auto ids = m->tokenizer().encode("The river flows north through the old city");
  const auto t1 = run_trace(*m, ids, to);
  m->value_index().clear();
  const auto t2 = run_trace(*m, ids, to);
  const auto t3 = run_trace(*m, ids, to);
  EXPECT_EQ(trace_to_json(*m, t1), trace_to_json(*m, t2));
  EXPECT_EQ(trace_to_json(*m, t2), trace_to_json(*m, t3));

  // Background fill to completion, then every vector matches the naive projection.
  m->value_index().clear();
  size_t total = 0;
  while (const int n = fill_value_index(*m, 50)) total += n;
  EXPECT_EQ(total, m->value_index().total());
  EXPECT_EQ(m->value_index().filled(), m->value_index().total());
  const int K = m->value_index().k();
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < c.d_mlp; i += 13) {
      const auto got = value_vector_tokens(*m, {{l, i}}, K, K);
      naive_tokens(*m, l, i, K, top, bottom);
      expect_equal(got[0].top, top, value_vector_name(l, i));
      expect_equal(got[0].bottom, bottom, value_vector_name(l, i));
    }

  // value_index.bin round trip, with search statistics.
  const SearchStats stats = compute_search_stats(*m);
  const std::string bytes = value_index_to_bytes(*m, &stats);
  auto m2 = Model::load_dir(test::model_dir(GetParam()), opt);
  SearchStats st2;
  EXPECT_TRUE(value_index_from_bytes(*m2, bytes, &st2));
  EXPECT_EQ(m2->value_index().filled(), m2->value_index().total());
  EXPECT_EQ(st2.mean, stats.mean);
  EXPECT_EQ(st2.std, stats.std);
  for (size_t j = 0; j < refs.size(); ++j) {
    const auto a = value_vector_tokens(*m2, {refs[j]}, 10, 5)[0];
    EXPECT_EQ(a.top.size(), 10u);
    for (size_t q = 0; q < a.top.size(); ++q) {
      EXPECT_EQ(a.top[q].id, cold[j].top[q].id);
      EXPECT_EQ(a.top[q].logit, cold[j].top[q].logit);
    }
  }
  // Rejected: truncated, another model's shape, a changed score, an id out of range.
  auto m3 = Model::load_dir(test::model_dir(GetParam()), opt);
  EXPECT_THROW(value_index_from_bytes(*m3, bytes.substr(0, bytes.size() - 4), nullptr), Error);
  const size_t first_entry = 40 + (m3->value_index().total() + 3) / 4 * 4;
  std::string bad = bytes;
  float s0;
  std::memcpy(&s0, bad.data() + first_entry + 2 * K * 4, 4);
  s0 += 0.5f;
  std::memcpy(bad.data() + first_entry + 2 * K * 4, &s0, 4);
  try {
    value_index_from_bytes(*m3, bad, nullptr);
    ADD_FAILURE() << "a changed score was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("value_index.bin"), std::string::npos) << e.what();
  }
  bad = bytes;
  const int32_t big_id = c.d_vocab;
  std::memcpy(bad.data() + first_entry, &big_id, 4);
  EXPECT_THROW(value_index_from_bytes(*m3, bad, nullptr), Error);
  EXPECT_EQ(m3->value_index().filled(), 0u) << "a rejected file must leave the index untouched";
  auto other = Model::load_dir(test::model_dir(std::string(GetParam()) == "l4-f32" ? "l2-f16" : "l4-f32"));
  EXPECT_THROW(value_index_from_bytes(*other, bytes, nullptr), Error);
}

TEST(ValueIndex, ColumnBlocksMergeExactly) {
  auto m = Model::load_dir(test::model_dir("l4-f32"));
  const int d = m->config().d_model;
  std::vector<float> a(5 * d);
  for (int j = 0; j < 5; ++j) m->value_vector(j % 4, 11 * j, a.data() + j * d);
  a[3 * d + 7] = NAN;  // a row with NaN scores: NaN ranks last, like topk()
  std::vector<std::vector<TokenScore>> want_t, want_b;
  project_top_bottom(*m, a.data(), 5, 12, 9, want_t, want_b, 1 << 20);  // one block
  for (int block : {16, 24, 40, 128}) {
    std::vector<std::vector<TokenScore>> t, b;
    project_top_bottom(*m, a.data(), 5, 12, 9, t, b, block);
    for (int j = 0; j < 5; ++j) {
      ASSERT_EQ(t[j].size(), 12u);
      ASSERT_EQ(b[j].size(), 9u);
      for (int q = 0; q < 12; ++q) EXPECT_EQ(t[j][q].id, want_t[j][q].id) << block << " row " << j;
      for (int q = 0; q < 9; ++q) EXPECT_EQ(b[j][q].id, want_b[j][q].id) << block << " row " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ValueIndexTest, ::testing::Values("l4-f32", "l2-f16"),
                         [](const auto& info) { return std::string(info.param).replace(2, 1, "_"); });

// ------------------------------------------------------------------ search statistics

TEST(SearchStatsBuilderTest, StepwiseEqualsOneShotAndTheDoubleReference) {
  for (const char* variant : {"l4-f32", "l2-f16"}) {
    LoadOptions opt;
    opt.storage = std::string(variant) == "l2-f16" ? Storage::kF16 : Storage::kF32;
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

// ------------------------------------------------------------------ forward details

TEST(ForwardOptionsTest, NoLogitsSkipsTheUnembeddingAndKeepsHooks) {
  auto m = Model::load_dir(test::model_dir("l4-f32"));
  const auto ids = m->tokenizer().encode("The capital of France is");
  State a(*m), b(*m);
  ForwardOptions oa, ob;
  oa.keep.add(Hook::kResidPost);
  ob.keep.add(Hook::kResidPost);
  ob.logits = false;
  a.forward(ids, oa);
  b.forward(ids, ob);
  EXPECT_EQ(b.logits_rows(), 0);
  EXPECT_EQ(a.logits_rows(), 1);
  const size_t n = ids.size() * m->config().d_model;
  for (int l = 0; l < m->config().n_layers; ++l)
    EXPECT_EQ(0, std::memcmp(a.hook(Hook::kResidPost, l), b.hook(Hook::kResidPost, l), n * 4));
}
