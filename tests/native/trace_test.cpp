// The trace (LM-Debugger's views: lens, predicted rank, sub-updates, attention, the light lens over
// more positions, the clean run's layers) against the float64 PyTorch reference, and its JSON.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/session/session.h"
#include "test_util.h"

using namespace lmdbg;
using nlohmann::json;
using test::kRefTol;

namespace {

class TraceRef : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    s = test::session(GetParam());
    ref = std::make_unique<test::Reference>(GetParam());
  }
  std::vector<int> case_ids(const std::string& name) const { return test::case_ids(*ref, name); }
  std::unique_ptr<Session> s;
  std::unique_ptr<test::Reference> ref;
};

}  // namespace

TEST_P(TraceRef, LensAndPredictedRankMatchPyTorch) {
  double worst = 0;
  for (const auto& lc : ref->meta["lens"]) {
    const std::string cn = lc["case"];
    TraceOptions opt;
    opt.raw_lens = true;
    const Trace t = s->trace(case_ids(cn), opt);
    ASSERT_EQ(t.positions.size(), 1u);
    const auto& pt = t.positions[0];
    EXPECT_EQ(pt.position, lc["position"].get<int>());
    for (const auto& lj : lc["layers"]) {
      const auto& lt = pt.layers.at(lj["layer"].get<int>());
      const std::string w = cn + " layer " + std::to_string(lt.layer);
      test::expect_ranked(test::pairs(lt.before, true), lj["before"], "prob", w + " before", &worst);
      test::expect_ranked(test::pairs(lt.after, true), lj["after"], "prob", w + " after", &worst);
      test::expect_ranked(test::pairs(lt.before, false), lj["before"], "logit", w + " before", &worst);
      test::expect_ranked(test::pairs(lt.raw_before, false), lj["rawBefore"], "logit", w + " rawBefore", &worst);
      test::expect_ranked(test::pairs(lt.raw_after, false), lj["rawAfter"], "logit", w + " rawAfter", &worst);
    }
  }
  for (const auto& pc : ref->meta["predicted"]) {
    const Trace t = s->trace(case_ids(pc["case"]), {});
    const auto& pt = t.positions[0];
    EXPECT_EQ(pt.predicted, pc["id"].get<int>());
    EXPECT_NEAR(pt.prediction[0].prob, pc["prob"].get<double>(), kRefTol);
    for (const auto& lj : pc["layers"]) {
      const auto& lt = pt.layers.at(lj["layer"].get<int>());
      EXPECT_EQ(lt.rank_after, lj["rank"].get<int>()) << pc["case"] << " layer " << lt.layer;
      EXPECT_NEAR(lt.prob_after, lj["prob"].get<double>(), kRefTol);
    }
  }
  std::printf("[ maxdiff  ] %s lens probs/logits: %.3g\n", GetParam(), worst);
}

TEST_P(TraceRef, SubUpdatesMatchPyTorch) {
  double worst = 0;
  for (const auto& sc : ref->meta["subUpdates"]) {
    const Trace t = s->trace(case_ids(sc["case"]), {});
    const auto& pt = t.positions[0];
    EXPECT_EQ(pt.predicted, sc["pred"].get<int>());
    for (const auto& lj : sc["layers"]) {
      const auto& lt = pt.layers.at(lj["layer"].get<int>());
      EXPECT_NEAR(lt.max_score, lj["maxScore"].get<double>(), kRefTol);
      const auto& want = lj["top"];
      ASSERT_EQ(lt.sub_updates.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        const auto& su = lt.sub_updates[i];
        const auto& w = want[i];
        const std::string where = sc["case"].get<std::string>() + " L" + std::to_string(lt.layer) + " #" + std::to_string(i);
        EXPECT_NEAR(su.score, w["score"].get<double>(), kRefTol) << where;
        worst = std::max(worst, std::fabs(su.score - w["score"].get<double>()));
        if (su.index != w["index"].get<int>()) {  // allowed only in a near tie
          EXPECT_NEAR(su.score, w["score"].get<double>(), kRefTol) << where;
          continue;
        }
        EXPECT_NEAR(su.coef, w["coef"].get<double>(), kRefTol) << where;
        EXPECT_NEAR(su.norm, w["norm"].get<double>(), kRefTol) << where;
        EXPECT_NEAR(su.direct, w["direct"].get<double>(), kRefTol) << where;
        worst = std::max({worst, std::fabs(su.coef - w["coef"].get<double>()), std::fabs(su.direct - w["direct"].get<double>())});
      }
    }
  }
  std::printf("[ maxdiff  ] %s sub-updates: %.3g\n", GetParam(), worst);
}

// With interventions, the clean run's layers (cleanLayers) are the layers of a trace without them.
TEST_P(TraceRef, CleanLayersEqualTheCleanTrace) {
  for (const auto& item : ref->meta["interventions"]) {
    const auto ids = case_ids(item["case"]);
    TraceOptions o;
    o.interventions = test::reference_interventions(item["interventions"]);
    o.clean_layers = true;
    const Trace t = s->trace(ids, o);
    const Trace clean = s->trace(ids, {});
    const auto& p = t.positions[0];
    const auto& c = clean.positions[0];
    EXPECT_EQ(p.clean_predicted, c.predicted) << item["name"];
    ASSERT_EQ(p.clean_layers.size(), c.layers.size());
    for (size_t l = 0; l < c.layers.size(); ++l) {
      EXPECT_EQ(p.clean_layers[l].rank_after, c.layers[l].rank_after);
      EXPECT_EQ(p.clean_layers[l].after[0].id, c.layers[l].after[0].id);
      EXPECT_NEAR(p.clean_layers[l].prob_before, c.layers[l].prob_before, 1e-6);
      ASSERT_EQ(p.clean_layers[l].sub_updates.size(), c.layers[l].sub_updates.size());
      for (size_t i = 0; i < c.layers[l].sub_updates.size(); ++i) {
        EXPECT_EQ(p.clean_layers[l].sub_updates[i].index, c.layers[l].sub_updates[i].index);
        EXPECT_EQ(p.clean_layers[l].sub_updates[i].top.size(), c.layers[l].sub_updates[i].top.size());
      }
    }
  }
}

// The `track` option: chosen tokens' rank and probability under every layer's lens, before and after
// the FFN, in the JSON too; clean layers carry them as well.
TEST_P(TraceRef, TrackedTokensMatchPyTorch) {
  double worst = 0;
  for (const auto& tc : ref->meta["tracked"]) {
    TraceOptions o;
    o.track = tc["ids"].get<std::vector<int>>();
    const Trace t = s->trace(case_ids(tc["case"]), o);
    const auto& pt = t.positions[0];
    for (const auto& lj : tc["layers"]) {
      const auto& lt = pt.layers.at(lj["layer"].get<int>());
      ASSERT_EQ(lt.tracked.size(), o.track.size());
      for (size_t k = 0; k < o.track.size(); ++k) {
        const auto& got = lt.tracked[k];
        const std::string w = tc["case"].get<std::string>() + " L" + std::to_string(lt.layer) + " token " + std::to_string(got.id);
        EXPECT_EQ(got.id, o.track[k]);
        EXPECT_EQ(got.rank_before, lj["before"][k]["rank"].get<int>()) << w;
        EXPECT_EQ(got.rank_after, lj["after"][k]["rank"].get<int>()) << w;
        worst = std::max({worst, std::fabs(got.prob_before - lj["before"][k]["prob"].get<double>()),
                          std::fabs(got.prob_after - lj["after"][k]["prob"].get<double>())});
      }
    }
    // The predicted token tracked gives predictedRank/predictedProb.
    o.track = {pt.predicted};
    const Trace again = s->trace(case_ids(tc["case"]), o);
    for (const auto& lt : again.positions[0].layers) {
      EXPECT_EQ(lt.tracked[0].rank_after, lt.rank_after);
      EXPECT_EQ(lt.tracked[0].prob_before, lt.prob_before);
    }
    const json j = json::parse(test::trace_text(*s, again));
    EXPECT_EQ(j["options"]["track"], json::array({pt.predicted}));
    EXPECT_EQ(j["positions"][0]["layers"][0]["tracked"][0]["id"], pt.predicted);
    EXPECT_TRUE(j["positions"][0]["layers"][0]["tracked"][0]["rank"].contains("before"));
  }
  EXPECT_LT(worst, kRefTol);
  std::printf("[ maxdiff  ] %s tracked token probs: %.3g\n", GetParam(), worst);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TraceRef, ::testing::Values("l4-f32", "l2-f16"),
                         [](const auto& info) { return std::string(info.param) == "l4-f32" ? "l4_f32" : "l2_f16"; });

TEST(Trace, PositionsAllAndListedAgreeWithLast) {
  auto s = test::session("l4-f32");
  test::Reference ref("l4-f32");
  const auto ids = ref.meta["cases"][1]["ids"].get<std::vector<int>>();
  TraceOptions all;
  all.all_positions = true;
  all.value_top_k = 0;
  const Trace ta = s->trace(ids, all);
  ASSERT_EQ(ta.positions.size(), ids.size());
  TraceOptions some;
  some.positions = {3, 0, 3};
  const Trace ts = s->trace(ids, some);
  ASSERT_EQ(ts.positions.size(), 2u);
  EXPECT_EQ(ts.positions[0].position, 0);
  // Each position's prediction is the argmax of the reference logits at that position.
  const int V = s->model().config().d_vocab;
  const float* logits = ref.f32("c1.logits");
  for (const auto& p : ta.positions) EXPECT_EQ(p.predicted, argmax(logits + p.position * V, V)) << p.position;
  EXPECT_EQ(ts.positions[1].predicted, ta.positions[3].predicted);
  EXPECT_TRUE(ta.positions[0].layers[0].sub_updates[0].top.empty());
  EXPECT_EQ(ts.positions[1].layers[0].sub_updates[0].top.size(), 10u);
}

// lensPositions: the lens alone at more positions, equal to full traces of those positions.
TEST(Trace, LensPositionsEqualFullTracesAtThosePositions) {
  auto s = test::session("l4-f32");
  test::Reference ref("l4-f32");
  const auto ids = ref.meta["cases"][1]["ids"].get<std::vector<int>>();
  TraceOptions o = test::trace_options_text(R"({"lensPositions": "all", "lensTopK": 2,
      "interventions": [{"layer": 1, "index": 7, "mode": "scale", "value": 3}]})");
  const Trace t = s->trace(ids, o);
  ASSERT_EQ(t.lens.size(), ids.size());
  TraceOptions full;
  full.all_positions = true;
  full.top_k = 2;
  full.sub_updates = 0;
  full.interventions = o.interventions;
  const Trace f = s->trace(ids, full);
  for (size_t p = 0; p < ids.size(); ++p) {
    EXPECT_EQ(t.lens[p].predicted, f.positions[p].predicted) << p;
    for (size_t l = 0; l < f.positions[p].layers.size(); ++l) {
      const auto& a = t.lens[p].layers[l];
      const auto& b = f.positions[p].layers[l];
      ASSERT_EQ(a.after.size(), 2u);
      EXPECT_EQ(a.after[0].id, b.after[0].id);
      EXPECT_EQ(a.after[0].prob, b.after[0].prob);
      EXPECT_EQ(a.before[1].id, b.before[1].id);
      EXPECT_EQ(a.rank_before, b.rank_before);
      EXPECT_TRUE(a.sub_updates.empty());
    }
  }
  const json j = json::parse(test::trace_text(*s, t));
  EXPECT_EQ(j["lens"].size(), ids.size());
  EXPECT_FALSE(j["lens"][0]["layers"][0].contains("subUpdates"));
  EXPECT_EQ(j["options"]["lensTopK"], 2);
  EXPECT_THROW(s->trace(ids, test::trace_options_text(R"({"lensPositions": [99]})")), Error);
  EXPECT_THROW(test::trace_options_text(R"({"lensPositions": "last"})"), Error);
}

TEST(Trace, AttentionPatternsMatchHooks) {
  auto s = test::session("l4-f32");
  test::Reference ref("l4-f32");
  const auto ids = ref.meta["cases"][2]["ids"].get<std::vector<int>>();
  TraceOptions opt;
  opt.attention = true;
  const Trace t = s->trace(ids, opt);
  const Config& c = s->model().config();
  const size_t per = static_cast<size_t>(c.n_heads) * ids.size() * ids.size();
  for (int l = 0; l < c.n_layers; ++l) {
    const float* want = ref.f32("c2.blocks." + std::to_string(l) + ".attn.hook_pattern");
    EXPECT_LT(test::max_abs_diff(t.attention.data() + per * l, want, per), kRefTol);
  }
  const json j = json::parse(test::trace_text(*s, t, true));
  EXPECT_EQ(j["schema"], kTraceSchema);
  EXPECT_EQ(j["attention"].size(), 4u);
  EXPECT_EQ(j["attention"][0]["heads"][0][2].size(), 3u);  // causal rows
}

TEST(Trace, JsonHasTheDocumentedShape) {
  auto s = test::session("l2-f16");
  TraceOptions opt;
  opt.interventions = {parse_intervention("1:3:on"), parse_intervention("0:5:scale=2@1,2")};
  opt.clean_layers = true;
  const Trace t = s->trace(s->model().tokenizer().encode("The old man"), opt);
  const json j = json::parse(test::trace_text(*s, t));
  EXPECT_EQ(j["tokens"].size(), t.tokens.size());
  EXPECT_TRUE(j["tokens"][0].contains("id") && j["tokens"][0].contains("text"));
  const auto& p = j["positions"][0];
  EXPECT_TRUE(p.contains("clean"));
  EXPECT_EQ(p["clean"]["layers"].size(), 2u);
  EXPECT_EQ(p["clean"]["layers"][1]["subUpdates"][0]["topTokens"].size(), 10u);
  EXPECT_EQ(p["layers"].size(), 2u);
  EXPECT_EQ(p["layers"][1]["subUpdates"][0]["name"].get<std::string>().rfind("L1D", 0), 0u);
  EXPECT_EQ(p["layers"][1]["subUpdates"][0]["topTokens"].size(), 10u);
  EXPECT_EQ(j["interventions"][0]["mode"], "on");
  EXPECT_EQ(j["resolvedInterventions"][0]["mode"], "pre");
  EXPECT_EQ(j["interventions"][1]["positions"], json::array({1, 2}));
  EXPECT_FALSE(j.contains("lens"));
}

TEST(Trace, BadOptionsAreErrors) {
  auto s = test::session("l2-f16");
  const std::vector<int> ids = {1, 2, 3};
  auto with = [&](auto f) {
    TraceOptions o;
    f(o);
    return o;
  };
  EXPECT_THROW(s->trace({}, {}), Error);
  EXPECT_THROW(s->trace(ids, with([](auto& o) { o.positions = {3}; })), Error);
  EXPECT_THROW(s->trace(ids, with([](auto& o) { o.top_k = 0; })), Error);
  EXPECT_THROW(s->trace(ids, with([](auto& o) { o.lens_top_k = 0; })), Error);
  EXPECT_THROW(s->trace(ids, with([](auto& o) { o.interventions = {parse_intervention("2:0:off")}; })), Error);
  EXPECT_THROW(s->trace(ids, with([](auto& o) { o.interventions = {parse_intervention("0:256:off")}; })), Error);
  EXPECT_THROW(test::trace_options_text(R"({"topk": 3})"), Error);  // a typo is an error
  EXPECT_THROW(s->trace(ids, with([](auto& o) { o.track = {507}; })), Error);
  EXPECT_THROW(s->trace(ids, with([](auto& o) { o.track = {5, 5}; })), Error);
  EXPECT_THROW(test::trace_options_text(R"({"track": 5})"), Error);
  EXPECT_THROW(parse_value_vector_name("L1X2"), Error);
  EXPECT_EQ(parse_value_vector_name("L12D34").index, 34);
  EXPECT_NO_THROW(s->trace(ids, {}));
}
