// The trace's JSON: the options as callers send them, and the schema documented in
// docs/trace-schema.md (camelCase keys; every token entry carries its id and text).
#include <algorithm>

#include "core/analysis/analysis_json.h"
#include "core/error.h"
#include "trace.h"

namespace lmdbg {

namespace {

using json = io::ojson;

// "last" | "all" | [i, ...] into (list, all).
void read_positions(const io::json& p, const char* key, bool allow_last, std::vector<int>& list, bool& all) {
  const std::string what = std::string("trace options: \"") + key + "\"";
  if (p == "all") {
    all = true;
  } else if (allow_last && p == "last") {
  } else if (p.is_array()) {
    for (const auto& x : p) list.push_back(io::json_int(x, what + " entry"));
  } else {
    invalid(what + " must be " + (allow_last ? "\"last\", " : "") + "\"all\" or an array of integers");
  }
}

json layer_json(const Model& m, const LayerTrace& l, const TraceOptions& o, bool with_sub_updates) {
  json lj = {{"layer", l.layer},
             {"before", token_list_json(m, l.before)},
             {"after", token_list_json(m, l.after)},
             {"predictedRank", {{"before", l.rank_before}, {"after", l.rank_after}}},
             {"predictedProb", {{"before", l.prob_before}, {"after", l.prob_after}}}};
  if (with_sub_updates && !o.track.empty()) {  // traced positions (not the light lens)
    json tr = json::array();
    for (const auto& k : l.tracked) {
      json tj = token_json(m, k.id);
      tj["rank"] = {{"before", k.rank_before}, {"after", k.rank_after}};
      tj["prob"] = {{"before", k.prob_before}, {"after", k.prob_after}};
      tr.push_back(std::move(tj));
    }
    lj["tracked"] = std::move(tr);
  }
  if (o.raw_lens) {
    lj["rawBefore"] = token_list_json(m, l.raw_before);
    lj["rawAfter"] = token_list_json(m, l.raw_after);
  }
  if (!with_sub_updates) return lj;
  lj["maxScore"] = l.max_score;
  json subs = json::array();
  for (const auto& s : l.sub_updates) {
    json sj = {{"name", value_vector_name(s.layer, s.index)},
               {"layer", s.layer},
               {"index", s.index},
               {"coef", s.coef},
               {"norm", s.norm},
               {"score", s.score},
               {"direct", s.direct}};
    if (o.value_top_k > 0) sj["topTokens"] = token_list_json(m, s.top);
    subs.push_back(std::move(sj));
  }
  lj["subUpdates"] = std::move(subs);
  if (o.heads > 0) {
    json heads = json::array();
    for (const auto& hu : l.heads) {
      json hj = {{"name", head_name(hu.layer, hu.head)},
                 {"layer", hu.layer},
                 {"head", hu.head},
                 {"norm", hu.norm},
                 {"direct", hu.direct}};
      if (o.value_top_k > 0) {
        hj["topTokens"] = token_list_json(m, hu.top);
        hj["bottomTokens"] = token_list_json(m, hu.bottom);
      }
      heads.push_back(std::move(hj));
    }
    lj["heads"] = std::move(heads);
  }
  return lj;
}

json layers_json(const Model& m, const std::vector<LayerTrace>& ls, const TraceOptions& o, bool with_sub_updates) {
  json a = json::array();
  for (const auto& l : ls) a.push_back(layer_json(m, l, o, with_sub_updates));
  return a;
}

json position_json(const Model& m, const Trace& t, const PositionTrace& p, bool with_sub_updates) {
  json pj;
  pj["position"] = p.position;
  pj["token"] = token_json(m, t.tokens[p.position]);
  pj["predicted"] = token_json(m, p.predicted);
  pj["prediction"] = token_list_json(m, p.prediction);
  if (p.clean_predicted >= 0) {
    pj["clean"] = {{"predicted", token_json(m, p.clean_predicted)},
                   {"prediction", token_list_json(m, p.clean_prediction)},
                   {"changed", p.clean_predicted != p.predicted}};
    if (!p.clean_layers.empty()) pj["clean"]["layers"] = layers_json(m, p.clean_layers, t.options, true);
  }
  pj["layers"] = layers_json(m, p.layers, t.options, with_sub_updates);
  return pj;
}

}  // namespace

TraceOptions trace_options_from_json(const io::json& j, const Model* m) {
  if (!j.is_object()) invalid("trace options: expected an object");
  io::json_known_keys(j,
                      {"topK", "positions", "subUpdates", "valueTopK", "rawLens", "attention", "lensPositions",
                       "lensTopK", "cleanLayers", "track", "heads", "attribute", "interventions", "patch"},
                      "trace options");
  TraceOptions o;
  auto get_int = [&](const char* key, int& out) {
    if (const io::json* v = io::json_field(j, key)) out = io::json_int(*v, std::string("trace options: \"") + key + "\"");
  };
  auto get_bool = [&](const char* key, bool& out) {
    if (const io::json* v = io::json_field(j, key)) out = io::json_bool(*v, std::string("trace options: \"") + key + "\"");
  };
  get_int("topK", o.top_k);
  get_int("subUpdates", o.sub_updates);
  get_int("valueTopK", o.value_top_k);
  get_int("lensTopK", o.lens_top_k);
  get_int("heads", o.heads);
  get_bool("rawLens", o.raw_lens);
  get_bool("attention", o.attention);
  get_bool("cleanLayers", o.clean_layers);
  if (const io::json* p = io::json_field(j, "positions")) read_positions(*p, "positions", true, o.positions, o.all_positions);
  if (const io::json* p = io::json_field(j, "lensPositions"))
    read_positions(*p, "lensPositions", false, o.lens_positions, o.lens_all_positions);
  if (const io::json* t = io::json_field(j, "track")) {
    if (!t->is_array()) invalid("trace options: \"track\" must be an array of token ids");
    for (const auto& x : *t) o.track.push_back(io::json_int(x, "trace options: \"track\" entry"));
  }
  if (const io::json* ivs = io::json_field(j, "interventions")) o.interventions = interventions_from_json(*ivs);
  if (const io::json* p = io::json_field(j, "patch")) o.patch = trace_patch_from_json(*p);
  if (const io::json* a = io::json_field(j, "attribute")) {
    if (!m) fail(ErrorCode::kState, "trace options: \"attribute\" read without a model");
    o.attribute = attribution_options_from_json(*a, *m);
  }
  return o;
}

io::ojson trace_to_json(const Model& m, const Trace& t, bool include_attention) {
  const Config& c = m.config();
  json j;
  j["schema"] = kTraceSchema;
  j["model"] = {{"nLayers", c.n_layers}, {"nHeads", c.n_heads}, {"dModel", c.d_model},
                {"dMlp", c.d_mlp},       {"dVocab", c.d_vocab}, {"nCtx", c.n_ctx}};
  json toks = json::array();
  for (int id : t.tokens) toks.push_back(token_json(m, id));
  j["tokens"] = toks;
  json req = json::array(), res = json::array();
  for (const auto& iv : t.requested) req.push_back(to_json(iv));
  for (const auto& iv : t.options.interventions) res.push_back(to_json(iv));
  j["options"] = {{"topK", t.options.top_k},
                  {"positions", t.options.positions},
                  {"subUpdates", t.options.sub_updates},
                  {"valueTopK", t.options.value_top_k},
                  {"rawLens", t.options.raw_lens},
                  {"attention", t.options.attention},
                  {"heads", t.options.heads}};
  if (!t.lens.empty()) {
    j["options"]["lensPositions"] = t.options.lens_positions;
    j["options"]["lensTopK"] = t.options.lens_top_k;
  }
  if (t.options.clean_layers) j["options"]["cleanLayers"] = true;
  if (!t.options.track.empty()) j["options"]["track"] = t.options.track;
  if (t.options.patch) j["options"]["patch"] = trace_patch_to_json(m, *t.options.patch, static_cast<int>(t.tokens.size()));
  j["interventions"] = req;
  j["resolvedInterventions"] = res;
  json positions = json::array();
  for (const auto& p : t.positions) positions.push_back(position_json(m, t, p, true));
  j["positions"] = std::move(positions);
  if (!t.lens.empty()) {
    json lens = json::array();
    for (const auto& p : t.lens) lens.push_back(position_json(m, t, p, false));
    j["lens"] = std::move(lens);
  }
  if (t.attribution) j["attribution"] = attribution_to_json(m, t.tokens, *t.attribution);
  if (include_attention && t.options.attention) {
    const int T = static_cast<int>(t.tokens.size()), H = c.n_heads;
    json att = json::array();
    for (int l = 0; l < c.n_layers; ++l) {
      json heads = json::array();
      for (int h = 0; h < H; ++h) {
        json rows = json::array();
        for (int q = 0; q < T; ++q) {
          const float* r = t.attention.data() + ((static_cast<size_t>(l) * H + h) * T + q) * T;
          rows.push_back(std::vector<float>(r, r + q + 1));  // causal: keys 0..q
        }
        heads.push_back(std::move(rows));
      }
      att.push_back({{"layer", l}, {"heads", std::move(heads)}});
    }
    j["attention"] = std::move(att);
  }
  return j;
}

}  // namespace lmdbg
