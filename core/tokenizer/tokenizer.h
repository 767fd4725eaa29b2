// GPT-2 byte-level BPE, bit-exact with OpenAI's encoder (and js-tiktoken's "gpt2").
//
//   Tokenizer tok = Tokenizer::from_files(vocab_json, merges_txt);
//   std::vector<int> ids = tok.encode("Hello world");   // {15496, 995}
//   std::string text = tok.decode(ids);
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
  // Concatenated bytes of the tokens (may be invalid UTF-8 when a character is split). Throws on bad ids.
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
