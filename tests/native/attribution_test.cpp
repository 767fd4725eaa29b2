// Direct logit attribution against the float64 PyTorch reference: the logit, ln_f's frozen scale,
// every part by name and in order, and the parts' sum; the options and their errors; its cost.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/session/session.h"
#include "test_util.h"

using namespace lmdbg;
using test::kRefTol;

class AttributionRef : public ::testing::TestWithParam<const char*> {};

TEST_P(AttributionRef, PartsMatchPyTorchAndSumToTheLogit) {
  auto s = test::session(GetParam());
  test::Reference ref(GetParam());
  double worst = 0, worst_sum = 0;
  for (const auto& item : ref.meta["attribution"]) {
    const std::string name = item["name"];
    const auto ids = test::case_ids(ref, item["case"]);
    AttributionOptions o;
    o.target = item["target"];
    o.distractor = item["distractor"].is_null() ? -1 : item["distractor"].get<int>();
    o.position = item["position"];
    o.neurons = item["topNeurons"];
    const Interventions ivs = item.contains("interventions") ? test::reference_interventions(item["interventions"]) : Interventions{};
    const Attribution a = s->attribute(ids, o, ivs);
    auto near = [&](double got, double want, const std::string& what) {
      worst = std::max(worst, std::fabs(got - want));
      EXPECT_LT(std::fabs(got - want), kRefTol) << name << " " << what;
    };
    near(a.logit, item["logit"], "logit");
    near(a.scale, item["scale"], "scale");
    const auto& want = item["components"];
    ASSERT_EQ(a.parts.size(), want.size()) << name;
    double sum = 0;
    for (size_t i = 0; i < a.parts.size(); ++i) {
      EXPECT_EQ(part_name(a.parts[i]), want[i]["name"].get<std::string>()) << name << " part " << i;
      near(a.parts[i].value, want[i]["value"], want[i]["name"]);
      sum += a.parts[i].value;
    }
    worst_sum = std::max(worst_sum, std::fabs(sum - a.logit));
    EXPECT_LT(std::fabs(sum - a.logit), 1e-4) << name << ": the parts do not sum to the logit";
  }
  std::printf("[ maxdiff  ] %s attribution parts: %.3g; |sum of parts - logit| <= %.3g\n", GetParam(), worst, worst_sum);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AttributionRef, ::testing::Values("l4-f32", "l2-f16"),
                         [](const auto& info) { return std::string(info.param) == "l4-f32" ? "l4_f32" : "l2_f16"; });

// Every part kind, on a model without a reference dump too: the sum holds for any target.
TEST(Attribution, SumHoldsForAnyTargetAndCountsNeurons) {
  for (const char* v : {"l4-f16-prefix", "l2-bf16"}) {
    auto s = test::session(v);
    const Config& c = s->model().config();
    const auto ids = s->model().tokenizer().encode("It's a long way to the city");
    for (int target : {0, 17, c.d_vocab - 1}) {
      AttributionOptions o;
      o.target = target;
      o.distractor = target == 0 ? 5 : -1;
      o.neurons = 3;
      const Attribution a = s->attribute(ids, o, {});
      double sum = 0;
      int listed = 0, summed = 0, heads = 0;
      for (const auto& p : a.parts) {
        sum += p.value;
        listed += p.kind == PartKind::kNeuron;
        summed += p.kind == PartKind::kNeurons ? p.count : 0;
        heads += p.kind == PartKind::kHead;
      }
      EXPECT_LT(std::fabs(sum - a.logit), 1e-4) << v << " target " << target;
      EXPECT_EQ(listed, 3);
      EXPECT_EQ(listed + summed, c.n_layers * c.d_mlp);
      EXPECT_EQ(heads, c.n_layers * c.n_heads);
      EXPECT_EQ(a.position, static_cast<int>(ids.size()) - 1);
    }
  }
}

TEST(Attribution, OptionsFromJsonAndTheirErrors) {
  auto s = test::session("l4-f32");
  const Model& m = s->model();
  const auto ids = m.tokenizer().encode("The old man walked to the river");
  auto opts = [&](const char* text) { return attribution_options_from_json(io::parse_json(text, "options"), m); };
  auto err = [&](const char* text) {
    try {
      s->attribute(ids, opts(text), {});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const int the = m.tokenizer().encode(" the")[0];
  EXPECT_EQ(opts(R"({"target":" the"})").target, the);
  EXPECT_EQ(opts(R"({"target":5,"distractor":" the","position":"last"})").distractor, the);
  EXPECT_EQ(opts(R"({"target":5,"position":2,"neurons":0})").position, 2);
  EXPECT_NE(err(R"({"target":" riverbank"})").find("\" riverbank\" is 3 tokens ("), std::string::npos) << err(R"({"target":" riverbank"})");
  EXPECT_NE(err(R"({"target":""})").find("is 0 tokens: give one token, or its id"), std::string::npos);
  EXPECT_NE(err(R"({"target":9999})").find("target token 9999 out of range [0, 507)"), std::string::npos);
  EXPECT_NE(err(R"({"target":5,"distractor":5})").find("the distractor is the target"), std::string::npos);
  EXPECT_NE(err(R"({"target":5,"position":99})").find("position 99 out of range [0, 8)"), std::string::npos);
  EXPECT_NE(err(R"({"distractor":5})").find("\"target\" is required"), std::string::npos);
  EXPECT_NE(err(R"({"target":5,"topk":3})").find("unknown option \"topk\""), std::string::npos);
  const auto j = attribution_to_json(m, ids, s->attribute(ids, opts(R"({"target":" the","distractor":5,"neurons":2})"), {}));
  EXPECT_EQ(j["schema"], "lmdbg.attribution/1");
  EXPECT_EQ(j["target"]["id"], the);
  EXPECT_EQ(j["distractor"]["id"], 5);
  EXPECT_EQ(j["components"][0]["name"], "embed");
  EXPECT_EQ(j["components"].back()["kind"], "ln_final_bias");
}

TEST(Attribution, CostsOnePassAndTwoWithOn) {
  auto s = test::session("l2-f16");
  const auto ids = s->model().tokenizer().encode("The old man");
  AttributionOptions o;
  o.target = 3;
  uint64_t before = s->forward_passes();
  s->attribute(ids, o, {});
  EXPECT_EQ(s->forward_passes() - before, 1u);
  before = s->forward_passes();
  s->attribute(ids, o, {parse_intervention("1:2:on")});
  EXPECT_EQ(s->forward_passes() - before, 2u);
}

// A trace carries the same attribution at no extra pass (the page asks for it in its one trace).
TEST(Attribution, InATraceAtNoExtraPass) {
  auto s = test::session("l4-f32");
  const Model& m = s->model();
  const auto ids = m.tokenizer().encode("The old man walked to the river");
  const TraceOptions o = trace_options_from_json(
      io::parse_json(R"({"attribute":{"target":" the","distractor":5,"neurons":4},"heads":0})", "options"), &m);
  const uint64_t before = s->forward_passes();
  const Trace t = s->trace(ids, o);
  EXPECT_EQ(s->forward_passes() - before, 1u);
  ASSERT_TRUE(t.attribution.has_value());
  const Attribution a = s->attribute(ids, *o.attribute, {});
  ASSERT_EQ(t.attribution->parts.size(), a.parts.size());
  EXPECT_NEAR(t.attribution->logit, a.logit, 1e-6);
  for (size_t i = 0; i < a.parts.size(); ++i) EXPECT_NEAR(t.attribution->parts[i].value, a.parts[i].value, 1e-6);
  const auto j = nlohmann::json::parse(test::trace_text(*s, t));
  EXPECT_EQ(j["attribution"]["schema"], "lmdbg.attribution/1");
  EXPECT_THROW(trace_options_from_json(io::parse_json(R"({"attribute":{"target":" the"}})", "options")), Error);
  EXPECT_THROW(s->trace(ids, trace_options_from_json(io::parse_json(R"({"attribute":{"target":3,"position":8}})", "o"), &m)),
               Error);
}
