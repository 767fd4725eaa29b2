// Shared helpers for native tests: fixture paths, reference dumps, max-diff.
#pragma once
#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>
#include <sstream>
#include <string>

#include "core/io/files.h"
#include "core/io/safetensors.h"

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

inline double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

}  // namespace lmdbg::test
