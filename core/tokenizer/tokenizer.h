// GPT-2 byte-level BPE, bit-exact with OpenAI's encoder (and js-tiktoken's "gpt2").
//
//   Tokenizer tok = Tokenizer::from_files(vocab_json, merges_txt);
//   std::vector<int> ids = tok.encode("Hello world");   // {15496, 995}
//   std::string text = tok.decode(ids);
//
// Behaviour:
//   - Pre-tokenization is GPT-2's regex
//       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//     over code points, with JavaScript's definitions of \p{L}, \p{N} and \s (tables generated from V8,
//     see unicode_tables.cpp). Contractions are case-sensitive ("'T" is not one), as in GPT-2.
//   - Merging follows OpenAI's encoder.py (lowest-ranked pair first, all its occurrences at once).
//   - Invalid UTF-8 never throws: each byte that does not start a well-formed UTF-8 sequence (stray
//     continuation bytes, overlong forms, surrogates, > U+10FFFF, truncated sequences) counts as one
//     "other" character for pre-tokenization (as U+FFFD would: it groups with punctuation/symbols), but its
//     original byte is what gets byte-pair encoded. So decode(encode(s)) == s for ANY bytes s.
//   - "<|endoftext|>" is the special token only when allow_special is true; the text around it is then
//     pre-tokenized piece by piece (as tiktoken does). Otherwise it is ordinary text.
//   - encode() keeps a bounded per-word cache (short words only, cleared when full); it is thread-safe.
//   - vocab.json must map every id 0..n-1 exactly once and contain the 256 byte tokens; merges.txt is
//     "left right" per line (optional "#version" first line, blank lines ignored), each token and their
//     concatenation in vocab.json, no duplicates. Violations throw lmdbg::Error (kBadFile) naming the
//     file, the line or token, and the problem.
//   - A default-constructed Tokenizer throws kState from encode/decode/token_bytes.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmdbg {

class Tokenizer {
 public:
  // vocab_json: the contents of vocab.json ({"token": id, ...}); merges_txt: merges.txt.
  // Throws lmdbg::Error (kBadFile) naming the problem.
  static Tokenizer from_files(std::string_view vocab_json, std::string_view merges_txt);

  // allow_special: "<|endoftext|>" becomes its id; otherwise it is encoded as plain text.
  std::vector<int> encode(std::string_view text, bool allow_special = false) const;
  // Concatenated bytes of the tokens (may be invalid UTF-8 when a character is split). Throws on bad ids
  // (kInvalidArgument: "token id 60000 out of range [0, 50257)").
  std::string decode(std::span<const int> ids) const;
  // Raw bytes of one token.
  const std::string& token_bytes(int id) const;

  int vocab_size() const;
  int eot_id() const;  // id of "<|endoftext|>", or -1

  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmdbg
