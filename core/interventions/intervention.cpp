#include "intervention.h"

#include <charconv>
#include <climits>
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/json_depth.h"

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

}  // namespace

const char* mode_name(InterventionMode m) {
  switch (m) {
    case InterventionMode::kOff: return "off";
    case InterventionMode::kOn: return "on";
    case InterventionMode::kSet: return "set";
    case InterventionMode::kPre: return "pre";
    case InterventionMode::kScale: return "scale";
    case InterventionMode::kAdd: return "add";
  }
  return "?";
}

bool Intervention::at(int pos) const {
  if (positions.empty()) return true;
  for (int p : positions)
    if (p == pos) return true;
  return false;
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
    invalid("intervention \"" + std::string(spec) + "\": expected LAYER:INDEX:MODE, e.g. 3:120:off or 3:120:scale=2");
  iv.layer = parse_int(s.substr(0, c1), "layer", spec);
  iv.index = parse_int(s.substr(c1 + 1, c2 - c1 - 1), "index", spec);
  const std::string_view m = s.substr(c2 + 1);
  const auto eq = m.find('=');
  const std::string_view name = m.substr(0, eq);
  const bool has_value = eq != std::string_view::npos;
  struct {
    const char* n;
    InterventionMode mode;
    bool needs_value;
  } modes[] = {{"off", InterventionMode::kOff, false}, {"on", InterventionMode::kOn, false},
               {"set", InterventionMode::kSet, true},  {"pre", InterventionMode::kPre, true},
               {"scale", InterventionMode::kScale, true}, {"add", InterventionMode::kAdd, true}};
  for (const auto& md : modes) {
    if (name != md.n) continue;
    if (md.needs_value != has_value)
      invalid("intervention \"" + std::string(spec) + "\": mode " + md.n +
              (md.needs_value ? " needs a value, e.g. " + std::string(md.n) + "=2" : " takes no value"));
    iv.mode = md.mode;
    if (has_value) iv.value = parse_float(m.substr(eq + 1), spec);
    return iv;
  }
  invalid("intervention \"" + std::string(spec) + "\": unknown mode \"" + std::string(name) +
          "\" (expected off, on, set=V, pre=V, scale=F or add=V)");
}

std::string format_intervention(const Intervention& iv) {
  std::string s = std::to_string(iv.layer) + ":" + std::to_string(iv.index) + ":" + mode_name(iv.mode);
  if (iv.mode != InterventionMode::kOff && iv.mode != InterventionMode::kOn) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "=%g", iv.value);
    s += buf;
  }
  for (size_t i = 0; i < iv.positions.size(); ++i) s += (i ? "," : "@") + std::to_string(iv.positions[i]);
  return s;
}

void validate_interventions(const Interventions& ivs, int n_layers, int d_mlp, int n_ctx) {
  for (const auto& iv : ivs) {
    const std::string name = "intervention " + format_intervention(iv);
    if (iv.layer < 0 || iv.layer >= n_layers)
      invalid(name + ": layer " + std::to_string(iv.layer) + " out of range [0, " + std::to_string(n_layers) + ")");
    if (iv.index < 0 || iv.index >= d_mlp)
      invalid(name + ": index " + std::to_string(iv.index) + " out of range [0, " + std::to_string(d_mlp) + ")");
    if (!std::isfinite(iv.value)) invalid(name + ": value is not finite");
    for (int p : iv.positions)
      if (p < 0 || p >= n_ctx)
        invalid(name + ": position " + std::to_string(p) + " out of range [0, " + std::to_string(n_ctx) + ")");
  }
}

Interventions interventions_from_json(std::string_view text) {
  io::check_json_depth(text, "interventions", ErrorCode::kInvalidArgument);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e400
    invalid(std::string("interventions: not valid JSON (") + e.what() + ")");
  }
  if (!j.is_array()) invalid("interventions: expected an array of {layer, index, mode, value?, positions?}");
  Interventions out;
  for (size_t k = 0; k < j.size(); ++k) {
    const auto& e = j[k];
    const std::string where = "interventions[" + std::to_string(k) + "]";
    if (!e.is_object()) invalid(where + ": not an object");
    for (const char* key : {"layer", "index"})
      if (!e.contains(key) || !e[key].is_number_integer()) invalid(where + ": \"" + key + "\" must be an integer");
    if (!e.contains("mode") || !e["mode"].is_string()) invalid(where + ": \"mode\" must be a string");
    const std::string mode = e["mode"];
    // The mode goes into a spec string below: keep "@", ":" and "=" out so the error names the mode.
    if (mode.find_first_of("@:=") != std::string::npos) invalid(where + ": unknown mode \"" + mode + "\"");
    const bool has_value = e.contains("value") && !e["value"].is_null();
    if (has_value && !e["value"].is_number()) invalid(where + ": \"value\" must be a number");
    std::string spec = e["layer"].dump() + ":" + e["index"].dump() + ":" + mode;
    Intervention iv = parse_intervention(spec + (mode == "off" || mode == "on" ? "" : "=0"));
    if (mode != "off" && mode != "on") {
      if (!has_value) invalid(where + ": mode " + mode + " needs a \"value\"");
      iv.value = e["value"].get<float>();
    }
    if (e.contains("positions") && !e["positions"].is_null()) {
      if (!e["positions"].is_array()) invalid(where + ": \"positions\" must be null or an array of integers");
      for (const auto& p : e["positions"]) {
        if (!p.is_number_integer()) invalid(where + ": \"positions\" must be null or an array of integers");
        // get<int>() would wrap 4294967296 to position 0.
        const bool fits = p.is_number_unsigned() ? p.get<uint64_t>() <= uint64_t(INT_MAX)
                                                 : p.get<int64_t>() >= INT_MIN && p.get<int64_t>() <= INT_MAX;
        if (!fits) invalid(where + ": position " + p.dump() + " out of range");
        iv.positions.push_back(p.get<int>());
      }
      if (iv.positions.empty()) invalid(where + ": \"positions\" is empty (use null for every position)");
    }
    out.push_back(std::move(iv));
  }
  return out;
}

bool has_unresolved_on(const Interventions& ivs) {
  for (const auto& iv : ivs)
    if (iv.mode == InterventionMode::kOn) return true;
  return false;
}

void apply_pre_interventions(float* u, int T, int d_mlp, int p0, int layer, const Interventions& ivs) {
  for (const auto& iv : ivs) {
    if (iv.layer != layer) continue;
    if (iv.mode == InterventionMode::kOn)
      fail(ErrorCode::kState, "intervention " + format_intervention(iv) + " was not resolved against a clean run");
    if (iv.mode != InterventionMode::kPre) continue;
    for (int t = 0; t < T; ++t)
      if (iv.at(p0 + t)) u[static_cast<size_t>(t) * d_mlp + iv.index] = iv.value;
  }
}

void apply_post_interventions(float* m, int T, int d_mlp, int p0, int layer, const Interventions& ivs) {
  for (const auto& iv : ivs) {
    if (iv.layer != layer) continue;
    for (int t = 0; t < T; ++t) {
      if (!iv.at(p0 + t)) continue;
      float& x = m[static_cast<size_t>(t) * d_mlp + iv.index];
      switch (iv.mode) {
        case InterventionMode::kOff: x = 0.f; break;
        case InterventionMode::kSet: x = iv.value; break;
        case InterventionMode::kScale: x *= iv.value; break;
        case InterventionMode::kAdd: x += iv.value; break;
        default: break;
      }
    }
  }
}

}  // namespace lmdbg
