#include "intervention.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace lmdbg {

namespace {

int parse_int(std::string_view s, const std::string& what, std::string_view spec) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    invalid("intervention \"" + std::string(spec) + "\": " + what + " \"" + std::string(s) + "\" is not an integer");
  return v;
}

float parse_float(std::string_view s, std::string_view spec) {
  const std::string str(s);
  char* end = nullptr;
  const float v = std::strtof(str.c_str(), &end);
  if (str.empty() || end != str.c_str() + str.size() || !std::isfinite(v))
    invalid("intervention \"" + std::string(spec) + "\": value \"" + str + "\" is not a finite number");
  return v;
}

// "off, on, set=V, ... or add=V"; heads: the modes a head accepts.
std::string mode_list(bool heads = false) {
  std::vector<std::string> names;
  for (const auto& m : kModes)
    if (!heads || m.head_effect) names.push_back(std::string(m.name) + (m.takes_value ? "=V" : ""));
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return s;
}

// The spec's name of the target: "L3H5" or "L3D120" style, as the package prints it.
std::string target_name(const Intervention& iv) {
  return "L" + std::to_string(iv.layer) + (iv.on_head() ? "H" + std::to_string(iv.head) : "D" + std::to_string(iv.index));
}

}  // namespace

const ModeInfo& mode_info(InterventionMode m) {
  for (const auto& e : kModes)
    if (e.mode == m) return e;
  invalid("unknown intervention mode");
}

const char* mode_name(InterventionMode m) { return mode_info(m).name; }

const ModeInfo* find_mode(std::string_view name) {
  for (const auto& e : kModes)
    if (name == e.name) return &e;
  return nullptr;
}

io::ojson mode_table_json() {
  io::ojson out = io::ojson::array();
  for (const auto& m : kModes) {
    io::ojson row = {{"name", m.name},
                     {"takesValue", m.takes_value},
                     {"hook", hook_suffix(m.hook)},
                     {"effect", m.effect},
                     {"targets", m.head_effect ? io::ojson::array({"neuron", "head"}) : io::ojson::array({"neuron"})}};
    if (m.head_effect) {
      row["headHook"] = hook_suffix(kHeadHook);
      row["headEffect"] = m.head_effect;
    }
    out.push_back(std::move(row));
  }
  return out;
}

bool Intervention::at(int pos) const {
  return positions.empty() || std::find(positions.begin(), positions.end(), pos) != positions.end();
}

Intervention parse_intervention(std::string_view spec) {
  Intervention iv;
  std::string_view s = spec;
  const auto at = s.find('@');
  if (at != std::string_view::npos) {
    std::string_view ps = s.substr(at + 1);
    s = s.substr(0, at);
    while (!ps.empty()) {
      const auto comma = ps.find(',');
      iv.positions.push_back(parse_int(ps.substr(0, comma), "position", spec));
      if (comma == std::string_view::npos) break;
      ps = ps.substr(comma + 1);
    }
    if (iv.positions.empty()) invalid("intervention \"" + std::string(spec) + "\": empty position list after '@'");
  }
  const auto c1 = s.find(':');
  const auto c2 = c1 == std::string_view::npos ? c1 : s.find(':', c1 + 1);
  if (c2 == std::string_view::npos)
    invalid("intervention \"" + std::string(spec) +
            "\": expected LAYER:INDEX:MODE or LAYER:hHEAD:MODE, e.g. 3:120:off, 3:120:scale=2 or 3:h5:off");
  iv.layer = parse_int(s.substr(0, c1), "layer", spec);
  const std::string_view target = s.substr(c1 + 1, c2 - c1 - 1);
  if (!target.empty() && (target[0] == 'h' || target[0] == 'H'))
    iv.head = parse_int(target.substr(1), "head", spec);
  else
    iv.index = parse_int(target, "index", spec);
  const std::string_view m = s.substr(c2 + 1);
  const auto eq = m.find('=');
  const std::string_view name = m.substr(0, eq);
  const bool has_value = eq != std::string_view::npos;
  const ModeInfo* mode = find_mode(name);
  if (!mode)
    invalid("intervention \"" + std::string(spec) + "\": unknown mode \"" + std::string(name) + "\" (expected " +
            mode_list() + ")");
  if (mode->takes_value != has_value)
    invalid("intervention \"" + std::string(spec) + "\": mode " + mode->name +
            (mode->takes_value ? " needs a value, e.g. " + std::string(mode->name) + "=2" : " takes no value"));
  iv.mode = mode->mode;
  if (has_value) iv.value = parse_float(m.substr(eq + 1), spec);
  return iv;
}

std::string format_intervention(const Intervention& iv) {
  std::string s = std::to_string(iv.layer) + ":" + (iv.on_head() ? "h" + std::to_string(iv.head) : std::to_string(iv.index)) +
                  ":" + mode_name(iv.mode);
  if (mode_info(iv.mode).takes_value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "=%g", iv.value);
    s += buf;
  }
  for (size_t i = 0; i < iv.positions.size(); ++i) s += (i ? "," : "@") + std::to_string(iv.positions[i]);
  return s;
}

void validate_interventions(const Interventions& ivs, const Config& c, int n_positions) {
  const int limit = n_positions > 0 ? n_positions : c.n_ctx;
  for (const auto& iv : ivs) {
    const std::string name = "intervention " + format_intervention(iv);
    if (iv.layer < 0 || iv.layer >= c.n_layers)
      invalid(name + ": layer " + std::to_string(iv.layer) + " out of range [0, " + std::to_string(c.n_layers) + ")");
    if (iv.on_head()) {
      if (iv.head >= c.n_heads)
        invalid(name + ": head " + std::to_string(iv.head) + " out of range [0, " + std::to_string(c.n_heads) + ")");
      if (!mode_info(iv.mode).head_effect)
        invalid(name + ": mode " + mode_name(iv.mode) + " does not apply to a head " + target_name(iv) +
                " (a head accepts " + mode_list(true) + ")");
    } else if (iv.index < 0 || iv.index >= c.d_mlp) {
      invalid(name + ": index " + std::to_string(iv.index) + " out of range [0, " + std::to_string(c.d_mlp) + ")");
    }
    if (!std::isfinite(iv.value)) invalid(name + ": value is not finite");
    for (int p : iv.positions)
      if (p < 0 || p >= limit)
        invalid(name + ": position " + std::to_string(p) + " out of range [0, " + std::to_string(limit) + ")" +
                (n_positions > 0 ? " (the prompt has " + std::to_string(n_positions) + " tokens)" : ""));
  }
}

bool has_unresolved_on(const Interventions& ivs) {
  return std::any_of(ivs.begin(), ivs.end(), [](const Intervention& iv) { return iv.mode == InterventionMode::kOn; });
}

Interventions interventions_from_json(const io::json& j) {
  if (!j.is_array()) invalid("interventions: expected an array of {layer, index | head, mode, value?, positions?}");
  Interventions out;
  for (size_t k = 0; k < j.size(); ++k) {
    const auto& e = j[k];
    const std::string where = "interventions[" + std::to_string(k) + "]";
    if (!e.is_object()) invalid(where + ": not an object");
    io::json_known_keys(e, {"layer", "index", "head", "mode", "value", "positions"}, where);
    Intervention iv;
    if (!io::json_field(e, "layer")) invalid(where + ": \"layer\" must be an integer");
    iv.layer = io::json_int(e["layer"], where + ": \"layer\"");
    const io::json* index = io::json_field(e, "index");
    const io::json* head = io::json_field(e, "head");
    if (!index == !head)
      invalid(where + ": give either \"index\" (a neuron of the FFN) or \"head\" (an attention head), " +
              (index ? "not both" : "one of them must be an integer"));
    if (index) iv.index = io::json_int(*index, where + ": \"index\"");
    if (head) {
      iv.head = io::json_int(*head, where + ": \"head\"");
      if (iv.head < 0) invalid(where + ": \"head\" must be >= 0, got " + std::to_string(iv.head));
    }
    const io::json* mode_j = io::json_field(e, "mode");
    if (!mode_j || !mode_j->is_string()) invalid(where + ": \"mode\" must be a string");
    const ModeInfo* mode = find_mode(mode_j->get<std::string>());
    if (!mode) invalid(where + ": unknown mode " + mode_j->dump() + " (expected " + mode_list() + ")");
    iv.mode = mode->mode;
    const io::json* value = io::json_field(e, "value");
    if (mode->takes_value && !value) invalid(where + ": mode " + mode->name + " needs a \"value\"");
    if (mode->takes_value) iv.value = io::json_float(*value, where + ": \"value\"");
    if (const io::json* ps = io::json_field(e, "positions")) {
      if (!ps->is_array()) invalid(where + ": \"positions\" must be null or an array of integers");
      for (const auto& p : *ps) iv.positions.push_back(io::json_int(p, where + ": position"));
      if (iv.positions.empty()) invalid(where + ": \"positions\" is empty (use null for every position)");
    }
    out.push_back(std::move(iv));
  }
  return out;
}

io::ojson to_json(const Intervention& iv) {
  io::ojson j = {{"layer", iv.layer}};
  if (iv.on_head())
    j["head"] = iv.head;
  else
    j["index"] = iv.index;
  j["mode"] = mode_name(iv.mode);
  if (mode_info(iv.mode).takes_value) j["value"] = iv.value;
  j["positions"] = iv.positions.empty() ? io::ojson(nullptr) : io::ojson(iv.positions);
  return j;
}

float max_subupdate_score(const Model& model, int layer, const float* coef) {
  const auto& norms = model.weights().layers[layer].W_out_norms;
  float best = 0.f;
  for (size_t j = 0; j < norms.size(); ++j) best = std::max(best, std::fabs(coef[j]) * norms[j]);
  return best;
}

Interventions resolve_on(const Interventions& ivs, const State& clean) {
  if (!has_unresolved_on(ivs)) return ivs;
  const Model& model = clean.model();
  const int d_mlp = model.config().d_mlp;
  Interventions out = ivs;
  for (auto& iv : out) {
    if (iv.mode != InterventionMode::kOn) continue;
    const float* post = clean.hook(Hook::kMlpPost, iv.layer);
    if (!post) fail(ErrorCode::kState, "resolve_on: the clean run did not keep mlp.hook_post");
    const float s = max_subupdate_score(model, iv.layer, post + static_cast<size_t>(clean.last_T() - 1) * d_mlp);
    if (!std::isfinite(s))
      invalid("intervention " + format_intervention(iv) + ": layer " + std::to_string(iv.layer) +
              "'s largest sub-update score in the clean run is not finite (the activations overflow float)");
    iv.mode = InterventionMode::kPre;
    iv.value = s + 0.01f;
  }
  return out;
}

InterventionEditor::InterventionEditor(const Interventions& resolved, int n_heads) : ivs_(resolved), n_heads_(n_heads) {
  for (const auto& iv : ivs_) {
    const ModeInfo& m = mode_info(iv.mode);
    if (!m.apply) fail(ErrorCode::kState, "intervention " + format_intervention(iv) + " was not resolved against a clean run");
    if (iv.on_head() && (!m.head_effect || iv.head >= n_heads))
      fail(ErrorCode::kState, "intervention " + format_intervention(iv) + " was not validated against the model");
    edits_.add(iv.on_head() ? kHeadHook : m.hook);
  }
}

void InterventionEditor::edit(Hook h, int layer, int p0, int T, int width, float* x) const {
  for (const auto& iv : ivs_) {
    const ModeInfo& m = mode_info(iv.mode);
    if (iv.layer != layer || (iv.on_head() ? kHeadHook : m.hook) != h) continue;
    // A neuron is one entry of a row; a head is its d_head entries of z.
    const int dh = iv.on_head() ? width / n_heads_ : 1;
    const int first = iv.on_head() ? iv.head * dh : iv.index;
    for (int t = 0; t < T; ++t) {
      if (!iv.at(p0 + t)) continue;
      float* v = x + static_cast<size_t>(t) * width + first;
      for (int j = 0; j < dh; ++j) v[j] = m.apply(v[j], iv.value);
    }
  }
}

}  // namespace lmdbg
