// Fuzz target: Tokenizer::from_files on arbitrary vocab.json / merges.txt. The first byte picks:
//   0 vocab.json fuzzed, the fixture's merges.txt   1 merges.txt fuzzed, the fixture's vocab.json
//   2 both: vocab.json, a NUL byte, merges.txt
// A tokenizer that loads must round-trip any text (decode(encode(s)) == s) with ids in range.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/tokenizer/tokenizer.h"
#include "fuzz_util.h"

using namespace lmdbg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::Files base = fuzz::read_model("l2-f16");
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view vocab = base.vocab, merges = base.merges;
  switch (data[0] % 3) {
    case 0: vocab = rest; break;
    case 1: merges = rest; break;
    default: {
      const size_t nul = rest.find('\0');
      vocab = rest.substr(0, nul);
      merges = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
    }
  }
  Tokenizer tok;
  try {
    tok = Tokenizer::from_files(vocab, merges);
  } catch (const Error&) {
    return 0;
  }
  FUZZ_CHECK(tok.vocab_size() >= 256);
  for (const std::string_view text : {std::string_view("Hello world, it's 2024!\n\n  caf\xc3\xa9 <|endoftext|>"), rest}) {
    for (const bool special : {false, true}) {
      const auto ids = tok.encode(text, special);
      for (int id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocab_size());
      FUZZ_CHECK(tok.decode(ids) == text);
    }
  }
  return 0;
}
