#include "json.h"

#include <cmath>
#include <cstdint>

namespace lmdbg::io {

int json_nesting_depth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) max_depth = depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

json parse_json(std::string_view text, const std::string& what, ErrorCode code, std::string_view empty) {
  if (text.empty() && !empty.empty()) text = empty;
  if (json_nesting_depth(text) > kMaxJsonDepth)
    throw Error(code, what + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e400
    throw Error(code, what + ": not valid JSON (" + e.what() + ")");
  }
}

int json_int(const json& v, const std::string& what, int lo, int hi, ErrorCode code) {
  if (!v.is_number_integer())
    fail(code, what + " must be an integer, got " + v.dump(-1, ' ', false, json::error_handler_t::replace));
  bool fits;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    fits = hi >= 0 && u <= static_cast<uint64_t>(hi) && static_cast<int64_t>(u) >= lo;
  } else {
    const int64_t i = v.get<int64_t>();
    fits = i >= lo && i <= hi;
  }
  if (!fits) fail(code, what + ": " + v.dump() + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v.get<int>();
}

float json_float(const json& v, const std::string& what) {
  if (!v.is_number()) invalid(what + " must be a number, got " + v.dump(-1, ' ', false, json::error_handler_t::replace));
  const double d = v.get<double>();
  if (!std::isfinite(static_cast<float>(d))) invalid(what + ": " + v.dump() + " is not a finite float");
  return static_cast<float>(d);
}

bool json_bool(const json& v, const std::string& what) {
  if (!v.is_boolean()) invalid(what + " must be true or false");
  return v.get<bool>();
}

const std::string& json_string(const json& v, const std::string& what) {
  if (!v.is_string()) invalid(what + " must be a string");
  return v.get_ref<const std::string&>();
}

void json_known_keys(const json& obj, std::initializer_list<std::string_view> known, const std::string& what) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (auto k : known) ok = ok || it.key() == k;
    if (!ok) invalid(what + ": unknown option \"" + it.key() + "\"");
  }
}

const json* json_field(const json& obj, std::string_view key) {
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

}  // namespace lmdbg::io
