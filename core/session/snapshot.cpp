#include "snapshot.h"

#include <algorithm>
#include <cstring>
#include <bit>

#include "core/analysis/analysis_json.h"
#include "core/error.h"
#include "core/io/base64.h"
#include "core/version.h"

namespace lmdbg {

namespace {

using ojson = io::ojson;

constexpr size_t kMaxName = 80;          // a value vector's name, as the page keeps it
constexpr size_t kMaxNames = 20000;
constexpr size_t kMaxModelText = 2000;   // model name or source
constexpr uint64_t kAttentionFloats = 1u << 18;
constexpr double kLensBudget = 2e10;     // multiply-adds of the lens over positions (the page's budget)

std::string field(const char* key) { return std::string("snapshot options: \"") + key + "\""; }

// "L12D34" -> (12, 34), or false.
bool parse_name(const std::string& s, int& layer, int& index) {
  auto digits = [&](size_t& i, int& out) {
    const size_t start = i;
    long v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 9) v = v * 10 + (s[i++] - '0');
    out = static_cast<int>(v);
    return i > start;
  };
  size_t i = 1;
  return s.size() >= 4 && s[0] == 'L' && digits(i, layer) && i < s.size() && s[i++] == 'D' && digits(i, index) && i == s.size();
}

ojson sampling_json(const Sampling& s) {
  if (s.greedy) return "greedy";
  return {{"temperature", s.temperature}, {"topK", s.top_k}, {"seed", s.seed}};
}

SnapshotGeneration generation_from_json(const io::json& j) {
  if (!j.is_object()) invalid(field("generate") + " must be an object");
  io::json_known_keys(j, {"maxNewTokens", "sampling", "stopAtEndOfText"}, field("generate"));
  SnapshotGeneration g;
  if (const auto* v = io::json_field(j, "maxNewTokens")) g.max_new_tokens = io::json_int(*v, field("generate") + ".maxNewTokens", 0, 4096);
  if (const auto* v = io::json_field(j, "stopAtEndOfText")) g.stop_at_end_of_text = io::json_bool(*v, field("generate") + ".stopAtEndOfText");
  if (const auto* v = io::json_field(j, "sampling")) {
    if (*v == "greedy") {
      g.sampling.greedy = true;
    } else {  // as the package's GenerateOptions: an object means sampling
      g.sampling = sampling_from_json(*v);
      if (v->is_object() && !v->contains("greedy")) g.sampling.greedy = false;
    }
  }
  return g;
}

}  // namespace

const ViewInfo* find_view(std::string_view name) {
  for (const auto& v : kViews)
    if (name == v.name) return &v;
  return nullptr;
}

io::ojson view_table_json() {
  ojson a = ojson::array();
  for (const auto& v : kViews) a.push_back({{"name", v.name}, {"shows", v.shows}});
  return a;
}

TraceOptions figure_trace_options(const Config& c, int T, bool intervened) {
  TraceOptions o;
  o.top_k = 10;
  o.sub_updates = 10;
  o.value_top_k = 8;
  o.clean_layers = intervened;
  const double per_position = 2.0 * c.n_layers * c.d_vocab * c.d_model;
  const int lens = std::clamp(static_cast<int>(kLensBudget / per_position), std::min(T, 8), T);
  for (int p = T - lens; p < T; ++p) o.lens_positions.push_back(p);
  o.attention = static_cast<uint64_t>(c.n_layers) * c.n_heads * T * T <= kAttentionFloats;
  return o;
}

SnapshotOptions snapshot_options_from_json(const io::json& j) {
  if (!j.is_object()) invalid("snapshot options: expected an object");
  io::json_known_keys(j,
                      {"prompt", "allowSpecial", "interventions", "trace", "valueVectors", "valueTopK", "generate", "model",
                       "names", "view"},
                      "snapshot options");
  SnapshotOptions o;
  const io::json* prompt = io::json_field(j, "prompt");
  if (!prompt) invalid("snapshot options: \"prompt\" is required (the prompt's text)");
  o.prompt = io::json_string(*prompt, field("prompt"));
  if (const auto* v = io::json_field(j, "allowSpecial")) o.allow_special = io::json_bool(*v, field("allowSpecial"));
  if (const auto* v = io::json_field(j, "interventions")) {
    if (!v->is_array()) invalid(field("interventions") + " must be an array of {layer, index, mode, value?, positions?, active?}");
    io::json plain = *v;  // the intervention reader knows no "active": take it off first
    std::vector<bool> active(plain.size(), true);
    for (size_t k = 0; k < plain.size(); ++k)
      if (plain[k].is_object() && plain[k].contains("active")) {
        if (!plain[k]["active"].is_null()) active[k] = io::json_bool(plain[k]["active"], "interventions[" + std::to_string(k) + "]: \"active\"");
        plain[k].erase("active");
      }
    const Interventions ivs = interventions_from_json(plain);
    for (size_t k = 0; k < ivs.size(); ++k) o.interventions.push_back({ivs[k], active[k]});
  }
  if (const auto* v = io::json_field(j, "trace")) {
    if (v->is_object() && v->contains("interventions"))
      invalid("snapshot options: \"trace\" takes no interventions: give them (with \"active\") at the top level");
    o.trace = trace_options_from_json(*v);
  }
  if (const auto* v = io::json_field(j, "valueVectors")) o.value_vectors = value_vector_refs_from_json(*v);
  if (const auto* v = io::json_field(j, "valueTopK")) o.value_top_k = io::json_int(*v, field("valueTopK"), 0, 1000);
  if (const auto* v = io::json_field(j, "generate")) o.generation = generation_from_json(*v);
  if (const auto* v = io::json_field(j, "model")) {
    if (!v->is_object()) invalid(field("model") + " must be an object {name?, source?}");
    io::json_known_keys(*v, {"name", "source"}, field("model"));
    for (const char* k : {"name", "source"})
      if (const auto* s = io::json_field(*v, k)) {
        if (io::json_string(*s, field("model") + "." + k).size() > kMaxModelText)
          invalid(field("model") + "." + k + " is longer than " + std::to_string(kMaxModelText) + " characters");
        o.model[k] = *s;
      }
  }
  if (const auto* v = io::json_field(j, "names")) {
    if (!v->is_object()) invalid(field("names") + " must be an object like {\"L3D120\": \"French cities\"}");
    o.names = *v;
  }
  if (const auto* v = io::json_field(j, "view")) {
    if (!v->is_object()) invalid(field("view") + " must be an object {open, layer?, detail?}");
    io::json_known_keys(*v, {"open", "layer", "detail"}, field("view"));
    o.view = *v;
  }
  return o;
}

void validate_snapshot_options(const Model& m, const SnapshotOptions& o) {
  const Config& c = m.config();
  if (o.names.size() > kMaxNames) invalid(field("names") + ": more than " + std::to_string(kMaxNames) + " names");
  for (auto it = o.names.begin(); it != o.names.end(); ++it) {
    int layer = 0, index = 0;
    if (!parse_name(it.key(), layer, index))
      invalid(field("names") + ": \"" + it.key().substr(0, 24) + "\" is not a value-vector name like L3D120");
    if (layer >= c.n_layers || index >= c.d_mlp)
      invalid(field("names") + ": " + it.key() + " is outside this model (" + std::to_string(c.n_layers) + " layers of " +
              std::to_string(c.d_mlp) + " value vectors)");
    const std::string& label = io::json_string(it.value(), field("names") + ": " + it.key());
    if (label.size() > kMaxName) invalid(field("names") + ": " + it.key() + " is longer than " + std::to_string(kMaxName) + " bytes");
  }
  if (const auto* v = io::json_field(o.view, "open")) {
    const std::string& name = io::json_string(*v, field("view") + ".open");
    if (!find_view(name)) {
      std::string known;
      for (const auto& x : kViews) known += std::string(known.empty() ? "" : ", ") + x.name;
      invalid(field("view") + ".open: unknown view \"" + name.substr(0, 40) + "\" (the views: " + known + ")");
    }
  }
  if (const auto* v = io::json_field(o.view, "layer")) io::json_int(*v, field("view") + ".layer", 0, c.n_layers - 1);
  if (const auto* v = io::json_field(o.view, "detail")) {
    if (!v->is_object()) invalid(field("view") + ".detail must be {layer, index} or null");
    io::json_known_keys(*v, {"layer", "index"}, field("view") + ".detail");
    const auto* l = io::json_field(*v, "layer");
    const auto* i = io::json_field(*v, "index");
    if (!l || !i) invalid(field("view") + ".detail needs \"layer\" and \"index\"");
    io::json_int(*l, field("view") + ".detail.layer", 0, c.n_layers - 1);
    io::json_int(*i, field("view") + ".detail.index", 0, c.d_mlp - 1);
  }
}

io::ojson snapshot_to_json(const Model& m, const SnapshotOptions& o, const Snapshot& s) {
  const Config& c = m.config();
  ojson j;
  j["schema"] = kSnapshotSchema;
  j["lmdbg"] = version();
  ojson model;
  model["name"] = o.model.contains("name") ? ojson(o.model["name"].get<std::string>()) : ojson(nullptr);
  model["source"] = o.model.contains("source") ? ojson(o.model["source"].get<std::string>()) : ojson(nullptr);
  model["config"] = ojson::parse(config_to_json(c));
  model["fingerprint"] = m.fingerprint();
  model["checkpointBytes"] = m.checkpoint_bytes();
  model["dtype"] = m.dtype();
  j["model"] = std::move(model);
  j["prompt"] = o.prompt;
  ojson toks = ojson::array();
  for (int id : s.tokens) toks.push_back(token_json(m, id));
  j["tokens"] = std::move(toks);
  ojson ivs = ojson::array();
  for (const auto& si : o.interventions) {
    ojson iv = to_json(si.iv);
    iv["active"] = si.active;
    ivs.push_back(std::move(iv));
  }
  j["interventions"] = std::move(ivs);
  j["names"] = ojson::parse(o.names.dump());
  ojson view = ojson::object();
  view["open"] = o.view.contains("open") ? o.view["open"].get<std::string>() : std::string("prediction");
  view["layer"] = io::json_field(o.view, "layer") ? ojson(o.view["layer"].get<int>()) : ojson(nullptr);
  view["detail"] = io::json_field(o.view, "detail")
                       ? ojson({{"layer", o.view["detail"]["layer"].get<int>()}, {"index", o.view["detail"]["index"].get<int>()}})
                       : ojson(nullptr);
  j["view"] = std::move(view);
  ojson trace = trace_to_json(m, s.trace);
  if (s.trace.options.attention) {
    const int T = static_cast<int>(s.trace.tokens.size());
    // float32 little-endian, base64.
    static_assert(std::endian::native == std::endian::little, "the attention bytes are written as they are in memory");
    const auto* bytes = reinterpret_cast<const uint8_t*>(s.trace.attention.data());
    trace["attention"] = {{"dims", {c.n_layers, c.n_heads, T, T}},
                          {"dtype", "f32"},
                          {"base64", io::base64_encode(bytes, s.trace.attention.size() * sizeof(float))}};
  }
  j["trace"] = std::move(trace);
  ojson vvs = ojson::array();
  for (const auto& v : s.value_vectors) vvs.push_back(value_vector_to_json(m, v));
  j["valueVectors"] = std::move(vvs);
  if (o.generation) {
    const auto& g = *o.generation;
    ojson gen = {{"maxNewTokens", g.max_new_tokens}, {"sampling", sampling_json(g.sampling)}, {"stopAtEndOfText", g.stop_at_end_of_text}};
    ojson gt = ojson::array();
    for (int id : s.generated) gt.push_back(token_json(m, id));
    gen["tokens"] = std::move(gt);
    gen["text"] = m.tokenizer().decode(s.generated);
    j["generation"] = std::move(gen);
  } else {
    j["generation"] = nullptr;
  }
  return j;
}

}  // namespace lmdbg
