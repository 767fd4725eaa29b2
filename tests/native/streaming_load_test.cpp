// Streaming loads (ModelBuilder): any chunking of model.safetensors gives the same model as a
// whole-file load, tensors in any file order, with clear errors for misuse and truncation.
#include <gtest/gtest.h>

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
