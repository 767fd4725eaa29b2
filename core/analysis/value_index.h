// Per-model store of every value vector's top and bottom tokens (by the exact projection wte·v).
//
// Value vectors are static, so their token lists are computed once and kept: on demand (a trace or
// valueVectors() stores every vector it projects), in the background (fill_value_index in
// core/analysis/value_vectors.h, in interruptible batches, largest ||v|| first), or all at once from
// a value_index.bin file written by `lmdbg index MODEL`. Each entry holds the k = min(16, d_vocab)
// best and worst tokens with their exact scores, so any request for top_k, bottom_k <= k is served
// exactly from the store (topk()'s order is total, so a top-16 list begins with the top-10 list).
// Each entry also keeps the cut of LM-Debugger's top-50: the midpoint between the 50th and 51st
// largest scores, so "token t is among the vector's top 50" is wte[t]·v > cut, one dot product
// (keyword search's LM-Debugger ranking, core/analysis/search.h).
// Memory: 2 * k * 8 + 4 bytes per vector, allocated per layer when its first entry arrives
// (GPT-2 small, all 36,864 vectors: 9.6 MB).
//
// Storage only: the Model owns one (mutable: filling it does not change what any call returns).
// Thread-safe: every access takes the store's mutex.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace lmdbg {

class ValueIndex {
 public:
  static constexpr int kMaxK = 16;
  static constexpr int kTopCut = 50;  // LM-Debugger's top-50


  void init(int n_layers, int d_mlp, int d_vocab);
  int k() const { return k_; }
  int n_layers() const { return n_layers_; }
  int d_mlp() const { return d_mlp_; }

  // Copies the first top_k / bottom_k entries (top_k, bottom_k <= k()); false if absent.
  bool get(int layer, int index, int top_k, int bottom_k, int32_t* top_ids, float* top_scores, int32_t* bottom_ids,
           float* bottom_scores) const;
  bool has(int layer, int index) const;
  // k() entries each (best first; bottom: most negative first); cut: see above.
  void put(int layer, int index, const int32_t* top_ids, const float* top_scores, const int32_t* bottom_ids,
           const float* bottom_scores, float cut);
  // The top-50 cut of every vector of a layer ([d_mlp]; NaN where absent); empty if the layer has none.
  const std::vector<float>& layer_cuts(int l) const { return cuts_[l]; }

  size_t filled() const;
  size_t total() const { return static_cast<size_t>(n_layers_) * d_mlp_; }
  size_t bytes() const;
  void clear();

  // The background fill's position in its priority order (owned here so that it survives calls).
  std::vector<int32_t>& fill_order() { return order_; }
  size_t& fill_cursor() { return cursor_; }
  std::mutex& mutex() const { return mu_; }

  // Raw per-layer slabs for serialisation: [d_mlp][2k] ids and scores (top then bottom); empty if
  // the layer has no entry. filled_ is [L * d_mlp].
  const std::vector<uint8_t>& filled_flags() const { return filled_; }
  const std::vector<int32_t>& layer_ids(int l) const { return ids_[l]; }
  const std::vector<float>& layer_scores(int l) const { return scores_[l]; }

 private:
  void ensure_layer(int l);
  int n_layers_ = 0, d_mlp_ = 0, k_ = 0;
  std::vector<uint8_t> filled_;
  std::vector<std::vector<int32_t>> ids_;
  std::vector<std::vector<float>> scores_;
  std::vector<std::vector<float>> cuts_;
  size_t n_filled_ = 0;
  std::vector<int32_t> order_;
  size_t cursor_ = 0;
  mutable std::mutex mu_;
};

}  // namespace lmdbg
