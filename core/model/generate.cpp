#include "generate.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/interventions/resolve.h"

namespace lmdbg {

Sampler::Sampler(const Sampling& s) : s_(s), rng_(s.seed) {
  if (!s.greedy && !(s.temperature > 0.f && std::isfinite(s.temperature)))
    invalid("sampling: temperature must be a positive number");
  if (s.top_k < 0) invalid("sampling: top_k must be >= 0");
}

int Sampler::pick(const float* logits, int n) {
  if (s_.greedy) return argmax(logits, n);
  const int k = s_.top_k > 0 ? std::min(s_.top_k, n) : n;
  idx_.resize(n);
  for (int i = 0; i < n; ++i) idx_[i] = i;
  // NaN logits (a hostile checkpoint or an extreme intervention can produce them) rank last: a
  // comparator that is not a strict weak order is undefined behaviour for std::sort / nth_element.
  auto key = [&](int i) { return std::isnan(logits[i]) ? -INFINITY : logits[i]; };
  auto by_logit = [&](int a, int b) { return key(a) > key(b) || (key(a) == key(b) && a < b); };
  if (k < n) {
    std::nth_element(idx_.begin(), idx_.begin() + k, idx_.end(), by_logit);
    idx_.resize(k);
  }
  std::sort(idx_.begin(), idx_.end(), by_logit);
  p_.resize(idx_.size());
  const float mx = key(idx_[0]);
  if (!std::isfinite(mx)) return idx_[0];  // +inf wins outright; no finite logit at all: the first id
  double sum = 0;
  for (size_t i = 0; i < idx_.size(); ++i) {
    p_[i] = std::exp((key(idx_[i]) - mx) / s_.temperature);
    sum += p_[i];
  }
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * sum;
  double acc = 0;
  for (size_t i = 0; i < idx_.size(); ++i) {
    acc += p_[i];
    if (u < acc) return idx_[i];
  }
  return idx_.back();
}

Generator::Generator(const Model& model, std::span<const int> prompt, const Interventions& ivs, const Sampling& s)
    : model_(model), state_(model), sampler_(s), tokens_(prompt.begin(), prompt.end()) {
  const Config& c = model.config();
  if (prompt.empty()) invalid("generate: the prompt is empty");
  if (static_cast<int>(prompt.size()) > c.n_ctx)
    invalid("generate: prompt of " + std::to_string(prompt.size()) + " tokens exceeds the model's context of " +
            std::to_string(c.n_ctx));
  model.check_tokens(prompt.data(), prompt.size());
  ivs_ = resolve_on(model, prompt, ivs);
  validate_interventions(ivs_, c.n_layers, c.d_mlp, c.n_ctx);
}

int Generator::remaining() const { return model_.config().n_ctx - static_cast<int>(tokens_.size()); }

int Generator::next() {
  if (remaining() <= 0)
    fail(ErrorCode::kState, "generate: the context of " + std::to_string(model_.config().n_ctx) +
                                " tokens is full; no more tokens can be generated");
  ForwardOptions opt;
  opt.interventions = &ivs_;
  state_.forward(std::span<const int>(tokens_).subspan(fed_), opt);
  fed_ = tokens_.size();
  const int tok = sampler_.pick(state_.logits(), model_.config().d_vocab);
  tokens_.push_back(tok);
  return tok;
}

}  // namespace lmdbg
