// Value vectors: their projections against the float64 PyTorch reference, and the value index that
// keeps their top/bottom tokens (on demand, idle-time fill, value_index.bin), exact against a naive
// projection.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/analysis/search.h"
#include "core/analysis/value_vectors.h"
#include "core/error.h"
#include "core/session/session.h"
#include "test_util.h"

using namespace lmdbg;
using namespace lmdbg::kernels;

TEST(ValueVectorsRef, ProjectionsMatchPyTorch) {
  for (const char* v : {"l4-f32", "l2-f16"}) {
  auto s = test::session(v);
  test::Reference r(v);
  const test::Reference* ref = &r;
  std::vector<ValueVectorRef> refs;
  for (const auto& v : ref->meta["valueVectors"]) refs.push_back({v["layer"], v["index"]});
  const auto got = s->value_vectors(refs, 10, 10);
  double worst = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    const auto& w = ref->meta["valueVectors"][i];
    const std::string where = value_vector_name(refs[i].layer, refs[i].index);
    EXPECT_NEAR(got[i].norm, w["norm"].get<double>(), test::kRefTol);
    test::expect_ranked(test::pairs(got[i].top, false), w["top"], "logit", where + " top", &worst);
    test::expect_ranked(test::pairs(got[i].bottom, false), w["bottom"], "logit", where + " bottom", &worst);
  }
  std::printf("[ maxdiff  ] %s value projections: %.3g\n", v, worst);
  }
}

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
  auto s = test::session(GetParam(), opt);
  const Model* m = &s->model();
  const Config& c = m->config();
  std::vector<ValueVectorRef> refs;
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < 7; ++i) refs.push_back({l, (i * 37 + l) % c.d_mlp});
  refs.push_back(refs[3]);  // a duplicate
  EXPECT_EQ(s->value_index().filled(), 0u);
  const auto cold = s->value_vectors(refs, 10, 5);
  EXPECT_EQ(s->value_index().filled(), refs.size() - 1);
  const auto warm = s->value_vectors(refs, 10, 5);
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
  const auto big = s->value_vectors({refs[0]}, 40, 0);
  naive_tokens(*m, refs[0].layer, refs[0].index, 40, top, bottom);
  expect_equal(big[0].top, top, "top 40");

  // The trace uses the same lists.
  TraceOptions to;
  const auto ids = m->tokenizer().encode("The river flows north through the old city");
  const auto t1 = s->trace(ids, to);  // partly from the index
  auto fresh = test::session(GetParam(), opt);
  const auto t2 = fresh->trace(ids, to);  // projected
  const auto t3 = fresh->trace(ids, to);  // from the index
  EXPECT_EQ(test::trace_text(*s, t1), test::trace_text(*fresh, t2));
  EXPECT_EQ(test::trace_text(*fresh, t2), test::trace_text(*fresh, t3));

  // Idle-time fill to completion, then every vector matches the naive projection.
  auto filled = test::session(GetParam(), opt);
  size_t total = 0;
  while (const int n = filled->fill_value_index(50)) total += n;
  EXPECT_EQ(total, filled->value_index().total());
  EXPECT_EQ(filled->value_index().filled(), filled->value_index().total());
  const int K = filled->value_index().k();
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < c.d_mlp; i += 13) {
      const auto got = filled->value_vectors({{l, i}}, K, K);
      naive_tokens(*m, l, i, K, top, bottom);
      expect_equal(got[0].top, top, value_vector_name(l, i));
      expect_equal(got[0].bottom, bottom, value_vector_name(l, i));
    }

  // value_index.bin round trip, with search statistics.
  const SearchStats stats = compute_search_stats(*m);
  const std::string bytes = value_index_to_bytes(*m, filled->value_index(), &stats);
  auto m2 = Model::load_dir(test::model_dir(GetParam()), opt);
  ValueIndex ix2;
  ix2.init(c.n_layers, c.d_mlp, c.d_vocab);
  SearchStats st2;
  EXPECT_TRUE(value_index_from_bytes(*m2, ix2, bytes, &st2));
  EXPECT_EQ(ix2.filled(), ix2.total());
  EXPECT_EQ(st2.mean, stats.mean);
  EXPECT_EQ(st2.std, stats.std);
  for (size_t j = 0; j < refs.size(); ++j) {
    const auto a = value_vector_tokens(*m2, ix2, {refs[j]}, 10, 5)[0];
    EXPECT_EQ(a.top.size(), 10u);
    for (size_t q = 0; q < a.top.size(); ++q) {
      EXPECT_EQ(a.top[q].id, cold[j].top[q].id);
      EXPECT_EQ(a.top[q].logit, cold[j].top[q].logit);
    }
  }
  // Rejected: truncated, another model's shape, a changed score, an id out of range.
  auto m3 = Model::load_dir(test::model_dir(GetParam()), opt);
  ValueIndex ix3;
  ix3.init(c.n_layers, c.d_mlp, c.d_vocab);
  EXPECT_THROW(value_index_from_bytes(*m3, ix3, bytes.substr(0, bytes.size() - 4), nullptr), Error);
  const size_t first_entry = 48 + (ix3.total() + 3) / 4 * 4;
  std::string bad = bytes;
  float s0;
  std::memcpy(&s0, bad.data() + first_entry + 2 * K * 4, 4);
  s0 += 0.5f;
  std::memcpy(bad.data() + first_entry + 2 * K * 4, &s0, 4);
  try {
    value_index_from_bytes(*m3, ix3, bad, nullptr);
    ADD_FAILURE() << "a changed score was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("value_index.bin"), std::string::npos) << e.what();
  }
  bad = bytes;
  const int32_t big_id = c.d_vocab;
  std::memcpy(bad.data() + first_entry, &big_id, 4);
  EXPECT_THROW(value_index_from_bytes(*m3, ix3, bad, nullptr), Error);
  EXPECT_EQ(ix3.filled(), 0u) << "a rejected file must leave the index untouched";
  auto other = test::session(std::string(GetParam()) == "l4-f32" ? "l2-f16" : "l4-f32");
  EXPECT_THROW(other->load_value_index(bytes), Error);
  // Bound to the weights: another fingerprint, another storage, an old version are each refused,
  // naming the reason, before any score is read.
  auto refused = [&](const Model& model, const std::string& file, const std::string& why) {
    ValueIndex ix;
    ix.init(c.n_layers, c.d_mlp, c.d_vocab);
    try {
      value_index_from_bytes(model, ix, file, nullptr);
      ADD_FAILURE() << "accepted; expected: " << why;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
    EXPECT_EQ(ix.filled(), 0u);
  };
  bad = bytes;
  bad[40] ^= 1;  // the fingerprint's low byte
  refused(*m3, bad, "written for other weights (xxh64:");
  LoadOptions other_storage = opt;
  other_storage.storage = opt.storage == Storage::kF32 ? Storage::kF16 : Storage::kF32;
  auto m4 = Model::load_dir(test::model_dir(GetParam()), other_storage);
  refused(*m4, bytes, std::string("written for the weights loaded as ") + m3->dtype());
  bad = bytes;
  bad[8] = 2;
  refused(*m3, bad, "version 2, not bound to the weights' fingerprint");
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

