// q8 checkpoints and q8 storage at the model level (the kernels' bound is tested in kernels_test.cpp):
// `convert_to_q8` writes the format of docs/weights-format.md, a q8 file loads in every storage and
// equals quantizing the f32 file at load, malformed q8 files are refused naming the problem, and q8
// logits stay within the documented distance of f32's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model/convert.h"
#include "core/model/model.h"
#include "test_util.h"

using namespace lmdbg;

namespace {

struct Files {
  std::string config, weights, vocab, merges;
};

Files read_dir(const std::string& variant) {
  const std::string d = test::model_dir(variant) + "/";
  return {test::read_text(d + "config.json"), test::read_text(d + "model.safetensors"), test::read_text(d + "vocab.json"),
          test::read_text(d + "merges.txt")};
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

std::unique_ptr<Session> open(const Files& f, const std::string& weights, kernels::Storage st) {
  LoadOptions opt;
  opt.storage = st;
  io::ModelFiles mf{f.config, bytes(weights), weights.size(), f.vocab, f.merges};
  return std::make_unique<Session>(Model::load(mf, opt));
}

// The safetensors file with its tensor list edited.
std::string rewrite(const std::string& st, const std::function<void(std::vector<io::TensorToWrite>&)>& edit) {
  const auto v = io::parse_safetensors(bytes(st), st.size());
  std::vector<io::TensorToWrite> ts;
  for (const auto& t : v.tensors) ts.push_back({t.name, t.dtype, t.shape, t.data});
  edit(ts);
  return io::write_safetensors(ts);
}

std::string load_error(const Files& f, const std::string& weights, kernels::Storage st = kernels::Storage::kQ8) {
  try {
    open(f, weights, st);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded)";
}

const std::vector<int> kIds = {5, 17, 230, 41, 8, 99, 301, 2, 77, 150, 12, 460, 33, 7, 250, 81};

}  // namespace

TEST(Q8, ConvertWritesTheFormatAndEqualsQuantizingAtLoad) {
  const Files f = read_dir("l4-f32");
  ConvertReport r;
  const std::string q8 = convert_to_q8(bytes(f.weights), f.weights.size(), &r);
  EXPECT_LT(r.bytes_after, 0.3 * r.bytes_before);
  EXPECT_GT(r.max_error, 0);
  const auto v = io::parse_safetensors(bytes(q8), q8.size());
  size_t matrices = 0;
  for (const auto& t : v.tensors) {
    EXPECT_FALSE(t.name.ends_with(".attn.bias")) << t.name;  // mask buffers dropped
    if (t.dtype == io::TensorDType::kI8) {
      ++matrices;
      const auto* s = v.find(t.name + ".q8_scales");
      ASSERT_NE(s, nullptr) << t.name;
      EXPECT_EQ(s->dtype, io::TensorDType::kF16);
      EXPECT_LT(s->begin, t.begin) << t.name << ": its scales come first in the data";
    } else if (!t.name.ends_with(".q8_scales")) {
      EXPECT_EQ(t.dtype, io::TensorDType::kF32) << t.name;
    }
  }
  EXPECT_EQ(matrices, 1u + 4 * 4);  // wte and four per layer

  // The q8 file as stored equals the f32 file quantized at load, bitwise; dequantized into f32 storage
  // it computes the same weights in f32 (close, not bitwise: activations are not quantized there).
  const auto from_file = open(f, q8, kernels::Storage::kQ8)->logits(kIds, true);
  const auto at_load = open(f, f.weights, kernels::Storage::kQ8)->logits(kIds, true);
  ASSERT_EQ(from_file.size(), at_load.size());
  EXPECT_EQ(std::memcmp(from_file.data(), at_load.data(), at_load.size() * 4), 0);
  // A file with every matrix before its scales (the loader keeps the matrix until they come) is the same model.
  const std::string reversed = rewrite(q8, [](auto& ts) { std::reverse(ts.begin(), ts.end()); });
  const auto from_reversed = open(f, reversed, kernels::Storage::kQ8)->logits(kIds, true);
  EXPECT_EQ(std::memcmp(from_reversed.data(), at_load.data(), at_load.size() * 4), 0);
  const auto dequantized = open(f, q8, kernels::Storage::kF32)->logits(kIds, true);
  EXPECT_LT(test::max_abs_diff(dequantized.data(), from_file.data(), from_file.size()), 0.05);
  EXPECT_GT(test::max_abs_diff(dequantized.data(), from_file.data(), from_file.size()), 0);

  // Converting a q8 checkpoint again is refused.
  try {
    convert_to_q8(bytes(q8), q8.size());
    ADD_FAILURE() << "converted a q8 file again";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already q8"), std::string::npos) << e.what();
  }
}

// q8 logits against f32's on the test model (random weights, so some top-1 margins are tiny): the
// largest logit error stays under 3% of the logit range (measured: 1.6%), and the top-1 token is the same wherever f32's
// margin to the runner-up exceeds twice that error (where it must, if the error bound holds).
TEST(Q8, LogitsWithinTheDocumentedBoundOfF32) {
  const Files f = read_dir("l4-f32");
  const auto exact = open(f, f.weights, kernels::Storage::kF32)->logits(kIds, true);
  const auto q = open(f, f.weights, kernels::Storage::kQ8)->logits(kIds, true);
  const int V = 507, T = static_cast<int>(kIds.size());
  double worst = 0, range = 0;
  for (int t = 0; t < T; ++t) {
    const float* a = exact.data() + t * V;
    worst = std::max(worst, test::max_abs_diff(a, q.data() + t * V, V));
    range = std::max(range, static_cast<double>(*std::max_element(a, a + V) - *std::min_element(a, a + V)));
  }
  EXPECT_LT(worst, 0.03 * range) << "largest logit error " << worst << " (logit range " << range << ")";
  int clear = 0;
  for (int t = 0; t < T; ++t) {
    std::vector<float> a(exact.begin() + t * V, exact.begin() + (t + 1) * V);
    const float* b = q.data() + t * V;
    const int top = static_cast<int>(std::max_element(a.begin(), a.end()) - a.begin());
    std::vector<float> sorted = a;
    std::nth_element(sorted.begin(), sorted.begin() + 1, sorted.end(), std::greater<>());
    if (sorted[0] - sorted[1] <= 2 * worst) continue;
    ++clear;
    EXPECT_EQ(std::max_element(b, b + V) - b, top) << "position " << t;
  }
  EXPECT_GE(clear, T / 4) << "too few positions with a clear top-1 to test";
  std::printf("q8 vs f32 on l4-f32: largest logit error %.4g (logit range %.3g), %d of %d positions with a clear top-1\n", worst, range, clear, T);
}

TEST(Q8, MalformedQ8FilesAreRefusedNamingTheProblem) {
  const Files f = read_dir("l4-f32");
  const std::string q8 = convert_to_q8(bytes(f.weights), f.weights.size());
  const std::string w = "h.1.mlp.c_fc.weight";
  const auto find = [&](std::vector<io::TensorToWrite>& ts, const std::string& name) {
    return std::find_if(ts.begin(), ts.end(), [&](const auto& t) { return t.name == name; });
  };
  std::vector<uint8_t> zeros(1 << 20, 0);
  struct Case {
    const char* what;
    std::function<void(std::vector<io::TensorToWrite>&)> edit;
    const char* message;
  };
  const Case cases[] = {
      {"scales missing", [&](auto& ts) { ts.erase(find(ts, w + ".q8_scales")); }, "need their scales"},
      {"scales of the wrong shape", [&](auto& ts) { find(ts, w + ".q8_scales")->shape = {1, 256}; },
       "q8 scales must be F16 [2,256]"},
      {"scales as F32", [&](auto& ts) { auto it = find(ts, w + ".q8_scales"); it->dtype = io::TensorDType::kF32; it->data = zeros.data(); },
       "q8 scales must be F16"},
      {"scales for an F32 matrix",
       [&](auto& ts) { auto it = find(ts, w); it->dtype = io::TensorDType::kF32; it->data = zeros.data(); }, "not I8"},
      {"an I8 bias", [&](auto& ts) { auto it = find(ts, "h.0.ln_1.bias"); it->dtype = io::TensorDType::kI8; },
       "I8 is only supported for the q8 weight matrices"},
      {"scales of an unknown tensor", [&](auto& ts) { ts.push_back({"h.9.mlp.c_fc.weight.q8_scales", io::TensorDType::kF16, {2, 256}, zeros.data()}); },
       "unexpected tensor \"h.9.mlp.c_fc.weight.q8_scales\""},
  };
  for (const auto& c : cases) {
    const std::string e = load_error(f, rewrite(q8, c.edit));
    EXPECT_NE(e.find(c.message), std::string::npos) << c.what << ": " << e;
  }
  // Non-finite scales are caught like non-finite weights.
  const std::string nan = rewrite(q8, [&](auto& ts) {
    auto it = find(ts, w + ".q8_scales");
    it->data = zeros.data();
    const uint16_t h = 0x7e00;
    std::memcpy(zeros.data() + 6, &h, 2);
  });
  EXPECT_NE(load_error(f, nan).find("NaN/Inf"), std::string::npos) << load_error(f, nan);
  // And the file itself still loads in every storage.
  for (auto st : {kernels::Storage::kF32, kernels::Storage::kF16, kernels::Storage::kQ8})
    EXPECT_EQ(load_error(f, q8, st), "(loaded)");
}
