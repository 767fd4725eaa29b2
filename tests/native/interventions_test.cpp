// Interventions: every mode against the float64 PyTorch reference (applied by the InterventionEditor
// inside the forward pass; `on` resolved from the clean run), the spec syntax, the JSON form, and
// the checks against the model and the prompt.
#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "core/session/session.h"
#include "test_util.h"

using namespace lmdbg;
using nlohmann::json;
using test::kRefTol;

class InterventionsRef : public ::testing::TestWithParam<const char*> {};

TEST_P(InterventionsRef, EveryModeMatchesPyTorch) {
  auto s = test::session(GetParam());
  test::Reference ref(GetParam());
  const Model& m = s->model();
  const int V = m.config().d_vocab;
  double worst = 0;
  std::set<std::string> modes;
  for (const auto& item : ref.meta["interventions"]) {
    const auto ids = test::case_ids(ref, item["case"]);
    const Interventions ivs = test::reference_interventions(item["interventions"]);
    for (const auto& iv : ivs) modes.insert(mode_name(iv.mode));
    const auto cache = s->run_with_cache(ids, {HookRef{Hook::kMlpPost, 0}}, ivs);
    size_t n = 0;
    const float* want = ref.f32(item["name"].get<std::string>() + ".logits", &n);
    ASSERT_EQ(n, ids.size() * V);
    const double d = test::max_abs_diff(cache.state->logits(), want, n);
    worst = std::max(worst, d);
    EXPECT_LT(d, kRefTol) << item["name"];
    // The trace applies the same interventions, resolves `on` as the reference does, and reports
    // the clean prediction beside them.
    TraceOptions to;
    to.interventions = ivs;
    const Trace t = s->trace(ids, to);
    if (item.contains("resolvedOn")) {
      for (const auto& r : item["resolvedOn"]) {
        bool found = false;
        for (const auto& iv : t.options.interventions)
          if (iv.layer == r["layer"] && iv.index == r["index"]) {
            EXPECT_EQ(iv.mode, InterventionMode::kPre);
            EXPECT_NEAR(iv.value, r["preValue"].get<double>(), kRefTol);
            found = true;
          }
        EXPECT_TRUE(found);
      }
    }
    EXPECT_EQ(t.positions[0].predicted, item["argmax"].get<int>()) << item["name"];
    EXPECT_EQ(t.positions[0].clean_predicted != t.positions[0].predicted, item["changed"].get<bool>()) << item["name"];
  }
  for (const auto& mi : kModes) EXPECT_TRUE(modes.count(mi.name)) << "no case for " << mi.name;
  std::printf("[ maxdiff  ] %s intervention logits: %.3g\n", GetParam(), worst);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, InterventionsRef, ::testing::Values("l4-f32", "l2-f16"),
                         [](const auto& info) { return std::string(info.param) == "l4-f32" ? "l4_f32" : "l2_f16"; });

TEST(Interventions, SpecSyntaxFollowsTheModeTable) {
  for (const auto& mi : kModes) {
    const std::string spec = std::string("1:2:") + mi.name + (mi.takes_value ? "=1.5" : "") + "@0,3";
    const Intervention iv = parse_intervention(spec);
    EXPECT_EQ(iv.mode, mi.mode);
    EXPECT_EQ(iv.positions, (std::vector<int>{0, 3}));
    EXPECT_EQ(format_intervention(iv), spec);
    EXPECT_EQ(interventions_from_json(json::array({json::parse(to_json(iv).dump())}))[0].mode, mi.mode);
  }
  EXPECT_THROW(parse_intervention("1:2:bogus"), Error);
  EXPECT_THROW(parse_intervention("1:2:set"), Error);
  EXPECT_THROW(parse_intervention("1:2:off=3"), Error);
  EXPECT_THROW(parse_intervention("x:2:off"), Error);
  EXPECT_THROW(parse_intervention("1:2:set=abc"), Error);
  try {
    parse_intervention("1:2:set=abc");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("value \"abc\" is not a finite number"), std::string::npos) << e.what();
  }
}

TEST(Interventions, JsonIsCheckedFieldByField) {
  auto err = [](const char* text) {
    try {
      test::interventions_text(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(err(R"([{"layer":0,"index":1,"mode":"set"}])").find("mode set needs a \"value\""), std::string::npos);
  EXPECT_NE(err(R"([{"layer":0,"index":1,"mode":"set","value":"2"}])").find("\"value\" must be a number"), std::string::npos);
  EXPECT_NE(err(R"([{"layer":0,"index":1,"mode":"of"}])").find("unknown mode \"of\""), std::string::npos);
  EXPECT_NE(err(R"([{"layer":0,"index":1,"mode":"off","positions":[]}])").find("is empty"), std::string::npos);
  EXPECT_NE(err(R"([{"layer":0,"index":1,"mode":"off","neuron":3}])").find("unknown option \"neuron\""), std::string::npos);
  EXPECT_NE(err(R"({"layer":0})").find("expected an array"), std::string::npos);
}

TEST(Interventions, PositionsAreCheckedAgainstThePrompt) {
  auto s = test::session("l2-f16");
  const std::vector<int> ids = {1, 2, 3, 4};
  TraceOptions o;
  o.interventions = {parse_intervention("0:5:on@99")};
  try {
    s->trace(ids, o);
    ADD_FAILURE() << "a position past the prompt was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("position 99 out of range [0, 4) (the prompt has 4 tokens)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(s->run_with_cache(ids, {}, o.interventions), Error);
  // Generation reaches positions past the prompt: those are allowed there (up to the context).
  EXPECT_NO_THROW(s->generate(ids, {parse_intervention("0:5:off@10")}, Sampling{}));
  EXPECT_THROW(s->generate(ids, {parse_intervention("0:5:off@64")}, Sampling{}), Error);
}
