// Attention heads: the per-head hooks (q, k, v, attn_scores, z, result) and how they fit together,
// the trace's head step against the float64 PyTorch reference, and head interventions (the
// reference's values and logits are checked with every hook and intervention in forward_test and
// interventions_test).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/session/session.h"
#include "test_util.h"

using namespace lmdbg;
using test::kRefTol;

namespace {

const HookSet kHeadHooks = HookSet{}
                               .add(Hook::kQ)
                               .add(Hook::kK)
                               .add(Hook::kV)
                               .add(Hook::kAttnScores)
                               .add(Hook::kPattern)
                               .add(Hook::kZ)
                               .add(Hook::kResult)
                               .add(Hook::kAttnOut)
                               .add(Hook::kResidPost);

// Edits one hook of one layer with f(x, width, T).
template <typename F>
struct OneHook : HookEditor {
  Hook hook;
  int layer;
  F f;
  OneHook(Hook h, int l, F fn) : hook(h), layer(l), f(fn) {}
  HookSet edits() const override { return HookSet{}.add(hook); }
  void edit(Hook h, int l, int, int T, int width, float* x) const override {
    if (l == layer) f(x, width, T);
  }
};

}  // namespace

TEST(HeadHooks, ResultsSumToAttnOutAndScoresArePreSoftmax) {
  auto m = Model::load_dir(test::model_dir("l4-f32"));
  const Config& c = m->config();
  const auto ids = m->tokenizer().encode("The old man walked to the river");
  const int T = static_cast<int>(ids.size()), d = c.d_model, H = c.n_heads;
  State st(*m);
  ForwardOptions o;
  o.keep = kHeadHooks;
  st.forward(ids, o);
  EXPECT_EQ(hook_shape(Hook::kResult, H, d, c.d_mlp, T), (std::vector<int>{T, H, d}));
  EXPECT_EQ(hook_shape(Hook::kZ, H, d, c.d_mlp, T), (std::vector<int>{T, H, c.d_head()}));
  EXPECT_EQ(hook_shape(Hook::kAttnScores, H, d, c.d_mlp, T), (std::vector<int>{H, T, T}));
  double worst = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    const float* result = st.hook(Hook::kResult, l);
    const float* out = st.hook(Hook::kAttnOut, l);
    for (int t = 0; t < T; ++t)
      for (int n = 0; n < d; ++n) {
        double s = m->weights().layers[l].W_O.bias(n);
        for (int h = 0; h < H; ++h) s += result[(static_cast<size_t>(t) * H + h) * d + n];
        worst = std::max(worst, std::fabs(s - out[static_cast<size_t>(t) * d + n]));
      }
    // softmax(scores) over the visible keys is the pattern; the masked keys are -inf.
    const float* scores = st.hook(Hook::kAttnScores, l);
    const float* pattern = st.hook(Hook::kPattern, l);
    for (int h = 0; h < H; ++h)
      for (int q = 0; q < T; ++q) {
        const float* s = scores + (static_cast<size_t>(h) * T + q) * T;
        double mx = s[0], z = 0;
        for (int k = 0; k <= q; ++k) mx = std::max(mx, static_cast<double>(s[k]));
        for (int k = 0; k <= q; ++k) z += std::exp(s[k] - mx);
        for (int k = 0; k <= q; ++k)
          ASSERT_NEAR(std::exp(s[k] - mx) / z, pattern[(static_cast<size_t>(h) * T + q) * T + k], 1e-6);
        for (int k = q + 1; k < T; ++k) ASSERT_EQ(s[k], -INFINITY) << "L" << l << "H" << h << " " << q << "," << k;
      }
  }
  EXPECT_LT(worst, 1e-5);
  std::printf("[ maxdiff  ] sum of hook_result + b_O vs hook_attn_out: %.3g\n", worst);
}

// The per-head hooks are computed only when asked for: a default pass keeps none of them.
TEST(HeadHooks, OnDemandHooksAreNotKeptByDefault) {
  auto m = Model::load_dir(test::model_dir("l2-f16"));
  State st(*m);
  st.forward(m->tokenizer().encode("The old man"), {});
  for (Hook h : {Hook::kQ, Hook::kK, Hook::kV, Hook::kAttnScores, Hook::kPattern, Hook::kZ, Hook::kResult})
    EXPECT_EQ(st.hook(h, 0), nullptr) << hook_suffix(h);
  EXPECT_TRUE(hook_on_demand(Hook::kResult));
  EXPECT_FALSE(hook_on_demand(Hook::kZ));
  EXPECT_TRUE(hook_editable(Hook::kZ) && hook_editable(Hook::kResult) && hook_editable(Hook::kQ));
  EXPECT_FALSE(hook_editable(Hook::kAttnScores));
}

// A KV-cached step computes the rows the whole prompt computes at those positions.
TEST(HeadHooks, KvCachedStepsMatchTheWholePrompt) {
  auto m = Model::load_dir(test::model_dir("l4-f32"));
  const Config& c = m->config();
  const auto ids = m->tokenizer().encode("The children played in the field by the river");
  const int T = static_cast<int>(ids.size()), P = T - 3, H = c.n_heads;
  State full(*m), step(*m);
  ForwardOptions o;
  o.keep = kHeadHooks;
  full.forward(ids, o);
  step.forward(std::span<const int>(ids).first(P), {});
  step.forward(std::span<const int>(ids).subspan(P), o);
  double worst = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    for (Hook h : {Hook::kQ, Hook::kK, Hook::kV, Hook::kZ, Hook::kResult}) {
      const int w = full.hook_width(h);
      ASSERT_EQ(step.hook_width(h), w);
      worst = std::max(worst, test::max_abs_diff(step.hook(h, l), full.hook(h, l) + static_cast<size_t>(P) * w,
                                                 static_cast<size_t>(T - P) * w));
    }
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < T - P; ++t)  // [H, T-P, T] against rows P.. of [H, T, T]
        worst = std::max(worst, test::max_abs_diff(step.hook(Hook::kAttnScores, l) + (static_cast<size_t>(h) * (T - P) + t) * T,
                                                   full.hook(Hook::kAttnScores, l) + (static_cast<size_t>(h) * T + P + t) * T, T));
  }
  EXPECT_LT(worst, 1e-5);
}

// Edits of the head hooks take effect: zeroing head h's result is the head-off intervention (at
// z), and zero queries make every score 0, so each query attends uniformly.
TEST(HeadHooks, EditsOfQAndResultTakeEffect) {
  auto m = Model::load_dir(test::model_dir("l4-f32"));
  const Config& c = m->config();
  const auto ids = m->tokenizer().encode("The old man walked to the river");
  const int T = static_cast<int>(ids.size()), d = c.d_model, H = c.n_heads, V = c.d_vocab;
  const int layer = 2, head = 1;
  auto zero_result = [&](float* x, int width, int n) {
    for (int t = 0; t < n; ++t) std::fill_n(x + static_cast<size_t>(t) * width + head * d, d, 0.f);
  };
  OneHook a(Hook::kResult, layer, zero_result);
  ForwardOptions oa;
  oa.all_logits = true;
  oa.editor = &a;
  State sa(*m);
  sa.forward(ids, oa);
  const Interventions ivs = {parse_intervention("2:h1:off")};
  InterventionEditor b(ivs, H);
  ForwardOptions ob = oa;
  ob.editor = &b;
  State sb(*m);
  sb.forward(ids, ob);
  State clean(*m);
  ForwardOptions oc;
  oc.all_logits = true;
  clean.forward(ids, oc);
  const size_t n = static_cast<size_t>(T) * V;
  EXPECT_LT(test::max_abs_diff(sa.logits(), sb.logits(), n), 1e-5);
  EXPECT_GT(test::max_abs_diff(sa.logits(), clean.logits(), n), 1e-2);

  OneHook q(Hook::kQ, 0, [](float* x, int width, int n) { std::fill_n(x, static_cast<size_t>(n) * width, 0.f); });
  ForwardOptions oq;
  oq.keep.add(Hook::kPattern).add(Hook::kQ);
  oq.editor = &q;
  State sq(*m);
  sq.forward(ids, oq);
  for (int h = 0; h < H; ++h)
    for (int t = 0; t < T; ++t)
      for (int k = 0; k <= t; ++k) ASSERT_NEAR(sq.hook(Hook::kPattern, 0)[(static_cast<size_t>(h) * T + t) * T + k], 1.f / (t + 1), 1e-6);
  EXPECT_EQ(sq.hook(Hook::kQ, 0)[0], 0.f);

  OneHook bad(Hook::kAttnScores, 0, [](float*, int, int) {});
  ForwardOptions ox;
  ox.editor = &bad;
  State sx(*m);
  EXPECT_THROW(sx.forward(ids, ox), Error);
}

class HeadsRef : public ::testing::TestWithParam<const char*> {};

// The trace's heads: every head ranked by ||result_h||, its direct effect on the prediction and the
// top/bottom tokens of wte·result_h, at the last position of every case.
TEST_P(HeadsRef, TraceHeadsMatchPyTorch) {
  auto s = test::session(GetParam());
  test::Reference ref(GetParam());
  const int H = s->model().config().n_heads;
  double worst = 0;
  for (const auto& item : ref.meta["heads"]) {
    const auto ids = test::case_ids(ref, item["case"]);
    TraceOptions o;
    o.heads = H;
    const Trace t = s->trace(ids, o);
    ASSERT_EQ(t.positions[0].predicted, item["pred"].get<int>());
    for (const auto& rl : item["layers"]) {
      const auto& got = t.positions[0].layers[rl["layer"].get<int>()].heads;
      const auto& want = rl["heads"];
      ASSERT_EQ(got.size(), want.size());
      for (size_t r = 0; r < got.size(); ++r) {
        const std::string where = item["case"].get<std::string>() + " " + head_name(got[r].layer, got[r].head);
        EXPECT_EQ(got[r].head, want[r]["head"].get<int>()) << where << " rank " << r;
        for (const auto& [key, v] : {std::pair{"norm", got[r].norm}, std::pair{"direct", got[r].direct}}) {
          const double dd = std::fabs(v - want[r][key].get<double>());
          worst = std::max(worst, dd);
          EXPECT_LT(dd, kRefTol) << where << " " << key;
        }
        test::expect_ranked(test::pairs(got[r].top, false), want[r]["top"], "logit", where + " top", &worst);
        test::expect_ranked(test::pairs(got[r].bottom, false), want[r]["bottom"], "logit", where + " bottom", &worst);
      }
    }
  }
  std::printf("[ maxdiff  ] %s trace heads: %.3g\n", GetParam(), worst);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HeadsRef, ::testing::Values("l4-f32", "l2-f16"),
                         [](const auto& info) { return std::string(info.param) == "l4-f32" ? "l4_f32" : "l2_f16"; });

TEST(TraceHeads, CountOptionJsonAndCleanLayers) {
  auto s = test::session("l4-f32");
  const Config& c = s->model().config();
  const auto ids = s->model().tokenizer().encode("The river flows north");
  // Default: every head of a small model (4 layers x 4 heads); the 3 largest of a large one.
  EXPECT_EQ(trace_heads({}, c), c.n_heads);
  Config big = c;
  big.n_layers = 12;
  big.n_heads = 12;
  EXPECT_EQ(trace_heads({}, big), 3);
  const Trace t = s->trace(ids, test::trace_options_text(R"({"heads":2,"valueTopK":3})"));
  EXPECT_EQ(t.options.heads, 2);
  for (const auto& l : t.positions[0].layers) {
    ASSERT_EQ(l.heads.size(), 2u);
    EXPECT_GE(l.heads[0].norm, l.heads[1].norm);
    EXPECT_EQ(l.heads[0].top.size(), 3u);
    EXPECT_EQ(l.heads[0].bottom.size(), 3u);
  }
  const auto j = nlohmann::json::parse(test::trace_text(*s, t));
  EXPECT_EQ(j["options"]["heads"], 2);
  const auto& h0 = j["positions"][0]["layers"][1]["heads"][0];
  EXPECT_EQ(h0["name"], "L1H" + std::to_string(h0["head"].get<int>()));
  EXPECT_EQ(h0["topTokens"].size(), 3u);
  EXPECT_TRUE(h0.contains("bottomTokens") && h0.contains("norm") && h0.contains("direct"));
  // heads: 0 lists none (and keeps no hook_z); out of range is an error naming the option.
  const Trace none = s->trace(ids, test::trace_options_text(R"({"heads":0})"));
  EXPECT_TRUE(none.positions[0].layers[0].heads.empty());
  EXPECT_FALSE(nlohmann::json::parse(test::trace_text(*s, none))["positions"][0]["layers"][0].contains("heads"));
  try {
    s->trace(ids, test::trace_options_text(R"({"heads":5})"));
    ADD_FAILURE() << "heads 5 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("heads must be in [0, 4]"), std::string::npos) << e.what();
  }
  // A head switched off: its norm is 0 in the intervened layers and not in the clean ones.
  TraceOptions o;
  o.interventions = {parse_intervention("3:h2:off")};
  o.clean_layers = true;
  const Trace iv = s->trace(ids, o);
  auto norm_of = [](const std::vector<HeadUpdate>& hs, int h) {
    for (const auto& x : hs)
      if (x.head == h) return x.norm;
    return -1.f;
  };
  EXPECT_EQ(norm_of(iv.positions[0].layers[3].heads, 2), 0.f);
  EXPECT_GT(norm_of(iv.positions[0].clean_layers[3].heads, 2), 0.f);
}

TEST(HeadInterventions, SpecJsonAndChecks) {
  const Intervention a = parse_intervention("3:h5:scale=0.5@2");
  EXPECT_EQ(a.head, 5);
  EXPECT_TRUE(a.on_head());
  EXPECT_EQ(a.mode, InterventionMode::kScale);
  EXPECT_EQ(format_intervention(a), "3:h5:scale=0.5@2");
  EXPECT_EQ(to_json(a).dump(), R"({"layer":3,"head":5,"mode":"scale","value":0.5,"positions":[2]})");
  const auto back = test::interventions_text(to_json(a).dump().insert(0, "[") + "]");
  EXPECT_EQ(format_intervention(back[0]), "3:h5:scale=0.5@2");
  EXPECT_EQ(parse_intervention("1:H2:off").head, 2);
  auto err = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const Config c = test::session("l2-f16")->model().config();
  EXPECT_NE(err([&] { validate_interventions({parse_intervention("1:h4:off")}, c); }).find("head 4 out of range [0, 4)"),
            std::string::npos);
  EXPECT_NE(err([&] { validate_interventions({parse_intervention("1:h1:on")}, c); })
                .find("mode on does not apply to a head L1H1 (a head accepts off or scale=V)"),
            std::string::npos);
  EXPECT_NE(err([] { test::interventions_text(R"([{"layer":0,"head":1,"index":2,"mode":"off"}])"); }).find("not both"),
            std::string::npos);
  EXPECT_NE(err([] { test::interventions_text(R"([{"layer":0,"mode":"off"}])"); }).find("give either \"index\""),
            std::string::npos);
  EXPECT_NE(err([] { parse_intervention("1:hx:off"); }).find("head \"x\" is not an integer"), std::string::npos);
  // The mode table says which modes a head accepts.
  const auto table = mode_table_json();
  for (const auto& row : table) {
    const bool head = find_mode(row["name"].get<std::string>())->head_effect != nullptr;
    EXPECT_EQ(row["targets"].size(), head ? 2u : 1u) << row.dump();
    EXPECT_EQ(row.contains("headEffect"), head);
  }
}

// Head interventions cost what neuron ones do (generation with one is checked against the
// reference in generation_test).
TEST(HeadInterventions, CostLikeNeuronInterventions) {
  auto s = test::session("l2-f16");
  const auto ids = s->model().tokenizer().encode("The old man");
  const Interventions ivs = {parse_intervention("1:h0:scale=2")};
  uint64_t before = s->forward_passes();
  s->run_with_cache(ids, {}, ivs);
  EXPECT_EQ(s->forward_passes() - before, 1u);
  TraceOptions o;
  o.interventions = ivs;
  before = s->forward_passes();
  s->trace(ids, o);
  EXPECT_EQ(s->forward_passes() - before, 2u);
}
