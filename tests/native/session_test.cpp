// The Session: what each call costs in forward passes (one without interventions, two with any,
// `on` included), and what it keeps for the model (value index, search statistics, clusters).
#include <gtest/gtest.h>

#include <cstring>

#include "core/analysis/clusters.h"
#include "core/error.h"
#include "core/session/session.h"
#include "test_util.h"

using namespace lmdbg;

using test::passes;

TEST(Session, ATraceCostsOnePassCleanAndTwoWithInterventions) {
  auto s = test::session("l2-f16");
  const auto ids = s->model().tokenizer().encode("The old man and the sea");
  TraceOptions clean;
  clean.attention = true;
  clean.lens_all_positions = true;
  EXPECT_EQ(passes(*s, [&] { s->trace(ids, clean); }), 1u);
  for (const char* spec : {"1:3:off", "1:3:on", "0:7:scale=2@1", "1:3:on@2"}) {
    TraceOptions o = clean;
    o.interventions = {parse_intervention(spec), parse_intervention("0:4:on")};
    o.clean_layers = true;
    Trace t;
    EXPECT_EQ(passes(*s, [&] { t = s->trace(ids, o); }), 2u) << spec;
    EXPECT_GE(t.positions[0].clean_predicted, 0);
    EXPECT_EQ(t.lens.size(), ids.size());
  }
}

TEST(Session, CacheAsideSeesTheHooksReturnedAndChangesNothing) {
  auto s = test::session("l2-f16");
  const auto ids = s->model().tokenizer().encode("The old man");
  for (const std::vector<HookRef>& asked : {std::vector<HookRef>{}, std::vector<HookRef>{{Hook::kMlpPost, 1}}}) {
    const auto plain = s->run_with_cache(ids, asked, {});
    int asides = 0;
    std::vector<HookRef> seen;
    const auto with = s->run_with_cache(ids, asked, {parse_intervention("1:2:on")}, [&](const std::vector<HookRef>& h) {
      ++asides;
      seen = h;
    });
    EXPECT_EQ(asides, 1);
    ASSERT_EQ(seen.size(), with.hooks.size());
    for (size_t i = 0; i < seen.size(); ++i) EXPECT_TRUE(seen[i].hook == with.hooks[i].hook && seen[i].layer == with.hooks[i].layer);
    // Without interventions, the same logits bit for bit with and without an aside.
    const auto again = s->run_with_cache(ids, asked, {}, [](const std::vector<HookRef>&) {});
    const size_t n = static_cast<size_t>(ids.size()) * s->model().config().d_vocab;
    EXPECT_EQ(std::memcmp(again.state->logits(), plain.state->logits(), n * sizeof(float)), 0);
  }
}

TEST(Session, CacheAndGenerationCostOnePassAndTwoWithOn) {
  auto s = test::session("l2-f16");
  const auto ids = s->model().tokenizer().encode("The old man");
  EXPECT_EQ(passes(*s, [&] { s->run_with_cache(ids, {}, {}); }), 1u);
  EXPECT_EQ(passes(*s, [&] { s->run_with_cache(ids, {}, {parse_intervention("1:2:scale=0")}); }), 1u);
  EXPECT_EQ(passes(*s, [&] { s->run_with_cache(ids, {}, {parse_intervention("1:2:on")}); }), 2u);
  EXPECT_EQ(passes(*s, [&] { s->logits(ids, true); }), 1u);
  for (const char* spec : {"", "1:2:off", "1:2:on"}) {
    const Interventions ivs = *spec ? Interventions{parse_intervention(spec)} : Interventions{};
    EXPECT_EQ(passes(*s,
                     [&] {
                       auto g = s->generate(ids, ivs, Sampling{});
                       for (int i = 0; i < 5; ++i) g->next();  // steps extend the generation's pass
                     }),
              std::string(spec).ends_with(":on") ? 2u : 1u)
        << spec;
  }
}

// `on` resolved from the trace's own clean pass gives the same result as from a separate clean run.
TEST(Session, OnIsResolvedFromTheCleanPassOfTheSameCall) {
  auto s = test::session("l4-f32");
  const auto ids = s->model().tokenizer().encode("The river flows north");
  TraceOptions o;
  o.interventions = {parse_intervention("2:17:on"), parse_intervention("3:5:on")};
  const Trace t = s->trace(ids, o);
  State clean(s->model());
  ForwardOptions fo;
  fo.keep.add(Hook::kMlpPost);
  clean.forward(ids, fo);
  const Interventions want = resolve_on(o.interventions, clean);
  ASSERT_EQ(t.options.interventions.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(t.options.interventions[i].mode, InterventionMode::kPre);
    EXPECT_EQ(t.options.interventions[i].value, want[i].value);
  }
}

TEST(Session, OwnsTheValueIndexSearchStatisticsAndClusters) {
  auto s = test::session("l2-f16");
  EXPECT_EQ(s->value_index().filled(), 0u);
  s->trace(s->model().tokenizer().encode("The old man"), {});
  const size_t after_trace = s->value_index().filled();
  EXPECT_GT(after_trace, 0u);  // the trace's sub-updates
  EXPECT_FALSE(s->search_ready());
  int steps = 0;
  while (!s->search_stats_step(1)) ++steps;
  EXPECT_GT(steps, 0);
  EXPECT_TRUE(s->search_ready());
  EXPECT_EQ(s->search({"river"}, {3}, 5)[0].top.size(), 5u);
  while (s->fill_value_index(64) > 0) {
  }
  EXPECT_EQ(s->value_index().filled(), s->value_index().total());
  // value_index.bin round trip into a fresh session: the index and the search statistics.
  auto fresh = test::session("l2-f16");
  fresh->load_value_index(s->value_index_bytes());
  EXPECT_TRUE(fresh->search_ready());
  EXPECT_EQ(fresh->value_index().filled(), fresh->value_index().total());
  EXPECT_EQ(fresh->search({"river"}, {3}, 0)[0].index, s->search({"river"}, {3}, 0)[0].index);
  // Clusters: loaded from their JSON, checked against the model.
  EXPECT_EQ(s->clusters(), nullptr);
  ClusterOptions co;
  co.k = 4;
  co.iterations = 2;
  s->load_clusters(io::json::parse(clusters_to_json(cluster_value_vectors(s->model(), co)).dump()));
  ASSERT_NE(s->clusters(), nullptr);
  EXPECT_EQ(s->clusters()->k, 4);
  EXPECT_THROW(fresh->load_clusters(io::json::parse(R"({"schema":"lmdbg.clusters/1","nLayers":9,"dMlp":1,"k":1,"assignment":[0]})")),
               Error);
}

// Without value_clusters.json the session computes clusters in bounded steps (the Worker's idle
// time): the same clusters as `lmdbg cluster` with its defaults, progress rising to 1.
TEST(Session, ComputesClustersStepByStep) {
  auto s = test::session("l2-f16");
  const Clusters want = cluster_value_vectors(s->model(), {});
  EXPECT_EQ(s->cluster_progress(), 0.0);
  double last = 0;
  int calls = 0;
  while (!s->cluster_step(1)) {
    ++calls;
    EXPECT_GE(s->cluster_progress(), last);
    EXPECT_LT(s->cluster_progress(), 1.0);
    last = s->cluster_progress();
  }
  EXPECT_GT(calls, 1);  // more than one step: it yields in between
  ASSERT_NE(s->clusters(), nullptr);
  EXPECT_TRUE(s->clusters()->computed);
  EXPECT_EQ(s->cluster_progress(), 1.0);
  EXPECT_EQ(s->clusters()->k, want.k);
  EXPECT_EQ(s->clusters()->assignment, want.assignment);
  // Every cluster in use, every vector assigned.
  std::vector<int> size(want.k, 0);
  for (int a : s->clusters()->assignment) ++size.at(a);
  for (int n : size) EXPECT_GT(n, 0);
  EXPECT_TRUE(s->cluster_step(1));  // done stays done
}

