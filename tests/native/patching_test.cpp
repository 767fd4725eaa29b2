// Activation patching against the float64 PyTorch reference (single patches and sweeps, prompts of
// different lengths aligned at their ends), its two defining properties, what it costs in forward
// passes, the trace with a patch, and its errors.
#include <gtest/gtest.h>

#include <cmath>

#include "core/analysis/patching.h"
#include "core/error.h"
#include "core/session/session.h"
#include "test_util.h"

using namespace lmdbg;
using nlohmann::json;
using test::kRefTol;

namespace {

using test::passes;

PatchMetric metric_of(const json& j) { return patch_metric_from_json(j); }

Hook hook_of(const json& name) { return patch_hook_from_json(name, "test"); }

class PatchRef : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    s = test::session(GetParam());
    ref = std::make_unique<test::Reference>(GetParam());
    for (const auto& p : ref->meta["patching"]["pairs"])
      pairs[p["name"]] = {p["source"]["ids"].get<std::vector<int>>(), p["target"]["ids"].get<std::vector<int>>()};
  }
  std::unique_ptr<Session> s;
  std::unique_ptr<test::Reference> ref;
  std::map<std::string, std::pair<std::vector<int>, std::vector<int>>> pairs;
};

}  // namespace

TEST_P(PatchRef, SinglePatchesMatchPyTorch) {
  double worst = 0;
  for (const auto& pj : ref->meta["patching"]["patches"]) {
    const auto& [src, tgt] = pairs.at(pj["pair"]);
    PatchSpec spec;
    spec.hook = hook_of(pj["hook"]);
    spec.layer = pj["layer"];
    spec.head = pj.value("head", -1);
    if (!pj["positions"].is_null()) spec.positions = pj["positions"].get<std::vector<int>>();
    const PatchResult r = s->patch(src, tgt, spec, metric_of(pj["metric"]));
    const std::string w = pj["pair"].get<std::string>() + " " + pj["hook"].get<std::string>() + " L" +
                          std::to_string(spec.layer) + (spec.head >= 0 ? "H" + std::to_string(spec.head) : "");
    for (auto [got, key] : {std::pair{r.metric, "value"}, {r.clean, "clean"}, {r.corrupt, "corrupt"}}) {
      const double d = std::fabs(got - pj[key].get<double>());
      worst = std::max(worst, d);
      EXPECT_LT(d, kRefTol) << w << " " << key;
    }
    EXPECT_EQ(r.predicted, pj["argmax"].get<int>()) << w;
    EXPECT_FALSE(spec.positions.empty());  // filled in
  }
  std::printf("[ maxdiff  ] %s patch metrics: %.3g\n", GetParam(), worst);
}

TEST_P(PatchRef, SweepsMatchPyTorch) {
  double worst = 0;
  for (const auto& sj : ref->meta["patching"]["sweeps"]) {
    const auto& pair = pairs.at(sj["pair"]);
    const auto& src = pair.first;  // not a structured binding: C++17 lambdas cannot capture one (clang rejects it)
    const auto& tgt = pair.second;
    PatchSpec what;
    what.hook = hook_of(sj["hook"]);
    what.head = sj.value("head", -1);
    PatchSweep sw;
    const uint64_t n = passes(*s, [&] { sw = s->patch_sweep(src, tgt, what, metric_of(sj["metric"])); });
    const int L = s->model().config().n_layers, Tt = static_cast<int>(tgt.size());
    const int aligned = std::min(Tt, static_cast<int>(src.size()));
    EXPECT_EQ(n, 2u + static_cast<uint64_t>(L) * aligned);  // source, clean target, one per cell
    EXPECT_EQ(sw.offset, static_cast<int>(src.size()) - Tt);
    ASSERT_EQ(sw.metric.size(), static_cast<size_t>(L) * Tt);
    EXPECT_LT(std::fabs(sw.clean - sj["clean"].get<double>()), kRefTol);
    EXPECT_LT(std::fabs(sw.corrupt - sj["corrupt"].get<double>()), kRefTol);
    for (int l = 0; l < L; ++l)
      for (int p = 0; p < Tt; ++p) {
        const auto& want = sj["values"][l][p];
        const double got = sw.metric[static_cast<size_t>(l) * Tt + p];
        if (want.is_null()) {
          EXPECT_TRUE(std::isnan(got)) << "L" << l << " p" << p;
          continue;
        }
        const double d = std::fabs(got - want.get<double>());
        worst = std::max(worst, d);
        EXPECT_LT(d, kRefTol) << sj["pair"] << " " << sj["hook"] << " L" << l << " p" << p;
      }
    // The JSON: rows of numbers, null where the target position has no source counterpart.
    const json j = json::parse(patch_sweep_to_json(s->model(), sw, metric_of(sj["metric"]), src, tgt).dump());
    EXPECT_EQ(j["schema"], "lmdbg.patch-sweep/1");
    EXPECT_EQ(j["metric"].size(), static_cast<size_t>(L));
    EXPECT_EQ(j["metric"][0][0].is_null(), sw.offset < 0);
    EXPECT_EQ(j["target"]["tokens"].size(), tgt.size());
    EXPECT_EQ(j["options"].contains("head"), what.head >= 0);
  }
  std::printf("[ maxdiff  ] %s patch sweeps: %.3g\n", GetParam(), worst);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PatchRef, ::testing::Values("l4-f32", "l2-f16"),
                         [](const auto& info) { return std::string(info.param) == "l4-f32" ? "l4_f32" : "l2_f16"; });

// Patching the last layer's resid_post at the last position hands the target the source's final
// residual: the metric is the source's. Patching a prompt into itself changes nothing.
TEST(Patching, LastResidPostGivesTheSourceAndSelfPatchingChangesNothing) {
  auto s = test::session("l4-f32");
  const auto& tok = s->model().tokenizer();
  const auto src = tok.encode("The old man walked to the river");
  const auto tgt = tok.encode("A child ran to the sea");
  const int L = s->model().config().n_layers;
  for (const char* mj : {R"({"type":"logit","token":17})", R"({"type":"prob","token":300})",
                         R"({"type":"logitDiff","token":17,"distractor":250})"}) {
    const PatchMetric metric = patch_metric_from_json(json::parse(mj));
    PatchSpec spec;
    spec.hook = Hook::kResidPost;
    spec.layer = L - 1;
    spec.positions = {static_cast<int>(tgt.size()) - 1};
    const PatchResult r = s->patch(src, tgt, spec, metric);
    EXPECT_NEAR(r.metric, r.clean, 1e-6 * std::max(1.0, std::fabs(r.clean))) << mj;
    if (metric.kind != PatchMetricKind::kProb) EXPECT_GT(std::fabs(r.clean - r.corrupt), 1e-3) << mj;  // they differ
    for (Hook h : {Hook::kResidPre, Hook::kAttnOut, Hook::kResidMid, Hook::kMlpOut, Hook::kResidPost, Hook::kResult}) {
      PatchSpec what;
      what.hook = h;
      if (h == Hook::kResult) what.head = 2;
      const PatchSweep self = s->patch_sweep(tgt, tgt, what, metric);
      EXPECT_EQ(self.clean, self.corrupt);
      for (double v : self.metric) EXPECT_NEAR(v, self.corrupt, 1e-5 * std::max(1.0, std::fabs(v))) << hook_short(h);
    }
  }
}

// A patched pass resumes at the first patched position and layer from the clean target's cache and
// resid_pre: the same numbers as a full pass with the patch.
TEST(Patching, ResumedPassesEqualFullPasses) {
  auto s = test::session("l2-f16");
  const Model& m = s->model();
  const auto src = m.tokenizer().encode("The sun shines on the river today");  // the longer prompt
  const auto tgt = m.tokenizer().encode("It rains in the old city");
  const PatchMetric metric = patch_metric_from_json(json::parse(R"({"type":"logit","token":42})"));
  const int d = m.config().d_model, off = patch_offset(static_cast<int>(src.size()), static_cast<int>(tgt.size()));
  for (Hook h : {Hook::kResidPre, Hook::kAttnOut, Hook::kResidMid, Hook::kMlpOut, Hook::kResidPost, Hook::kResult})
    for (int layer : {0, 1})
      for (std::vector<int> ps : std::vector<std::vector<int>>{{3}, {2, 5}, {}}) {
        PatchSpec spec{h, layer, ps, h == Hook::kResult ? layer + 1 : -1};
        const PatchResult r = s->patch(src, tgt, spec, metric);
        State source(m), full(m);
        ForwardOptions so;
        so.keep.add(h);
        source.forward(src, so);
        const PatchEditor ed(source, spec, off);
        ForwardOptions fo;
        fo.editor = &ed;
        fo.keep.add(Hook::kLnFinal);
        full.forward(tgt, fo);
        const double want = patch_metric_at(m, metric, full.hook(Hook::kLnFinal) + (tgt.size() - 1) * d);
        EXPECT_NEAR(r.metric, want, 1e-5) << hook_short(h) << " L" << layer << " from " << spec.positions.front();
      }
}

TEST(Patching, CostsAndTheTraceWithAPatch) {
  auto s = test::session("l2-f16");
  const auto& tok = s->model().tokenizer();
  const auto src = tok.encode("The old man walked slowly to the river");
  const auto tgt = tok.encode("A child ran to the sea");
  ASSERT_GT(src.size(), tgt.size());
  const PatchMetric prob = patch_metric_from_json(json::parse(R"({"type":"prob","token":17})"));
  PatchSpec spec{Hook::kResidMid, 1, {2, 4}};
  PatchResult r;
  EXPECT_EQ(passes(*s, [&] { r = s->patch(src, tgt, spec, prob); }), 3u);
  // The trace of the patched run: the same prediction, the clean target beside it.
  TraceOptions o;
  o.patch = TracePatch{src, spec};
  Trace t;
  EXPECT_EQ(passes(*s, [&] { t = s->trace(tgt, o); }), 3u);  // source, clean target, patched
  const auto& p = t.positions[0];
  EXPECT_EQ(p.predicted, r.predicted);
  const Trace plain = s->trace(tgt, {});
  EXPECT_EQ(p.clean_predicted, plain.positions[0].predicted);
  o.track = {17};
  o.interventions = {parse_intervention("0:3:off")};
  t = s->trace(tgt, o);
  PatchSpec alone = spec;
  EXPECT_NEAR(s->patch(src, tgt, alone, prob).metric, [&] {
    TraceOptions np = o;
    np.interventions.clear();
    return s->trace(tgt, np).positions[0].layers.back().tracked[0].prob_after;
  }(), 1e-5);
  const json j = json::parse(test::trace_text(*s, t));
  EXPECT_EQ(j["options"]["patch"]["hook"], "resid_mid");
  EXPECT_EQ(j["options"]["patch"]["positions"], json::array({2, 4}));
  EXPECT_EQ(j["options"]["patch"]["offset"], static_cast<int>(src.size() - tgt.size()));
  EXPECT_EQ(j["options"]["patch"]["source"].size(), src.size());
  EXPECT_TRUE(j["positions"][0].contains("clean"));
  // From JSON, as the bindings read it.
  const TraceOptions from = test::trace_options_text(R"({"patch": {"source": )" + json(src).dump() +
                                                     R"(, "hook": "resid_post", "layer": 0, "positions": [1]}})");
  EXPECT_EQ(passes(*s, [&] { s->trace(tgt, from); }), 3u);
  // One head's result: the trace's patched run is patch()'s, and its JSON names the head.
  const TraceOptions head = test::trace_options_text(R"({"track": [17], "patch": {"source": )" + json(src).dump() +
                                                     R"(, "hook": "result", "layer": 1, "head": 2}})");
  PatchSpec hs{Hook::kResult, 1, {}, 2};
  const double want = s->patch(src, tgt, hs, prob).metric;
  const Trace th = s->trace(tgt, head);
  EXPECT_NEAR(th.positions[0].layers.back().tracked[0].prob_after, want, 1e-5);
  const json jh = json::parse(test::trace_text(*s, th));
  EXPECT_EQ(jh["options"]["patch"]["hook"], "result");
  EXPECT_EQ(jh["options"]["patch"]["head"], 2);
}

TEST(Patching, BadRequestsAreErrorsThatNameTheProblem) {
  auto s = test::session("l2-f16");
  const std::vector<int> src = {1, 2, 3}, tgt = {4, 5, 6, 7, 8};
  const PatchMetric logit = patch_metric_from_json(json::parse(R"({"type":"logit","token":3})"));
  auto message = [&](PatchSpec spec, const PatchMetric& m = {}) -> std::string {
    try {
      s->patch(src, tgt, spec, m);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message({Hook::kPattern, 0, {}}, logit).find("cannot be patched"), std::string::npos);
  EXPECT_NE(message({Hook::kResidPre, 2, {}}, logit).find("layer 2"), std::string::npos);
  EXPECT_NE(message({Hook::kResidPre, 0, {5}}, logit).find("out of range"), std::string::npos);
  EXPECT_NE(message({Hook::kResidPre, 0, {1}}, logit).find("no source position"), std::string::npos);
  EXPECT_NE(message({Hook::kResult, 0, {4}}, logit).find("needs a head"), std::string::npos);
  EXPECT_NE(message({Hook::kResult, 0, {4}, 9}, logit).find("head 9 out of range"), std::string::npos);
  EXPECT_NE(message({Hook::kResidPre, 0, {4}, 1}, logit).find("hook result only"), std::string::npos);
  PatchMetric bad;
  bad.token = 507;
  EXPECT_NE(message({Hook::kResidPre, 0, {4}}, bad).find("507"), std::string::npos);
  EXPECT_THROW(patch_metric_from_json(json::parse(R"({"type":"logitDiff","token":3})")), Error);
  EXPECT_THROW(patch_metric_from_json(json::parse(R"({"type":"logitDiff","token":3,"distractor":3})")), Error);
  EXPECT_THROW(patch_metric_from_json(json::parse(R"({"type":"rank","token":3})")), Error);
  EXPECT_THROW(patch_metric_from_json(json::parse(R"({"type":"logit","token":3,"distractor":4})")), Error);
  EXPECT_THROW(test::trace_options_text(R"({"patch": {"source": [1], "hook": "resid_pre", "layer": 0, "pos": [0]}})"), Error);
  EXPECT_THROW(test::trace_options_text(R"({"patch": {"source": [1], "hook": "post", "layer": 0}})"), Error);
  TraceOptions o;
  o.patch = TracePatch{{}, {Hook::kResidPre, 0, {}}};
  EXPECT_THROW(s->trace(tgt, o), Error);  // an empty source
  PatchSpec ok{Hook::kResidPre, 0, {4}};
  EXPECT_NO_THROW(s->patch(src, tgt, ok, logit));  // usable after errors
}
