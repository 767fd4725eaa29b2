// JSON from callers: parsed once, at the edge (the bindings, the CLI), then read inside core/ as
// nlohmann::json values through these checks. The one validation path for JSON input: nesting
// depth, integers in range, finite numbers, known keys. Every error names the field.
#pragma once
#include <climits>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace lmdbg::io {

using json = nlohmann::json;          // what callers send (parse_json)
using ojson = nlohmann::ordered_json; // what core writes: keys in the documented order

// Far deeper than any real file: HF configs nest 3 levels, safetensors headers and trace options 4.
constexpr int kMaxJsonDepth = 64;

// Maximum nesting of [ and { outside strings. Exact for valid JSON; for invalid JSON the parser fails anyway.
int json_nesting_depth(std::string_view text);

// Parses text, bounded in depth first: nlohmann::json parses deep nesting without recursion, but
// dump(), copies and comparisons recurse once per level, so a 200 kB "[[[[...]]]]" would overflow
// the stack as soon as an error message dumps it. Empty text is `empty` (e.g. "{}" or "[]").
// Throws Error(code) "<what>: not valid JSON (...)" / "<what>: JSON nested deeper than 64 levels".
json parse_json(std::string_view text, const std::string& what, ErrorCode code = ErrorCode::kInvalidArgument,
                std::string_view empty = {});

// An integer in [lo, hi] (get<int>() alone would wrap 4294967297 to 1). what names the field.
int json_int(const json& v, const std::string& what, int lo = INT_MIN, int hi = INT_MAX,
             ErrorCode code = ErrorCode::kInvalidArgument);
// A finite number that fits a float.
float json_float(const json& v, const std::string& what);
bool json_bool(const json& v, const std::string& what);
const std::string& json_string(const json& v, const std::string& what);
// Throws "<what>: unknown option "<key>"" for a key outside `known` (usually a typo).
void json_known_keys(const json& obj, std::initializer_list<std::string_view> known, const std::string& what);
// obj[key] when present and not null, else nullptr.
const json* json_field(const json& obj, std::string_view key);

}  // namespace lmdbg::io
