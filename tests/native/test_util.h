// Shared helpers for native tests: fixture paths, reference dumps, max-diff.
#pragma once
#include <cmath>
#include <gtest/gtest.h>
#include <cstdint>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>
#include <sstream>
#include <string>

#include "core/io/files.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "core/session/session.h"

namespace lmdbg::test {

inline std::string source_path(const std::string& rel) { return std::string(LMDBG_SOURCE_DIR) + "/" + rel; }
inline std::string model_dir(const std::string& variant) { return source_path("tests/fixtures/models/" + variant); }

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A reference dump: tests/fixtures/ref/<variant>.{json,safetensors}.
struct Reference {
  nlohmann::json meta;
  io::FileBytes bytes;
  io::SafeTensorsView tensors;

  explicit Reference(const std::string& variant) {
    meta = nlohmann::json::parse(read_text(source_path("tests/fixtures/ref/" + variant + ".json")));
    bytes = io::FileBytes::read(source_path("tests/fixtures/ref/" + variant + ".safetensors"));
    tensors = io::parse_safetensors(bytes.data(), bytes.size(), variant + ".safetensors");
  }
  const float* f32(const std::string& name, size_t* n = nullptr) const {
    const auto* t = tensors.find(name);
    if (!t) throw std::runtime_error("reference tensor missing: " + name);
    if (n) *n = t->numel();
    return reinterpret_cast<const float*>(t->data);
  }
  bool has(const std::string& name) const { return tensors.find(name) != nullptr; }
};

// n samples of N(0, sd^2), deterministic for a seed.
inline std::vector<float> randn(size_t n, uint32_t seed, float sd = 1.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> dist(0.f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(g);
  return v;
}

// Equal infinities count as equal (attn.hook_attn_scores is -inf where masked); a NaN or a lone
// infinity makes the difference infinite.
inline double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    m = std::isnan(d) ? INFINITY : std::max(m, d);
  }
  return m;
}

constexpr double kRefTol = 1e-4;  // max |diff| against the float64 PyTorch reference

// Ranked lists must agree in value at every rank; ids may only differ inside a near tie.
template <typename Got>
inline void expect_ranked(const Got& got, const nlohmann::json& want, const char* key, const std::string& where, double* worst) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = want[i][key].get<double>();
    const double d = std::fabs(got[i].second - w);
    *worst = std::max(*worst, d);
    EXPECT_LT(d, kRefTol) << where << " rank " << i;
    const bool tie = (i > 0 && std::fabs(want[i - 1][key].get<double>() - w) < 2 * kRefTol) ||
                     (i + 1 < want.size() && std::fabs(want[i + 1][key].get<double>() - w) < 2 * kRefTol);
    if (!tie) EXPECT_EQ(got[i].first, want[i]["id"].get<int>()) << where << " rank " << i;
  }
}

inline std::vector<std::pair<int, double>> pairs(const std::vector<TokenScore>& ts, bool prob) {
  std::vector<std::pair<int, double>> out;
  for (const auto& t : ts) out.push_back({t.id, prob ? t.prob : t.logit});
  return out;
}

// A session on a fixture model.
inline std::unique_ptr<Session> session(const std::string& variant, const LoadOptions& opt = {}) {
  return std::make_unique<Session>(Model::load_dir(model_dir(variant), opt));
}

// Caller JSON as the bindings read it: text parsed once, then the core reader.
inline Interventions interventions_text(std::string_view text) {
  return interventions_from_json(io::parse_json(text, "interventions"));
}
inline TraceOptions trace_options_text(std::string_view text) {
  return trace_options_from_json(io::parse_json(text, "trace options", ErrorCode::kInvalidArgument, "{}"));
}
inline std::string trace_text(const Session& s, const Trace& t, bool attention = false) {
  return trace_to_json(s.model(), t, attention).dump(-1, ' ', false, io::ojson::error_handler_t::replace);
}

// The reference dumps' interventions ({layer, index, mode, value, positions}).
inline Interventions reference_interventions(const nlohmann::json& a) { return interventions_from_json(a); }

inline std::vector<int> case_ids(const Reference& ref, const std::string& name) {
  for (const auto& c : ref.meta["cases"])
    if (c["name"] == name) return c["ids"].get<std::vector<int>>();
  throw std::runtime_error("no case " + name);
}

// Forward passes that f() costs (the session's counter; the cost rule of docs/ARCHITECTURE.md).
template <typename F>
uint64_t passes(Session& s, F&& f) {
  const uint64_t before = s.forward_passes();
  f();
  return s.forward_passes() - before;
}

}  // namespace lmdbg::test
