#include "sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

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

Sampling sampling_from_json(const io::json& j) {
  if (!j.is_object()) invalid("sampling options: expected an object");
  io::json_known_keys(j, {"greedy", "temperature", "topK", "seed"}, "sampling options");
  Sampling s;
  if (const auto* v = io::json_field(j, "greedy")) s.greedy = io::json_bool(*v, "sampling options: greedy");
  if (const auto* v = io::json_field(j, "temperature")) s.temperature = io::json_float(*v, "sampling options: temperature");
  if (const auto* v = io::json_field(j, "topK")) s.top_k = io::json_int(*v, "sampling options: topK", 0);
  if (const auto* v = io::json_field(j, "seed")) {
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0))
      invalid("sampling options: seed must be a non-negative integer");
    s.seed = v->get<uint64_t>();
  }
  return s;
}

int argmax(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

}  // namespace lmdbg
