// Token-by-token generation over the KV cache, with interventions active at every step.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "core/interventions/intervention.h"
#include "core/model/forward.h"

namespace lmdbg {

struct Sampling {
  bool greedy = true;
  float temperature = 1.f;  // > 0
  int top_k = 0;            // 0 = whole vocabulary
  uint64_t seed = 0;
};

// Picks the next token from logits. Deterministic for a seed, identical natively and in wasm
// (mt19937_64 is fully specified; the float conversion is ours).
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

class Generator {
 public:
  // Validates everything up front; `on` interventions are resolved against the clean prompt.
  Generator(const Model& model, std::span<const int> prompt, const Interventions& ivs, const Sampling& sampling);
  // Runs one step and returns the new token. Throws Error(kState) once the context is full.
  int next();
  int remaining() const;  // positions left in the context
  const std::vector<int>& tokens() const { return tokens_; }  // prompt + generated
  const Interventions& interventions() const { return ivs_; }

 private:
  const Model& model_;
  State state_;
  Interventions ivs_;
  Sampler sampler_;
  std::vector<int> tokens_;
  size_t fed_ = 0;  // tokens already in the cache
};

}  // namespace lmdbg
