// safetensors parsing: valid files round-trip; every malformed case gets an error naming the problem.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "core/io/safetensors.h"

using namespace lmdbg;
using namespace lmdbg::io;

namespace {

std::string raw_file(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\x01');
}

std::string parse_error(const std::string& bytes) {
  try {
    parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SafeTensors, RoundTrip) {
  const float a[6] = {1, 2, 3, 4, 5, 6};
  const uint16_t b[2] = {0x3c00, 0x0001};
  const std::string bytes = write_safetensors({{"a", TensorDType::kF32, {2, 3}, a}, {"b.x", TensorDType::kF16, {2}, b}},
                                              {{"format", "pt"}});
  const auto v = parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ASSERT_EQ(v.tensors.size(), 2u);
  const auto* ta = v.find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ta->dtype, TensorDType::kF32);
  EXPECT_EQ(std::memcmp(ta->data, a, sizeof a), 0);
  EXPECT_EQ(v.find("b.x")->numel(), 2u);
  EXPECT_EQ(v.metadata.at("format"), "pt");
  EXPECT_EQ((v.header_bytes) % 8, 0u);
}

TEST(SafeTensors, ScalarShapeAndEmptyTensor) {
  const std::string bytes = raw_file(R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                                     R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}})",
                                     4);
  const auto v = parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_EQ(v.find("s")->numel(), 1u);
  EXPECT_EQ(v.find("e")->numel(), 0u);
}

struct BadCase {
  const char* name;
  std::string bytes;
  const char* expect;  // substring of the error
};

TEST(SafeTensors, MalformedCorpus) {
  const std::string good = raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8);
  std::string huge_len = good;
  huge_len[5] = '\x7f';
  const std::vector<BadCase> cases = {
      {"empty", "", "too short"},
      {"short", "abc", "too short"},
      {"truncated data", good.substr(0, good.size() - 3), "outside the data section"},
      {"header past end", huge_len, "runs past the end"},
      {"not json", raw_file("{not json", 0), "not valid JSON"},
      {"json array", raw_file("[1,2]", 0), "not a JSON object"},
      {"no dtype", raw_file(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", 8), "\"w\": missing string \"dtype\""},
      {"no shape", raw_file(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", 8), "missing array \"shape\""},
      {"negative dim", raw_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "negative"},
      {"negative offset", raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", 8),
       "non-negative"},
      {"reversed offsets", raw_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8),
       "end before they begin"},
      {"offset out of range", raw_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
       "outside the data section"},
      {"size mismatch", raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12 bytes"},
      {"overflowing shape",
       raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8), "overflows"},
      {"overlap",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                12),
       "overlapping"},
  };
  for (const auto& c : cases) {
    const std::string err = parse_error(c.bytes);
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.name << ": got \"" << err << "\"";
    EXPECT_NE(err.find("x.safetensors"), std::string::npos) << c.name << ": error does not name the file";
  }
}
