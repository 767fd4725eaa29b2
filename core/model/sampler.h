// Choosing the next token from logits: greedy, or temperature + top-k sampling with a portable RNG.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "core/io/json.h"

namespace lmdbg {

struct Sampling {
  bool greedy = true;
  float temperature = 1.f;  // > 0
  int top_k = 0;            // 0 = whole vocabulary
  uint64_t seed = 0;
};

// {"greedy", "temperature", "topK", "seed"}, every key optional.
Sampling sampling_from_json(const io::json& j);

// Deterministic for a seed, identical natively and in wasm (mt19937_64 is fully specified; the
// float conversion is ours).
class Sampler {
 public:
  explicit Sampler(const Sampling& s);
  int pick(const float* logits, int n);

 private:
  Sampling s_;
  std::mt19937_64 rng_;
  std::vector<int> idx_;
  std::vector<float> p_;
};

int argmax(const float* x, int n);

}  // namespace lmdbg
