// The debugger (trace, lens, sub-updates, value vectors, interventions, generation with
// interventions) against the float64 PyTorch reference.
#include <gtest/gtest.h>

#include <set>

#include "core/analysis/value_vectors.h"
#include "core/error.h"
#include "core/interventions/resolve.h"
#include "core/model/forward.h"
#include "core/model/generate.h"
#include "core/trace/trace.h"
#include "test_util.h"

using namespace lmdbg;
using nlohmann::json;

namespace {

constexpr double kTol = 1e-4;

Intervention iv_from_json(const json& j) {
  Intervention iv;
  iv.layer = j["layer"];
  iv.index = j["index"];
  iv.mode = parse_intervention("0:0:" + j["mode"].get<std::string>() + (j["value"].is_null() ? "" : "=0")).mode;
  if (!j["value"].is_null()) iv.value = j["value"].get<float>();
  if (!j["positions"].is_null()) iv.positions = j["positions"].get<std::vector<int>>();
  return iv;
}

Interventions ivs_from_json(const json& a) {
  Interventions out;
  for (const auto& j : a) out.push_back(iv_from_json(j));
  return out;
}

// Ranked lists must agree in value at every rank; ids may only differ inside a near tie.
template <typename Got>
void expect_ranked(const Got& got, const json& want, const char* key, const std::string& where, double* worst) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = want[i][key].get<double>();
    const double d = std::fabs(got[i].second - w);
    *worst = std::max(*worst, d);
    EXPECT_LT(d, kTol) << where << " rank " << i;
    const bool tie = (i > 0 && std::fabs(want[i - 1][key].get<double>() - w) < 2 * kTol) ||
                     (i + 1 < want.size() && std::fabs(want[i + 1][key].get<double>() - w) < 2 * kTol);
    if (!tie) EXPECT_EQ(got[i].first, want[i]["id"].get<int>()) << where << " rank " << i;
  }
}

std::vector<std::pair<int, double>> pairs(const std::vector<TokenScore>& ts, bool prob) {
  std::vector<std::pair<int, double>> out;
  for (const auto& t : ts) out.push_back({t.id, prob ? t.prob : t.logit});
  return out;
}

class DebuggerRef : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    model = Model::load_dir(test::model_dir(GetParam()));
    ref = std::make_unique<test::Reference>(GetParam());
  }
  std::vector<int> case_ids(const std::string& name) const {
    for (const auto& c : ref->meta["cases"])
      if (c["name"] == name) return c["ids"].get<std::vector<int>>();
    throw std::runtime_error("no case " + name);
  }
  std::unique_ptr<Model> model;
  std::unique_ptr<test::Reference> ref;
};

}  // namespace

TEST_P(DebuggerRef, LensAndPredictedRankMatchPyTorch) {
  double worst = 0;
  for (const auto& lc : ref->meta["lens"]) {
    const std::string cn = lc["case"];
    TraceOptions opt;
    opt.raw_lens = true;
    const Trace t = run_trace(*model, case_ids(cn), opt);
    ASSERT_EQ(t.positions.size(), 1u);
    const auto& pt = t.positions[0];
    EXPECT_EQ(pt.position, lc["position"].get<int>());
    for (const auto& lj : lc["layers"]) {
      const auto& lt = pt.layers.at(lj["layer"].get<int>());
      const std::string w = cn + " layer " + std::to_string(lt.layer);
      expect_ranked(pairs(lt.before, true), lj["before"], "prob", w + " before", &worst);
      expect_ranked(pairs(lt.after, true), lj["after"], "prob", w + " after", &worst);
      expect_ranked(pairs(lt.before, false), lj["before"], "logit", w + " before", &worst);
      expect_ranked(pairs(lt.raw_before, false), lj["rawBefore"], "logit", w + " rawBefore", &worst);
      expect_ranked(pairs(lt.raw_after, false), lj["rawAfter"], "logit", w + " rawAfter", &worst);
    }
  }
  for (const auto& pc : ref->meta["predicted"]) {
    const Trace t = run_trace(*model, case_ids(pc["case"]), {});
    const auto& pt = t.positions[0];
    EXPECT_EQ(pt.predicted, pc["id"].get<int>());
    EXPECT_NEAR(pt.prediction[0].prob, pc["prob"].get<double>(), kTol);
    for (const auto& lj : pc["layers"]) {
      const auto& lt = pt.layers.at(lj["layer"].get<int>());
      EXPECT_EQ(lt.rank_after, lj["rank"].get<int>()) << pc["case"] << " layer " << lt.layer;
      EXPECT_NEAR(lt.prob_after, lj["prob"].get<double>(), kTol);
    }
  }
  std::printf("[ maxdiff  ] %s lens probs/logits: %.3g\n", GetParam(), worst);
}

TEST_P(DebuggerRef, SubUpdatesMatchPyTorch) {
  double worst = 0;
  for (const auto& sc : ref->meta["subUpdates"]) {
    const Trace t = run_trace(*model, case_ids(sc["case"]), {});
    const auto& pt = t.positions[0];
    EXPECT_EQ(pt.predicted, sc["pred"].get<int>());
    for (const auto& lj : sc["layers"]) {
      const auto& lt = pt.layers.at(lj["layer"].get<int>());
      EXPECT_NEAR(lt.max_score, lj["maxScore"].get<double>(), kTol);
      const auto& want = lj["top"];
      ASSERT_EQ(lt.sub_updates.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        const auto& s = lt.sub_updates[i];
        const auto& w = want[i];
        const std::string where = sc["case"].get<std::string>() + " L" + std::to_string(lt.layer) + " #" + std::to_string(i);
        EXPECT_NEAR(s.score, w["score"].get<double>(), kTol) << where;
        worst = std::max(worst, std::fabs(s.score - w["score"].get<double>()));
        if (s.index != w["index"].get<int>()) {  // allowed only in a near tie
          EXPECT_NEAR(s.score, w["score"].get<double>(), kTol) << where;
          continue;
        }
        EXPECT_NEAR(s.coef, w["coef"].get<double>(), kTol) << where;
        EXPECT_NEAR(s.norm, w["norm"].get<double>(), kTol) << where;
        EXPECT_NEAR(s.direct, w["direct"].get<double>(), kTol) << where;
        worst = std::max({worst, std::fabs(s.coef - w["coef"].get<double>()), std::fabs(s.direct - w["direct"].get<double>())});
      }
    }
  }
  std::printf("[ maxdiff  ] %s sub-updates: %.3g\n", GetParam(), worst);
}

TEST_P(DebuggerRef, ValueVectorProjectionsMatchPyTorch) {
  std::vector<ValueVectorRef> refs;
  for (const auto& v : ref->meta["valueVectors"]) refs.push_back({v["layer"], v["index"]});
  const auto got = value_vector_tokens(*model, refs, 10, 10);
  double worst = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    const auto& w = ref->meta["valueVectors"][i];
    const std::string where = value_vector_name(refs[i].layer, refs[i].index);
    EXPECT_NEAR(got[i].norm, w["norm"].get<double>(), kTol);
    expect_ranked(pairs(got[i].top, false), w["top"], "logit", where + " top", &worst);
    expect_ranked(pairs(got[i].bottom, false), w["bottom"], "logit", where + " bottom", &worst);
  }
  std::printf("[ maxdiff  ] %s value projections: %.3g\n", GetParam(), worst);
}

TEST_P(DebuggerRef, EveryInterventionModeMatchesPyTorch) {
  const int V = model->config().d_vocab;
  double worst = 0;
  std::set<std::string> modes;
  for (const auto& item : ref->meta["interventions"]) {
    const auto ids = case_ids(item["case"]);
    const Interventions ivs = ivs_from_json(item["interventions"]);
    for (const auto& iv : ivs) modes.insert(mode_name(iv.mode));
    const Interventions resolved = resolve_on(*model, ids, ivs);
    if (item.contains("resolvedOn")) {
      for (const auto& r : item["resolvedOn"]) {
        bool found = false;
        for (const auto& iv : resolved)
          if (iv.layer == r["layer"] && iv.index == r["index"]) {
            EXPECT_EQ(iv.mode, InterventionMode::kPre);
            EXPECT_NEAR(iv.value, r["preValue"].get<double>(), kTol);
            found = true;
          }
        EXPECT_TRUE(found);
      }
    }
    State st(*model);
    ForwardOptions fo;
    fo.all_logits = true;
    fo.interventions = &resolved;
    st.forward(ids, fo);
    size_t n = 0;
    const float* want = ref->f32(item["name"].get<std::string>() + ".logits", &n);
    ASSERT_EQ(n, ids.size() * V);
    const double d = test::max_abs_diff(st.logits(), want, n);
    worst = std::max(worst, d);
    EXPECT_LT(d, kTol) << item["name"];
    // The trace applies the same interventions and reports the clean prediction beside them.
    TraceOptions to;
    to.interventions = ivs;
    const Trace t = run_trace(*model, ids, to);
    EXPECT_EQ(t.positions[0].predicted, item["argmax"].get<int>()) << item["name"];
    EXPECT_EQ(t.positions[0].clean_predicted != t.positions[0].predicted, item["changed"].get<bool>()) << item["name"];
  }
  for (const char* m : {"off", "on", "set", "pre", "scale", "add"}) EXPECT_TRUE(modes.count(m)) << "no case for " << m;
  std::printf("[ maxdiff  ] %s intervention logits: %.3g\n", GetParam(), worst);
}

TEST_P(DebuggerRef, GenerationWithInterventionsMatchesPyTorch) {
  int with_iv = 0;
  for (const auto& g : ref->meta["generation"]) {
    const Interventions ivs = ivs_from_json(g["interventions"]);
    Generator gen(*model, g["prompt_ids"].get<std::vector<int>>(), ivs, Sampling{});
    std::vector<int> got;
    for (size_t i = 0; i < g["new_ids"].size(); ++i) got.push_back(gen.next());
    EXPECT_EQ(got, g["new_ids"].get<std::vector<int>>()) << g["case"] << " with " << ivs.size() << " interventions";
    with_iv += !ivs.empty();
  }
  EXPECT_GT(with_iv, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DebuggerRef, ::testing::Values("l4-f32", "l2-f16"),
                         [](const auto& info) { return std::string(info.param) == "l4-f32" ? "l4_f32" : "l2_f16"; });

TEST(Trace, PositionsAllAndListedAgreeWithLast) {
  auto model = Model::load_dir(test::model_dir("l4-f32"));
  test::Reference ref("l4-f32");
  const auto ids = ref.meta["cases"][1]["ids"].get<std::vector<int>>();
  TraceOptions all;
  all.all_positions = true;
  all.value_top_k = 0;
  const Trace ta = run_trace(*model, ids, all);
  ASSERT_EQ(ta.positions.size(), ids.size());
  TraceOptions some;
  some.positions = {3, 0, 3};
  const Trace ts = run_trace(*model, ids, some);
  ASSERT_EQ(ts.positions.size(), 2u);
  EXPECT_EQ(ts.positions[0].position, 0);
  // Each position's prediction is the argmax of the reference logits at that position.
  const int V = model->config().d_vocab;
  const float* logits = ref.f32("c1.logits");
  for (const auto& p : ta.positions) EXPECT_EQ(p.predicted, argmax(logits + p.position * V, V)) << p.position;
  EXPECT_EQ(ts.positions[1].predicted, ta.positions[3].predicted);
  EXPECT_TRUE(ta.positions[0].layers[0].sub_updates[0].top.empty());
  EXPECT_EQ(ts.positions[1].layers[0].sub_updates[0].top.size(), 10u);
}

TEST(Trace, AttentionPatternsMatchHooks) {
  auto model = Model::load_dir(test::model_dir("l4-f32"));
  test::Reference ref("l4-f32");
  const auto ids = ref.meta["cases"][2]["ids"].get<std::vector<int>>();
  TraceOptions opt;
  opt.attention = true;
  const Trace t = run_trace(*model, ids, opt);
  const size_t per = static_cast<size_t>(model->config().n_heads) * ids.size() * ids.size();
  for (int l = 0; l < model->config().n_layers; ++l) {
    const float* want = ref.f32("c2.blocks." + std::to_string(l) + ".attn.hook_pattern");
    EXPECT_LT(test::max_abs_diff(t.attention.data() + per * l, want, per), kTol);
  }
  const json j = json::parse(trace_to_json(*model, t, true));
  EXPECT_EQ(j["schema"], kTraceSchema);
  EXPECT_EQ(j["attention"].size(), 4u);
  EXPECT_EQ(j["attention"][0]["heads"][0][2].size(), 3u);  // causal rows
}

TEST(Trace, JsonHasTheDocumentedShape) {
  auto model = Model::load_dir(test::model_dir("l2-f16"));
  TraceOptions opt;
  opt.interventions = {parse_intervention("1:3:on"), parse_intervention("0:5:scale=2@1,2")};
  const Trace t = run_trace(*model, model->tokenizer().encode("The old man"), opt);
  const json j = json::parse(trace_to_json(*model, t));
  EXPECT_EQ(j["tokens"].size(), t.tokens.size());
  EXPECT_TRUE(j["tokens"][0].contains("id") && j["tokens"][0].contains("text"));
  const auto& p = j["positions"][0];
  EXPECT_TRUE(p.contains("clean"));
  EXPECT_EQ(p["layers"].size(), 2u);
  EXPECT_EQ(p["layers"][1]["subUpdates"][0]["name"].get<std::string>().rfind("L1D", 0), 0u);
  EXPECT_EQ(p["layers"][1]["subUpdates"][0]["topTokens"].size(), 10u);
  EXPECT_EQ(j["interventions"][0]["mode"], "on");
  EXPECT_EQ(j["resolvedInterventions"][0]["mode"], "pre");
  EXPECT_EQ(j["interventions"][1]["positions"], json::array({1, 2}));
}

TEST(Trace, BadOptionsAreErrors) {
  auto model = Model::load_dir(test::model_dir("l2-f16"));
  const std::vector<int> ids = {1, 2, 3};
  auto with = [&](auto f) {
    TraceOptions o;
    f(o);
    return o;
  };
  EXPECT_THROW(run_trace(*model, {}, {}), Error);
  EXPECT_THROW(run_trace(*model, ids, with([](auto& o) { o.positions = {3}; })), Error);
  EXPECT_THROW(run_trace(*model, ids, with([](auto& o) { o.top_k = 0; })), Error);
  EXPECT_THROW(run_trace(*model, ids, with([](auto& o) { o.interventions = {parse_intervention("2:0:off")}; })), Error);
  EXPECT_THROW(run_trace(*model, ids, with([](auto& o) { o.interventions = {parse_intervention("0:256:off")}; })), Error);
  EXPECT_THROW(parse_intervention("1:2:bogus"), Error);
  EXPECT_THROW(parse_intervention("1:2:set"), Error);
  EXPECT_THROW(parse_intervention("1:2:off=3"), Error);
  EXPECT_THROW(parse_intervention("x:2:off"), Error);
  EXPECT_THROW(parse_value_vector_name("L1X2"), Error);
  EXPECT_EQ(parse_value_vector_name("L12D34").index, 34);
  EXPECT_NO_THROW(run_trace(*model, ids, {}));
}
