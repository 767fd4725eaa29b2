// Nesting depth of JSON text, checked before parsing untrusted input. nlohmann::json parses and
// destroys deep nesting without recursion, but dump(), copies and comparisons recurse once per
// level: a 200 kB "[[[[...]]]]" overflows the stack (natively and in wasm) as soon as an error
// message dumps the offending value. Every parser of user-supplied JSON in core/ calls this first.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lmdbg::io {

// Far deeper than any real file: HF configs nest 3 levels, safetensors headers and trace options 4.
constexpr int kMaxJsonDepth = 64;

// Maximum nesting of [ and { outside strings. Exact for valid JSON; for invalid JSON the parser fails anyway.
inline int json_nesting_depth(std::string_view text) {
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

// Throws Error(code) "<what>: JSON nested deeper than 64 levels" when the text nests too deeply.
inline void check_json_depth(std::string_view text, const std::string& what, ErrorCode code) {
  if (json_nesting_depth(text) > kMaxJsonDepth)
    throw Error(code, what + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
}

}  // namespace lmdbg::io
