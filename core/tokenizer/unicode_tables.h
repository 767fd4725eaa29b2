// Character classes for GPT-2's pre-tokenization regex. The tables are generated
// (unicode_tables.cpp, by weights_tools/gen_unicode_tables.mjs) from V8's regex engine.
#pragma once

namespace lmdbg::unicode {

enum class CharClass : unsigned char {
  kOther = 0,   // none of the below
  kLetter = 1,  // \p{L}
  kNumber = 2,  // \p{N}
  kSpace = 3,   // \s as JavaScript defines it
};

// Class of a Unicode scalar value (anything above U+10FFFF is kOther).
CharClass char_class(char32_t cp);

// Unicode version the tables were generated from (e.g. "15.1").
extern const char* const kTablesUnicodeVersion;

}  // namespace lmdbg::unicode
