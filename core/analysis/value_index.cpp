#include "value_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace lmdbg {

void ValueIndex::init(int n_layers, int d_mlp, int d_vocab) {
  std::lock_guard<std::mutex> lock(mu_);
  n_layers_ = n_layers;
  d_mlp_ = d_mlp;
  k_ = std::min(kMaxK, d_vocab);
  filled_.assign(static_cast<size_t>(n_layers) * d_mlp, 0);
  ids_.assign(n_layers, {});
  scores_.assign(n_layers, {});
  cuts_.assign(n_layers, {});
  n_filled_ = 0;
  order_.clear();
  cursor_ = 0;
}

void ValueIndex::ensure_layer(int l) {
  if (ids_[l].empty()) {
    ids_[l].assign(static_cast<size_t>(d_mlp_) * 2 * k_, 0);
    scores_[l].assign(static_cast<size_t>(d_mlp_) * 2 * k_, 0.f);
    cuts_[l].assign(d_mlp_, NAN);
  }
}

bool ValueIndex::has(int layer, int index) const {
  std::lock_guard<std::mutex> lock(mu_);
  return filled_[static_cast<size_t>(layer) * d_mlp_ + index] != 0;
}

bool ValueIndex::get(int layer, int index, int top_k, int bottom_k, int32_t* top_ids, float* top_scores,
                     int32_t* bottom_ids, float* bottom_scores) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (top_k > k_ || bottom_k > k_ || !filled_[static_cast<size_t>(layer) * d_mlp_ + index]) return false;
  const size_t o = static_cast<size_t>(index) * 2 * k_;
  const int32_t* ids = ids_[layer].data() + o;
  const float* sc = scores_[layer].data() + o;
  std::copy_n(ids, top_k, top_ids);
  std::copy_n(sc, top_k, top_scores);
  std::copy_n(ids + k_, bottom_k, bottom_ids);
  std::copy_n(sc + k_, bottom_k, bottom_scores);
  return true;
}

void ValueIndex::put(int layer, int index, const int32_t* top_ids, const float* top_scores, const int32_t* bottom_ids,
                     const float* bottom_scores, float cut) {
  std::lock_guard<std::mutex> lock(mu_);
  ensure_layer(layer);
  cuts_[layer][index] = cut;
  const size_t o = static_cast<size_t>(index) * 2 * k_;
  std::copy_n(top_ids, k_, ids_[layer].data() + o);
  std::copy_n(top_scores, k_, scores_[layer].data() + o);
  std::copy_n(bottom_ids, k_, ids_[layer].data() + o + k_);
  std::copy_n(bottom_scores, k_, scores_[layer].data() + o + k_);
  uint8_t& f = filled_[static_cast<size_t>(layer) * d_mlp_ + index];
  if (!f) ++n_filled_;
  f = 1;
}

size_t ValueIndex::filled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return n_filled_;
}

size_t ValueIndex::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t b = filled_.size() + order_.size() * 4;
  for (size_t l = 0; l < ids_.size(); ++l) b += ids_[l].size() * 4 + scores_[l].size() * 4 + cuts_[l].size() * 4;
  return b;
}

void ValueIndex::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  std::fill(filled_.begin(), filled_.end(), 0);
  for (auto& v : ids_) std::vector<int32_t>().swap(v);
  for (auto& v : scores_) std::vector<float>().swap(v);
  for (auto& v : cuts_) std::vector<float>().swap(v);
  n_filled_ = 0;
  cursor_ = 0;
}

}  // namespace lmdbg
