// The malformed-checkpoint corpus (tests/fixtures/malformed.json): every case is refused with an
// error naming the problem, nothing crashes, and the next load works.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/model/model.h"
#include "test_util.h"

using namespace lmdbg;
using nlohmann::json;

namespace {

struct Files {
  std::string config, weights, vocab, merges;
  std::string& get(const std::string& name) {
    if (name == "config.json") return config;
    if (name == "model.safetensors") return weights;
    if (name == "vocab.json") return vocab;
    return merges;
  }
};

Files read_base(const std::string& variant) {
  const std::string d = test::model_dir(variant) + "/";
  return {test::read_text(d + "config.json"), test::read_text(d + "model.safetensors"), test::read_text(d + "vocab.json"),
          test::read_text(d + "merges.txt")};
}

std::string with_header(const std::string& st, const std::string& header) {
  uint64_t n = 0;
  std::memcpy(&n, st.data(), 8);
  std::string out(8, '\0');
  const uint64_t m = header.size();
  std::memcpy(out.data(), &m, 8);
  return out + header + st.substr(8 + n);
}

// Applies one mutation from the manifest (see its "about").
void mutate(Files& f, const json& c) {
  std::string& s = f.get(c["file"]);
  if (c.contains("truncate")) {
    const long long n = c["truncate"];
    s = n >= 0 ? s.substr(0, n) : s.substr(0, s.size() + n);
  } else if (c.contains("headerLength")) {
    const uint64_t n = c["headerLength"].get<uint64_t>();
    std::memcpy(s.data(), &n, 8);
  } else if (c.contains("rawHeader")) {
    s = with_header(s, c["rawHeader"]);
  } else if (c.contains("headerPatch")) {
    uint64_t n = 0;
    std::memcpy(&n, s.data(), 8);
    json h = json::parse(s.substr(8, n));
    h.merge_patch(c["headerPatch"]);
    s = with_header(s, h.dump());
  } else if (c.contains("nanAt")) {
    uint64_t n = 0;
    std::memcpy(&n, s.data(), 8);
    const json h = json::parse(s.substr(8, n));
    const auto& t = h.at(c["nanAt"]["tensor"].get<std::string>());
    const size_t elem = t["dtype"] == "F32" ? 4 : 2;
    const size_t off = 8 + n + t["data_offsets"][0].get<size_t>() + elem * c["nanAt"]["index"].get<size_t>();
    if (elem == 2) {
      const uint16_t nan16 = 0x7e00;
      std::memcpy(s.data() + off, &nan16, 2);
    } else {
      const float nan32 = NAN;
      std::memcpy(s.data() + off, &nan32, 4);
    }
  } else if (c.contains("replace")) {
    s = c["replace"];
  } else if (c.contains("jsonPatch")) {
    json j = json::parse(s);
    j.merge_patch(c["jsonPatch"]);
    s = j.dump();
  } else {
    FAIL() << "unknown mutation in " << c.dump();
  }
}

std::unique_ptr<Model> load(const Files& f) {
  io::ModelFiles mf{f.config, reinterpret_cast<const uint8_t*>(f.weights.data()), f.weights.size(), f.vocab, f.merges};
  return Model::load(mf);
}

}  // namespace

TEST(Malformed, EveryCaseIsRefusedWithItsReasonAndTheNextLoadWorks) {
  const json manifest = json::parse(test::read_text(test::source_path("tests/fixtures/malformed.json")));
  const Files base = read_base(manifest["base"]);
  ASSERT_NO_THROW(load(base));
  int n = 0;
  for (const auto& c : manifest["cases"]) {
    Files f = base;
    mutate(f, c);
    std::string err;
    try {
      load(f);
    } catch (const Error& e) {
      err = e.what();
    }
    EXPECT_NE(err.find(c["expect"].get<std::string>()), std::string::npos)
        << c["name"] << ": expected an error containing \"" << c["expect"].get<std::string>() << "\", got \"" << err << "\"";
    // The engine is stateless between loads: a good model loads right after.
    EXPECT_EQ(load(base)->config().n_layers, 2) << "after " << c["name"];
    ++n;
  }
  EXPECT_GE(n, 25);
}

TEST(Malformed, MemoryLimitIsCheckedBeforeAllocating) {
  const Files f = read_base("l2-f16");
  LoadOptions opt;
  opt.memory_limit = 100000;  // bytes
  io::ModelFiles mf{f.config, reinterpret_cast<const uint8_t*>(f.weights.data()), f.weights.size(), f.vocab, f.merges};
  try {
    Model::load(mf, opt);
    FAIL() << "expected an out-of-memory error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
    EXPECT_NE(std::string(e.what()).find("model needs 0.6 MB for its f32 weights but only 0.1 MB are available"),
              std::string::npos)
        << e.what();
  }
}
