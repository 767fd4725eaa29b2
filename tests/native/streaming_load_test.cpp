// Streaming loads (ModelBuilder): any chunking of model.safetensors gives the same model as a
// whole-file load, tensors in any file order, with clear errors for misuse and truncation.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <random>

#include "core/error.h"
#include "core/io/hash.h"
#include "core/model/forward.h"
#include "core/model/model.h"
#include "test_util.h"

using namespace lmdbg;

namespace {

std::unique_ptr<Model> load_chunked(const io::ModelDir& d, size_t max_chunk, uint32_t seed, size_t header_extra) {
  const auto f = d.files();
  ModelBuilder b(f.config_json, f.vocab_json, f.merges_txt);
  const uint64_t n = io::safetensors_header_length(f.safetensors);
  const size_t given = std::min<size_t>(f.safetensors_size, 8 + n + header_extra);
  b.set_header(f.safetensors, given, f.safetensors_size);
  std::mt19937 rng(seed);
  size_t pos = 8 + n;
  while (pos < f.safetensors_size) {
    const size_t len = std::min<size_t>(1 + rng() % max_chunk, f.safetensors_size - pos);
    b.feed(f.safetensors + pos, len);
    pos += len;
  }
  return b.finish();
}

std::vector<float> last_logits(const Model& m, const std::vector<int>& ids) {
  State st(m);
  st.forward(ids);
  return {st.logits(), st.logits() + m.config().d_vocab};
}

}  // namespace

TEST(StreamingLoad, AnyChunkingGivesTheSameModel) {
  for (const char* v : {"l4-f32", "l4-f16-prefix", "l2-f32-prefix", "l2-f16", "l2-bf16"}) {
    const auto dir = io::read_model_dir(test::model_dir(v));
    const auto whole = Model::load(dir.files());
    const std::vector<int> ids = {5, 100, 200, 17, 300};
    const auto want = last_logits(*whole, ids);
    for (size_t chunk : {size_t{1} << 20, size_t{4096}, size_t{97}}) {
      const auto m = load_chunked(dir, chunk, static_cast<uint32_t>(chunk), 0);
      EXPECT_EQ(last_logits(*m, ids), want) << v << " chunks up to " << chunk;  // bit for bit
      for (int l = 0; l < m->config().n_layers; ++l)
        EXPECT_EQ(m->weights().layers[l].W_out_norms, whole->weights().layers[l].W_out_norms);
    }
  }
}

TEST(StreamingLoad, MisuseAndTruncationAreErrors) {
  const auto dir = io::read_model_dir(test::model_dir("l2-f16"));
  const auto f = dir.files();
  {
    ModelBuilder b(f.config_json, f.vocab_json, f.merges_txt);
    EXPECT_THROW(b.feed(f.safetensors, 10), Error);  // before the header
    EXPECT_THROW(b.set_header(f.safetensors, 100, f.safetensors_size), Error);  // header cut short
    EXPECT_THROW(b.finish(), Error);
  }
  {
    ModelBuilder b(f.config_json, f.vocab_json, f.merges_txt);
    b.set_header(f.safetensors, f.safetensors_size, f.safetensors_size);
    const uint64_t h = b.header_bytes();
    b.feed(f.safetensors + h, (f.safetensors_size - h) / 2);  // the connection dropped half way
    try {
      b.finish();
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("the data ended after"), std::string::npos) << e.what();
    }
  }
  // A header whose offsets exceed the announced file size is refused before any data.
  ModelBuilder b(f.config_json, f.vocab_json, f.merges_txt);
  EXPECT_THROW(b.set_header(f.safetensors, f.safetensors_size, f.safetensors_size - 10), Error);
}

// The fingerprint is XXH64 of the data section: the same for a whole-file load and for any chunking,
// and different for different weights (the F16 copy of the same model is another file).
TEST(StreamingLoad, FingerprintIsTheHashOfTheDataSection) {
  std::map<std::string, std::string> seen;
  for (const char* v : {"l4-f32", "l4-f16-prefix", "l2-f32-prefix", "l2-f16", "l2-bf16"}) {
    const auto dir = io::read_model_dir(test::model_dir(v));
    const auto f = dir.files();
    const uint64_t h = 8 + io::safetensors_header_length(f.safetensors);
    io::Hash64 want;
    want.update(f.safetensors + h, f.safetensors_size - h);
    const auto whole = Model::load(f);
    EXPECT_EQ(whole->fingerprint(), "xxh64:" + io::hex64(want.digest())) << v;
    EXPECT_EQ(whole->checkpoint_bytes(), f.safetensors_size) << v;
    for (size_t chunk : {size_t{4096}, size_t{97}})
      for (size_t extra : {size_t{0}, size_t{1000}})
        EXPECT_EQ(load_chunked(dir, chunk, 3, extra)->fingerprint(), whole->fingerprint()) << v << " chunks up to " << chunk;
    EXPECT_TRUE(seen.emplace(whole->fingerprint(), v).second) << v << " has the fingerprint of " << seen[whole->fingerprint()];
  }
}

namespace {

// The package's way (js/src/load.ts): the bytes of each large tensor written where place() says, the
// rest fed from a buffer of its own; every few places left unused (fed from the buffer instead).
// The fixtures' tensors are small: in place from 4 KiB.
LoadOptions small_in_place() {
  LoadOptions o;
  o.in_place_min = 4096;
  return o;
}

std::unique_ptr<Model> load_in_place(const io::ModelDir& d, size_t max_chunk, uint32_t seed, int* placed) {
  const auto f = d.files();
  ModelBuilder b(f.config_json, f.vocab_json, f.merges_txt, small_in_place());
  b.set_header(f.safetensors, f.safetensors_size, f.safetensors_size);
  std::mt19937 rng(seed);
  std::vector<uint8_t> buf;
  for (size_t pos = b.header_bytes(); pos < f.safetensors_size;) {
    const size_t want = std::min<size_t>(1 + rng() % max_chunk, f.safetensors_size - pos);
    const auto p = b.place(want);
    EXPECT_GT(p.bytes, 0u);
    EXPECT_LE(p.bytes, want);
    if (p.data && rng() % 4) {
      std::memcpy(p.data, f.safetensors + pos, p.bytes);
      b.feed(p.data, p.bytes);
      ++*placed;
    } else {
      buf.assign(f.safetensors + pos, f.safetensors + pos + p.bytes);
      b.feed(buf.data(), buf.size());
    }
    pos += p.bytes;
  }
  return b.finish();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(StreamingLoad, InPlaceWritesGiveTheSameModel) {
  for (const char* v : {"l4-f32", "l2-f32-prefix", "l2-f16"}) {
    const auto dir = io::read_model_dir(test::model_dir(v));
    const auto whole = Model::load(dir.files());
    const std::vector<int> ids = {5, 100, 200, 17, 300};
    const auto want = last_logits(*whole, ids);
    for (size_t chunk : {size_t{1} << 20, size_t{4096}, size_t{97}}) {
      int placed = 0;
      const auto m = load_in_place(dir, chunk, static_cast<uint32_t>(chunk), &placed);
      EXPECT_EQ(last_logits(*m, ids), want) << v << " chunks up to " << chunk;  // bit for bit
      EXPECT_EQ(m->fingerprint(), whole->fingerprint()) << v;
      for (int l = 0; l < m->config().n_layers; ++l)
        EXPECT_EQ(m->weights().layers[l].W_out_norms, whole->weights().layers[l].W_out_norms);
      EXPECT_GT(placed, 0) << v;
    }
  }
}

// Bytes at a place given out of order, more bytes than its room, a place gone stale, a file cut short
// after some places were written: each an error naming the tensor; a new load then works.
TEST(StreamingLoad, InPlaceMisuseIsAnError) {
  const auto dir = io::read_model_dir(test::model_dir("l4-f32"));
  const auto f = dir.files();
  // Fed from the file up to the first place, which is returned.
  auto to_first_place = [&](ModelBuilder& b) {
    b.set_header(f.safetensors, f.safetensors_size, f.safetensors_size);
    size_t pos = b.header_bytes();
    for (;;) {
      const auto p = b.place(f.safetensors_size - pos);
      if (p.data) return std::pair{p, pos};
      b.feed(f.safetensors + pos, p.bytes);
      pos += p.bytes;
    }
  };
  {
    ModelBuilder b(f.config_json, f.vocab_json, f.merges_txt, small_in_place());
    const auto first = to_first_place(b);  // not a structured binding: lambdas below capture p (C++17)
    const auto& p = first.first;
    std::memcpy(p.data, f.safetensors + first.second, p.bytes);
    const std::string e = error_of([&] { b.feed(p.data + 4, p.bytes - 4); });
    EXPECT_NE(e.find("out of order at the place of tensor \""), std::string::npos) << e;
    EXPECT_NE(e.find("they start at its byte 4, but its next byte is 0"), std::string::npos) << e;
  }
  {
    ModelBuilder b(f.config_json, f.vocab_json, f.merges_txt, small_in_place());
    const auto first = to_first_place(b);  // not a structured binding: lambdas below capture p (C++17)
    const auto& p = first.first;
    const std::string e = error_of([&] { b.feed(p.data, p.bytes + 1); });
    EXPECT_NE(e.find(std::to_string(p.bytes + 1) + " bytes fed at the place of tensor \""), std::string::npos) << e;
    EXPECT_NE(e.find("which was given for " + std::to_string(p.bytes)), std::string::npos) << e;
  }
  {
    ModelBuilder b(f.config_json, f.vocab_json, f.merges_txt, small_in_place());
    const auto first = to_first_place(b);  // not a structured binding: lambdas below capture p (C++17)
    const auto& p = first.first;
    std::memcpy(p.data, f.safetensors + first.second, 8);
    b.feed(p.data, 8);
    const std::string e = error_of([&] { b.feed(p.data + 8, 8); });  // without asking for the place again
    EXPECT_NE(e.find("without asking for it (place() before each write)"), std::string::npos) << e;
  }
  {
    ModelBuilder b(f.config_json, f.vocab_json, f.merges_txt, small_in_place());
    const auto first = to_first_place(b);  // not a structured binding: lambdas below capture p (C++17)
    const auto& p = first.first;
    std::memcpy(p.data, f.safetensors + first.second, p.bytes / 2);
    b.feed(p.data, p.bytes / 2);  // the connection dropped inside a tensor written in place
    const std::string e = error_of([&] { b.finish(); });
    EXPECT_NE(e.find("the data ended after"), std::string::npos) << e;
    EXPECT_NE(e.find("but tensor \""), std::string::npos) << e;
  }
  int placed = 0;
  EXPECT_EQ(load_in_place(dir, 4096, 1, &placed)->fingerprint(), Model::load(f)->fingerprint());
}
