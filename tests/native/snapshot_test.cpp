// Snapshots (core/session/snapshot.h, docs/snapshot-schema.md): the file holds exactly what the
// session computes for the same calls (trace, value vectors, generation), the caller's view state
// checked against the model, the model's identity, and costs the passes of those calls.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "core/session/snapshot.h"
#include "core/version.h"
#include "test_util.h"

using namespace lmdbg;
using nlohmann::json;

namespace {

SnapshotOptions options(const std::string& text) { return snapshot_options_from_json(io::parse_json(text, "snapshot options")); }

json snapshot_json(Session& s, const SnapshotOptions& o) {
  return json::parse(snapshot_to_json(s.model(), o, s.snapshot(o)).dump(-1, ' ', false, io::ojson::error_handler_t::replace));
}

std::vector<float> base64_floats(const std::string& b64) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : 63;
  };
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i + 3 < b64.size(); i += 4) {
    const uint32_t v = val(b64[i]) << 18 | val(b64[i + 1]) << 12 | (b64[i + 2] == '=' ? 0 : val(b64[i + 2]) << 6) | (b64[i + 3] == '=' ? 0 : val(b64[i + 3]));
    bytes.push_back(v >> 16);
    if (b64[i + 2] != '=') bytes.push_back((v >> 8) & 255);
    if (b64[i + 3] != '=') bytes.push_back(v & 255);
  }
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

const char* kFull = R"({
  "prompt": "The old man and the sea",
  "interventions": [{"layer": 3, "index": 7, "mode": "off"}, {"layer": 1, "index": 2, "mode": "scale", "value": 2, "active": false},
                    {"layer": 2, "index": 5, "mode": "on", "positions": [1], "active": true}],
  "valueVectors": [[3, 7]], "valueTopK": 5,
  "generate": {"maxNewTokens": 4, "sampling": {"temperature": 0.8, "topK": 20, "seed": 7}},
  "model": {"name": "fixture", "source": "hub:lmdbg-test/l4-f32"},
  "names": {"L3D7": "a name"},
  "view": {"open": "lens", "layer": 2, "detail": {"layer": 3, "index": 7}}
})";

}  // namespace

TEST(Snapshot, HoldsWhatTheSessionComputesForTheSameCalls) {
  auto s = test::session("l4-f32");
  const SnapshotOptions o = options(kFull);
  const json j = snapshot_json(*s, o);
  EXPECT_EQ(j["schema"], kSnapshotSchema);
  EXPECT_EQ(j["lmdbg"], version());
  EXPECT_EQ(j["model"]["name"], "fixture");
  EXPECT_EQ(j["model"]["source"], "hub:lmdbg-test/l4-f32");
  EXPECT_EQ(j["model"]["fingerprint"], s->model().fingerprint());
  EXPECT_EQ(j["model"]["checkpointBytes"], s->model().checkpoint_bytes());
  EXPECT_EQ(j["model"]["dtype"], "f32");
  EXPECT_EQ(j["model"]["config"]["nLayers"], 4);
  EXPECT_EQ(j["prompt"], "The old man and the sea");
  const auto ids = s->model().tokenizer().encode("The old man and the sea");
  ASSERT_EQ(j["tokens"].size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(j["tokens"][i]["id"], ids[i]);
  // Every intervention, in order, with its state; only the active ones in the trace.
  ASSERT_EQ(j["interventions"].size(), 3u);
  EXPECT_EQ(j["interventions"][1]["active"], false);
  EXPECT_EQ(j["interventions"][1]["value"], 2.0);
  EXPECT_EQ(j["interventions"][2]["positions"], json::array({1}));
  EXPECT_EQ(j["trace"]["interventions"].size(), 2u);
  EXPECT_EQ(j["names"]["L3D7"], "a name");
  EXPECT_EQ(j["view"], json::parse(R"({"open": "lens", "layer": 2, "detail": {"layer": 3, "index": 7}})"));

  // The trace is the session's trace of the figure options and the active interventions.
  TraceOptions to = figure_trace_options(s->model().config(), static_cast<int>(ids.size()), true);
  to.interventions = {parse_intervention("3:7:off"), parse_intervention("2:5:on@1")};
  const Trace t = s->trace(ids, to);
  json want = json::parse(test::trace_text(*s, t));
  json got = j["trace"];
  ASSERT_TRUE(got.contains("attention"));
  const json att = got["attention"];
  got.erase("attention");
  EXPECT_EQ(got, want);
  EXPECT_EQ(att["dims"], json::array({4, 4, static_cast<int>(ids.size()), static_cast<int>(ids.size())}));
  EXPECT_EQ(base64_floats(att["base64"].get<std::string>()), t.attention);  // bit for bit
  EXPECT_EQ(got["options"]["cleanLayers"], true);
  EXPECT_EQ(got["lens"].size(), ids.size());  // a short prompt: the lens at every position

  ASSERT_EQ(j["valueVectors"].size(), 1u);
  EXPECT_EQ(j["valueVectors"][0]["name"], "L3D7");
  EXPECT_EQ(j["valueVectors"][0]["top"].size(), 5u);

  // The generation: the same tokens as generate() with the same seed and the active interventions.
  Sampling smp;
  smp.greedy = false;
  smp.temperature = 0.8f;
  smp.top_k = 20;
  smp.seed = 7;
  auto g = s->generate(ids, to.interventions, smp);
  ASSERT_EQ(j["generation"]["tokens"].size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(j["generation"]["tokens"][i]["id"], g->next()) << i;
  EXPECT_NEAR(j["generation"]["sampling"]["temperature"].get<double>(), 0.8, 1e-6);
  EXPECT_EQ(j["generation"]["sampling"]["topK"], 20);
  EXPECT_EQ(j["generation"]["sampling"]["seed"], 7);
}

TEST(Snapshot, CostsThePassesOfItsCalls) {
  auto s = test::session("l2-f16");
  auto passes = [&](const std::string& text) {
    const uint64_t before = s->forward_passes();
    s->snapshot(options(text));
    return s->forward_passes() - before;
  };
  EXPECT_EQ(passes(R"({"prompt": "The old man"})"), 1u);
  EXPECT_EQ(passes(R"({"prompt": "The old man", "interventions": [{"layer": 1, "index": 2, "mode": "off", "active": false}]})"), 1u);
  EXPECT_EQ(passes(R"({"prompt": "The old man", "interventions": [{"layer": 1, "index": 2, "mode": "off"}]})"), 2u);
  EXPECT_EQ(passes(R"({"prompt": "The old man", "interventions": [{"layer": 1, "index": 2, "mode": "on"}], "generate": {"maxNewTokens": 3}})"), 4u);
}

TEST(Snapshot, FigureOptionsBoundTheLensAndAttention) {
  Config c;
  c.n_layers = 12;
  c.n_heads = 12;
  c.d_model = 768;
  c.d_vocab = 50257;
  c.n_ctx = 1024;
  const TraceOptions shortp = figure_trace_options(c, 6, false);
  EXPECT_EQ(shortp.lens_positions, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(shortp.attention);
  EXPECT_FALSE(shortp.clean_layers);
  const TraceOptions longp = figure_trace_options(c, 200, true);
  EXPECT_EQ(longp.lens_positions.size(), 21u);  // 2e10 multiply-adds of GPT-2 small's lens
  EXPECT_EQ(longp.lens_positions.back(), 199);
  EXPECT_FALSE(longp.attention);  // 12·12·200² floats
  EXPECT_TRUE(longp.clean_layers);
}

TEST(Snapshot, BadOptionsAreErrorsThatNameTheField) {
  auto s = test::session("l4-f32");
  auto error = [&](const std::string& text) -> std::string {
    try {
      s->snapshot(options(text));
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(error(R"({"view": {"open": "lens"}})").find("\"prompt\" is required"), std::string::npos);
  EXPECT_NE(error(R"({"prompt": "a", "view": {"open": "lenz"}})").find("unknown view \"lenz\" (the views: prediction, layers, lens"), std::string::npos);
  EXPECT_NE(error(R"({"prompt": "a", "view": {"layer": 4}})").find("view\".layer"), std::string::npos);
  EXPECT_NE(error(R"({"prompt": "a", "view": {"detail": {"layer": 1, "index": 9999}}})").find("detail.index"), std::string::npos);
  EXPECT_NE(error(R"({"prompt": "a", "names": {"L9D1": "x"}})").find("L9D1 is outside this model"), std::string::npos);
  EXPECT_NE(error(R"({"prompt": "a", "names": {"neuron 5": "x"}})").find("not a value-vector name"), std::string::npos);
  EXPECT_NE(error(R"({"prompt": "a", "trace": {"interventions": []}})").find("takes no interventions"), std::string::npos);
  EXPECT_NE(error(R"({"prompt": "a", "colour": 1})").find("unknown option \"colour\""), std::string::npos);
  // An inactive intervention must fit too: the reader may switch it on.
  EXPECT_NE(error(R"({"prompt": "The old man", "interventions": [{"layer": 1, "index": 2, "mode": "off", "positions": [9], "active": false}]})").find("position 9"),
            std::string::npos);
  EXPECT_NE(error(R"({"prompt": "a", "interventions": [{"layer": 1, "index": 2, "mode": "off", "active": 1}]})").find("interventions[0]: \"active\""),
            std::string::npos);
  s->snapshot(options(R"({"prompt": "The old man"})"));  // usable after every error
}
