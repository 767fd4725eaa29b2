// GPT-2 parameters, packed once at load for the GEMM kernels. PyTorch dimension order throughout.
#pragma once
#include <cstddef>
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

// Bytes the packed weights will take, computed from the config alone.
size_t estimate_weight_bytes(const Config& c, kernels::Storage storage);

// Validates presence, dtype and shape of every tensor against the config (names in errors are
// the file's own keys) and packs them. Accepts an optional "transformer." key prefix; ignores the
// attn.bias / attn.masked_bias buffers and a tied lm_head.weight.
Weights load_weights(const Config& c, const io::SafeTensorsView& st, const LoadOptions& opt);

}  // namespace lmdbg
