// trace_to_json: the schema documented in docs/trace-schema.md. camelCase keys; every token entry
// carries its id and text.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/analysis/value_vectors.h"
#include "core/error.h"
#include "core/io/json_depth.h"
#include "trace.h"

namespace lmdbg {

namespace {

using json = nlohmann::ordered_json;

json token(const Model& m, int id) { return {{"id", id}, {"text", m.tokenizer().token_bytes(id)}}; }

json token_list(const Model& m, const std::vector<TokenScore>& ts) {
  json a = json::array();
  for (const auto& t : ts) {
    json e = token(m, t.id);
    e["logit"] = t.logit;
    if (!std::isnan(t.prob)) e["prob"] = t.prob;
    a.push_back(std::move(e));
  }
  return a;
}

json intervention_json(const Intervention& iv) {
  json j = {{"layer", iv.layer}, {"index", iv.index}, {"mode", mode_name(iv.mode)}};
  if (iv.mode != InterventionMode::kOff && iv.mode != InterventionMode::kOn) j["value"] = iv.value;
  j["positions"] = iv.positions.empty() ? json(nullptr) : json(iv.positions);
  return j;
}

}  // namespace

TraceOptions trace_options_from_json(std::string_view text) {
  io::check_json_depth(text, "trace options", ErrorCode::kInvalidArgument);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.empty() ? std::string_view("{}") : text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e400
    invalid(std::string("trace options: not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) invalid("trace options: expected an object");
  TraceOptions o;
  // An integer that fits in int (get<int>() would silently wrap 4294967297 to 1).
  auto as_int = [](const nlohmann::json& v, int& out) {
    if (!v.is_number_integer()) return false;
    if (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t(INT_MAX)
                               : v.get<int64_t>() < INT_MIN || v.get<int64_t>() > INT_MAX)
      return false;
    out = v.get<int>();
    return true;
  };
  auto get_int = [&](const char* key, int& out) {
    if (!j.contains(key) || j[key].is_null()) return;
    if (!as_int(j[key], out)) invalid(std::string("trace options: \"") + key + "\" must be an integer in int range");
  };
  auto get_bool = [&](const char* key, bool& out) {
    if (!j.contains(key) || j[key].is_null()) return;
    if (!j[key].is_boolean()) invalid(std::string("trace options: \"") + key + "\" must be true or false");
    out = j[key].get<bool>();
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const char* known[] = {"topK", "positions", "subUpdates", "valueTopK", "rawLens", "attention", "interventions"};
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return it.key() == k; }) == std::end(known))
      invalid("trace options: unknown option \"" + it.key() + "\"");
  }
  get_int("topK", o.top_k);
  get_int("subUpdates", o.sub_updates);
  get_int("valueTopK", o.value_top_k);
  get_bool("rawLens", o.raw_lens);
  get_bool("attention", o.attention);
  if (j.contains("positions") && !j["positions"].is_null()) {
    const auto& p = j["positions"];
    if (p == "all") {
      o.all_positions = true;
    } else if (p == "last") {
    } else if (p.is_array()) {
      for (const auto& x : p) {
        int pos;
        if (!as_int(x, pos)) invalid("trace options: \"positions\" must be \"last\", \"all\" or integers");
        o.positions.push_back(pos);
      }
    } else {
      invalid("trace options: \"positions\" must be \"last\", \"all\" or an array of integers");
    }
  }
  if (j.contains("interventions") && !j["interventions"].is_null()) o.interventions = interventions_from_json(j["interventions"].dump());
  return o;
}

std::string trace_to_json(const Model& m, const Trace& t, bool include_attention, int indent) {
  const Config& c = m.config();
  json j;
  j["schema"] = kTraceSchema;
  j["model"] = {{"nLayers", c.n_layers}, {"nHeads", c.n_heads}, {"dModel", c.d_model},
                {"dMlp", c.d_mlp},       {"dVocab", c.d_vocab}, {"nCtx", c.n_ctx}};
  json toks = json::array();
  for (int id : t.tokens) toks.push_back(token(m, id));
  j["tokens"] = toks;
  json req = json::array(), res = json::array();
  for (const auto& iv : t.requested) req.push_back(intervention_json(iv));
  for (const auto& iv : t.options.interventions) res.push_back(intervention_json(iv));
  j["options"] = {{"topK", t.options.top_k},
                  {"positions", t.options.positions},
                  {"subUpdates", t.options.sub_updates},
                  {"valueTopK", t.options.value_top_k},
                  {"rawLens", t.options.raw_lens},
                  {"attention", t.options.attention}};
  j["interventions"] = req;
  j["resolvedInterventions"] = res;

  json positions = json::array();
  for (const auto& p : t.positions) {
    json pj;
    pj["position"] = p.position;
    pj["token"] = token(m, t.tokens[p.position]);
    pj["predicted"] = token(m, p.predicted);
    pj["prediction"] = token_list(m, p.prediction);
    if (p.clean_predicted >= 0) {
      pj["clean"] = {{"predicted", token(m, p.clean_predicted)},
                     {"prediction", token_list(m, p.clean_prediction)},
                     {"changed", p.clean_predicted != p.predicted}};
    }
    json layers = json::array();
    for (const auto& l : p.layers) {
      json lj = {{"layer", l.layer},
                 {"before", token_list(m, l.before)},
                 {"after", token_list(m, l.after)},
                 {"predictedRank", {{"before", l.rank_before}, {"after", l.rank_after}}},
                 {"predictedProb", {{"before", l.prob_before}, {"after", l.prob_after}}},
                 {"maxScore", l.max_score}};
      if (t.options.raw_lens) {
        lj["rawBefore"] = token_list(m, l.raw_before);
        lj["rawAfter"] = token_list(m, l.raw_after);
      }
      json subs = json::array();
      for (const auto& s : l.sub_updates) {
        json sj = {{"name", value_vector_name(s.layer, s.index)},
                   {"layer", s.layer},
                   {"index", s.index},
                   {"coef", s.coef},
                   {"norm", s.norm},
                   {"score", s.score},
                   {"direct", s.direct}};
        if (t.options.value_top_k > 0) sj["topTokens"] = token_list(m, s.top);
        subs.push_back(std::move(sj));
      }
      lj["subUpdates"] = std::move(subs);
      layers.push_back(std::move(lj));
    }
    pj["layers"] = std::move(layers);
    positions.push_back(std::move(pj));
  }
  j["positions"] = std::move(positions);
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
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace lmdbg
