// GPT-2 byte-level BPE. See tokenizer.h for the behaviour; this file holds:
//   - loading and validating vocab.json / merges.txt,
//   - the pre-tokenizer (GPT-2's regex, hand-written over code points),
//   - the per-word cache and decode.
#include "core/tokenizer/tokenizer.h"

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "core/error.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/unicode_tables.h"

namespace lmdbg {
namespace {

using unicode::CharClass;

constexpr std::string_view kEndOfText = "<|endoftext|>";

// ---- GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100.. ----
struct ByteAlphabet {
  char32_t byte_to_char[256];
  int char_to_byte[512];  // -1: not in the alphabet
  ByteAlphabet() {
    for (int& b : char_to_byte) b = -1;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      byte_to_char[b] = printable ? char32_t(b) : char32_t(256 + n++);
      char_to_byte[byte_to_char[b]] = b;
    }
  }
};
const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

void append_utf8(std::string& s, char32_t c) {
  if (c < 0x80) {
    s += char(c);
  } else if (c < 0x800) {
    s += char(0xC0 | (c >> 6));
    s += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += char(0xE0 | (c >> 12));
    s += char(0x80 | ((c >> 6) & 0x3F));
    s += char(0x80 | (c & 0x3F));
  } else {
    s += char(0xF0 | (c >> 18));
    s += char(0x80 | ((c >> 12) & 0x3F));
    s += char(0x80 | ((c >> 6) & 0x3F));
    s += char(0x80 | (c & 0x3F));
  }
}

// One well-formed UTF-8 sequence (Unicode Table 3-7) at p[0..avail). Returns its length (1..4) and
// sets cp, or returns 0 when p[0] does not start a well-formed sequence.
int decode_utf8(const unsigned char* p, std::size_t avail, char32_t& cp) {
  const unsigned b0 = p[0];
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  auto cont = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return i < avail && p[i] >= lo && p[i] <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!cont(1)) return 0;
    cp = ((b0 & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    if (!cont(1, lo, hi) || !cont(2)) return 0;
    cp = ((b0 & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const unsigned lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (!cont(1, lo, hi) || !cont(2) || !cont(3)) return 0;
    cp = ((b0 & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    return 4;
  }
  return 0;
}

// Class and byte length of the character at p (limit: avail bytes). An invalid byte is one "other" character.
struct CharInfo {
  CharClass cls;
  int len;
};
inline CharInfo char_at(const unsigned char* p, std::size_t avail) {
  if (p[0] < 0x80) return {unicode::char_class(p[0]), 1};
  char32_t cp;
  const int len = decode_utf8(p, avail, cp);
  if (len == 0) return {CharClass::kOther, 1};
  return {unicode::char_class(cp), len};
}

// Quote a token for an error message (bounded length, control characters escaped).
std::string quote_token(std::string_view s) {
  std::string out = "\"";
  const std::size_t max = 60;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = s[i];
    if (c < 0x20 || c == 0x7F) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (s.size() > max) out += "...";
  out += '"';
  return out;
}


// vocab.json through nlohmann's SAX interface: a flat {"token": id} object, read without building a DOM.
// Errors are recorded (first one wins) and parsing stops.
struct VocabReader {
  using json = nlohmann::json;
  std::vector<std::pair<std::string, std::int64_t>> entries;
  std::string key_;
  std::string error;
  int depth = 0;
  bool saw_object = false;

  bool fail(std::string msg) {
    if (error.empty()) error = std::move(msg);
    return false;
  }
  bool not_an_id() {
    if (depth == 0) return fail("vocab.json: not a JSON object");
    return fail("vocab.json: token " + quote_token(key_) + " has a non-integer id");
  }
  template <typename T>
  bool id(T v) {
    if (depth == 0) return fail("vocab.json: not a JSON object");
    if (v < 0 || v > T(0x7FFFFFFF)) {
      return fail("vocab.json: token " + quote_token(key_) + " has id " + std::to_string(v) + ", out of range");
    }
    entries.emplace_back(std::move(key_), std::int64_t(v));
    return true;
  }
  bool null() { return not_an_id(); }
  bool boolean(bool) { return not_an_id(); }
  bool number_integer(json::number_integer_t v) { return id(v); }
  bool number_unsigned(json::number_unsigned_t v) { return id(v); }
  bool number_float(json::number_float_t, const json::string_t&) { return not_an_id(); }
  bool string(json::string_t&) { return not_an_id(); }
  bool binary(json::binary_t&) { return not_an_id(); }
  bool start_object(std::size_t n) {
    if (depth > 0) return not_an_id();
    depth = 1;
    saw_object = true;
    if (n != std::size_t(-1) && n < (1u << 24)) entries.reserve(n);
    return true;
  }
  bool key(json::string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() {
    depth = 0;
    return true;
  }
  bool start_array(std::size_t) { return not_an_id(); }
  bool end_array() { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    return fail(std::string("vocab.json: invalid JSON (") + e.what() + ")");
  }
};

// token spelling -> id, open addressing over the ids; the spellings live in a vector indexed by id.
class KeyIndex {
 public:
  explicit KeyIndex(std::size_t n) {
    std::size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    slots_.assign(cap, Slot{0, -1});
    mask_ = cap - 1;
  }
  // false if the spelling of `id` is already present
  bool insert(const std::vector<std::string>& keys, int id) {
    const std::uint64_t h = hash(keys[id]);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = Slot{std::uint32_t(h >> 32), id};
        return true;
      }
      if (s.tag == std::uint32_t(h >> 32) && keys[s.id] == keys[id]) return false;
    }
  }
  int find(const std::vector<std::string>& keys, std::string_view key) const {
    const std::uint64_t h = hash(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.tag == std::uint32_t(h >> 32) && keys[s.id] == key) return s.id;
    }
  }

 private:
  struct Slot {
    std::uint32_t tag;
    int id;
  };
  static std::uint64_t hash(std::string_view s) {  // FNV-1a, then a final mix
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
};

}  // namespace

struct Tokenizer::Impl {
  std::vector<std::string> id_to_bytes;
  int byte_id[256];
  int eot = -1;
  tok_detail::MergeTable merges;

  // Per-word cache: words up to kCacheMaxWord bytes, at most kCacheMaxEntries; cleared when full.
  static constexpr std::size_t kCacheMaxWord = 64;
  static constexpr std::size_t kCacheMaxEntries = 8192;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, std::vector<int>, Hash, std::equal_to<>> cache;

  void encode_word(std::string_view word, std::vector<int>& out) const;
  void encode_ordinary(std::string_view text, std::vector<int>& out) const;
  void check_id(int id) const {
    if (id < 0 || id >= int(id_to_bytes.size())) {
      invalid("token id " + std::to_string(id) + " out of range [0, " + std::to_string(id_to_bytes.size()) + ")");
    }
  }
};

void Tokenizer::Impl::encode_word(std::string_view word, std::vector<int>& out) const {
  if (word.size() == 1) {
    out.push_back(byte_id[static_cast<unsigned char>(word[0])]);
    return;
  }
  const bool cacheable = word.size() <= kCacheMaxWord;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu);
    auto it = cache.find(word);
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int> symbols(word.size());
  for (std::size_t i = 0; i < word.size(); ++i) symbols[i] = byte_id[static_cast<unsigned char>(word[i])];
  const std::size_t start = out.size();
  tok_detail::bpe(merges, symbols, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu);
    if (cache.size() >= kCacheMaxEntries) cache.clear();
    cache.emplace(std::string(word), std::vector<int>(out.begin() + start, out.end()));
  }
}

// GPT-2's pattern  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// applied left to right (alternatives tried in order, leftmost match), one pre-token at a time.
void Tokenizer::Impl::encode_ordinary(std::string_view text, std::vector<int>& out) const {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t end = text.size();
  auto at = [&](std::size_t pos) { return char_at(p + pos, end - pos); };
  // End of the run of characters of class `cls` starting at pos.
  auto run_end = [&](std::size_t pos, CharClass cls) {
    while (pos < end) {
      const CharInfo c = at(pos);
      if (c.cls != cls) break;
      pos += c.len;
    }
    return pos;
  };
  std::size_t pos = 0;
  while (pos < end) {
    const unsigned char b = p[pos];
    std::size_t stop;
    if (b == '\'' && pos + 1 < end &&
        (p[pos + 1] == 's' || p[pos + 1] == 't' || p[pos + 1] == 'm' || p[pos + 1] == 'd')) {
      stop = pos + 2;  // 's 't 'm 'd
    } else if (b == '\'' && pos + 2 < end &&
               ((p[pos + 1] == 'r' && p[pos + 2] == 'e') || (p[pos + 1] == 'v' && p[pos + 2] == 'e') ||
                (p[pos + 1] == 'l' && p[pos + 2] == 'l'))) {
      stop = pos + 3;  // 're 've 'll
    } else {
      const CharInfo c0 = at(pos);
      CharInfo c1{CharClass::kSpace, 0};
      if (b == ' ' && pos + 1 < end) c1 = at(pos + 1);
      if (b == ' ' && c1.cls != CharClass::kSpace) {
        stop = run_end(pos + 1, c1.cls);  // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" with the space
      } else if (c0.cls != CharClass::kSpace) {
        stop = run_end(pos, c0.cls);  // the same without the space
      } else {
        // \s+(?!\S): the whole run at the end of the text, else the run minus its last character
        // (if that leaves at least one); otherwise \s+ takes the single character.
        std::size_t q = pos + c0.len, last = pos;
        while (q < end) {
          const CharInfo c = at(q);
          if (c.cls != CharClass::kSpace) break;
          last = q;
          q += c.len;
        }
        stop = (q == end || last == pos) ? q : last;
      }
    }
    encode_word(text.substr(pos, stop - pos), out);
    pos = stop;
  }
}

Tokenizer Tokenizer::from_files(std::string_view vocab_json, std::string_view merges_txt) {
  const ByteAlphabet& abc = alphabet();
  auto impl = std::make_unique<Impl>();

  // ---- vocab.json ----
  VocabReader reader;
  bool parsed = false;
  try {
    parsed = nlohmann::json::sax_parse(vocab_json.begin(), vocab_json.end(), &reader);
  } catch (const nlohmann::json::exception& e) {
    if (reader.error.empty()) reader.error = std::string("vocab.json: invalid JSON (") + e.what() + ")";
  }
  if (!reader.error.empty()) bad_file(reader.error);
  if (!parsed || !reader.saw_object) bad_file("vocab.json: not a JSON object");
  const std::size_t n = reader.entries.size();
  if (n == 0) bad_file("vocab.json: empty");
  if (n > 0x7FFFFFFF) bad_file("vocab.json: too many tokens");

  impl->id_to_bytes.assign(n, std::string());
  std::vector<std::string> keys(n);  // the vocab.json spelling of each id
  std::vector<char> have(n, 0);
  KeyIndex index(n);
  for (auto& [key, id64] : reader.entries) {
    if (id64 >= static_cast<std::int64_t>(n)) {
      bad_file("vocab.json: token " + quote_token(key) + " has id " + std::to_string(id64) + "; the " +
               std::to_string(n) + " ids must be exactly 0.." + std::to_string(n - 1));
    }
    const int id = static_cast<int>(id64);
    if (have[id] && keys[id] == key) bad_file("vocab.json: token " + quote_token(key) + " appears twice");
    if (have[id]) {
      bad_file("vocab.json: id " + std::to_string(id) + " is used by both " + quote_token(keys[id]) + " and " +
               quote_token(key));
    }
    if (key.empty()) bad_file("vocab.json: empty token for id " + std::to_string(id));
    // Map the byte alphabet back to bytes.
    std::string bytes;
    const auto* kp = reinterpret_cast<const unsigned char*>(key.data());
    for (std::size_t i = 0; i < key.size();) {
      char32_t cp = 0;
      const int len = decode_utf8(kp + i, key.size() - i, cp);
      if (len == 0 || cp >= 512 || abc.char_to_byte[cp] < 0) {
        bad_file("vocab.json: token " + quote_token(key) + " has a character outside GPT-2's byte alphabet");
      }
      bytes += char(abc.char_to_byte[cp]);
      i += len;
    }
    have[id] = 1;
    keys[id] = std::move(key);
    if (!index.insert(keys, id)) bad_file("vocab.json: token " + quote_token(keys[id]) + " appears twice");
    impl->id_to_bytes[id] = std::move(bytes);
  }
  reader.entries = {};
  // (n unique ids in [0, n): every id is present.)
  for (int b = 0; b < 256; ++b) {
    std::string key;
    append_utf8(key, abc.byte_to_char[b]);
    const int id = index.find(keys, key);
    if (id < 0) {
      static const char* hex = "0123456789ABCDEF";
      bad_file(std::string("vocab.json: no token for byte 0x") + hex[b >> 4] + hex[b & 15] + " (" +
               quote_token(key) + "); a byte-level vocabulary needs all 256");
    }
    impl->byte_id[b] = id;
  }
  impl->eot = index.find(keys, kEndOfText);

  // ---- merges.txt ----
  std::vector<int> merge_line;  // rank -> line number, for duplicate reports
  impl->merges.reserve(std::size_t(std::count(merges_txt.begin(), merges_txt.end(), '\n')) + 1);
  std::size_t line_no = 0, pos = 0;
  std::string joined;
  while (pos < merges_txt.size()) {
    std::size_t nl = merges_txt.find('\n', pos);
    if (nl == std::string_view::npos) nl = merges_txt.size();
    std::string_view line = merges_txt.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && line.starts_with("#version")) continue;
    if (line.empty()) continue;
    const std::string where = "merges.txt line " + std::to_string(line_no) + ": ";
    const std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 == line.size() ||
        line.find(' ', sp + 1) != std::string_view::npos) {
      bad_file(where + "expected two tokens separated by one space, got " + quote_token(line));
    }
    const std::string_view a = line.substr(0, sp), b = line.substr(sp + 1);
    const int ia = index.find(keys, a);
    if (ia < 0) bad_file(where + "token " + quote_token(a) + " not in vocab.json");
    const int ib = index.find(keys, b);
    if (ib < 0) bad_file(where + "token " + quote_token(b) + " not in vocab.json");
    joined.assign(a);
    joined += b;
    const int im = index.find(keys, joined);
    if (im < 0) bad_file(where + "merged token " + quote_token(joined) + " not in vocab.json");
    const int rank = int(merge_line.size());
    if (!impl->merges.insert(ia, ib, rank, im)) {
      const auto* e = impl->merges.find(ia, ib);
      bad_file(where + "duplicate merge " + quote_token(line) + " (first on line " +
               std::to_string(merge_line[e->rank]) + ")");
    }
    merge_line.push_back(int(line_no));
  }

  Tokenizer t;
  t.impl_ = std::move(impl);
  return t;
}

std::vector<int> Tokenizer::encode(std::string_view text, bool allow_special) const {
  if (!impl_) fail(ErrorCode::kState, "tokenizer not loaded");
  std::vector<int> out;
  out.reserve(text.size() / 3 + 4);
  if (!allow_special || impl_->eot < 0) {
    impl_->encode_ordinary(text, out);
    return out;
  }
  // Split at each "<|endoftext|>"; the pieces between are pre-tokenized independently (as tiktoken does).
  std::size_t pos = 0;
  while (true) {
    const std::size_t hit = text.find(kEndOfText, pos);
    impl_->encode_ordinary(text.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos), out);
    if (hit == std::string_view::npos) break;
    out.push_back(impl_->eot);
    pos = hit + kEndOfText.size();
  }
  return out;
}

std::string Tokenizer::decode(std::span<const int> ids) const {
  if (!impl_) fail(ErrorCode::kState, "tokenizer not loaded");
  std::size_t total = 0;
  for (int id : ids) {
    impl_->check_id(id);
    total += impl_->id_to_bytes[id].size();
  }
  std::string out;
  out.reserve(total);
  for (int id : ids) out += impl_->id_to_bytes[id];
  return out;
}

const std::string& Tokenizer::token_bytes(int id) const {
  if (!impl_) fail(ErrorCode::kState, "tokenizer not loaded");
  impl_->check_id(id);
  return impl_->id_to_bytes[id];
}

int Tokenizer::vocab_size() const { return impl_ ? int(impl_->id_to_bytes.size()) : 0; }
int Tokenizer::eot_id() const { return impl_ ? impl_->eot : -1; }

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

}  // namespace lmdbg
