// GPT-2 parameters, packed once at load for the GEMM kernels. PyTorch dimension order throughout.
#pragma once
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/io/config.h"
#include "core/io/safetensors.h"
#include "core/kernels/gemm.h"

namespace lmdbg {

struct LoadOptions {
  kernels::Storage storage = kernels::Storage::kF32;  // kF16 halves weight memory; compute stays f32
  size_t memory_limit = 0;  // bytes available for weights; 0 = unlimited. Checked before allocating.
  bool check_finite = true;  // reject NaN/Inf weights
};

struct LayerWeights {
  std::vector<float> ln1_g, ln1_b;  // [d]
  kernels::PackedMatrix c_attn;     // attn.c_attn  [d, 3d] + bias
  kernels::PackedMatrix attn_proj;  // attn.c_proj  [d, d] + bias
  std::vector<float> ln2_g, ln2_b;  // [d]
  kernels::PackedMatrix c_fc;       // mlp.c_fc     [d, d_mlp] + bias
  kernels::PackedMatrix mlp_proj;   // mlp.c_proj   [d_mlp, d] + bias; row i = value vector v_i
  std::vector<float> value_norms;   // [d_mlp] ||v_i||_2
};

struct Weights {
  kernels::PackedMatrix unembed;    // wte^T [d, V]; col(t) is the embedding of token t
  std::vector<float> wpe;           // [n_ctx, d]
  std::vector<LayerWeights> layers;
  std::vector<float> lnf_g, lnf_b;  // [d]
  size_t bytes() const;
};

// Bytes the packed weights will take, computed from the config alone (saturates at SIZE_MAX).
size_t estimate_weight_bytes(const Config& c, kernels::Storage storage);

// Throws Error(kOutOfMemory) naming the size when the weights would exceed opt.memory_limit.
void check_weight_memory(const Config& c, const LoadOptions& opt);

// Packs a checkpoint as it arrives: the header first (every tensor is checked against the config by
// presence, dtype and shape before any data), then the data section in file order, in chunks of any
// size. A tensor that spans chunks is staged; everything else is packed straight from the chunk,
// so the peak is the packed weights plus the largest tensor, not the whole file. Accepts an
// optional "transformer." key prefix; ignores attn.bias / attn.masked_bias buffers and a tied
// lm_head.weight. Error messages use the file's own tensor names.
class WeightsBuilder {
 public:
  WeightsBuilder(const Config& c, const io::SafeTensorsView& header, const LoadOptions& opt);
  // The next n bytes of the data section (the bytes after the header).
  void feed(const uint8_t* data, size_t n);
  uint64_t received() const { return pos_; }
  uint64_t expected() const { return end_; }  // data bytes the model's tensors span
  Weights finish();  // throws if tensors are still missing data

 private:
  struct Job {
    io::TensorInfo info;
    std::string key;  // name without the prefix
  };
  void consume(const std::string& key, const io::TensorInfo& t);

  Config c_;
  LoadOptions opt_;
  Weights w_;
  std::vector<Job> jobs_;  // by data offset
  size_t next_ = 0;
  uint64_t pos_ = 0, end_ = 0;
  std::vector<uint8_t> staging_;
  uint64_t staged_ = 0;
  std::map<std::string, std::vector<float>> pending_bias_;  // biases that arrived before their weight
  std::set<std::string> packed_;                            // bias keys whose weight is packed
};

// The whole file at once.
Weights load_weights(const Config& c, const uint8_t* file, size_t size, const LoadOptions& opt);

}  // namespace lmdbg
