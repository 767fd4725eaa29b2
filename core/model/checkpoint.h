// Checkpoint tensor names -> the roles the engine computes with. The one place where a checkpoint
// family's names appear: the loader (weights.cpp) reads this map and nothing else. A second model
// family is a second map (plus config flags), not edits across core/.
//
// Roles are named as TransformerLens names weights (W_E, W_pos, W_Q/K/V as one W_QKV, W_O, W_in,
// W_out, W_U). Shapes are the checkpoint's, in PyTorch order.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/config.h"

namespace lmdbg {

enum class Role {
  kW_E,        // token embedding [V, d]; the unembedding W_U is tied to it
  kW_pos,      // position embedding [n_ctx, d]
  kLnFinalW,   // final layer norm gamma [d]
  kLnFinalB,   // final layer norm beta [d]
  kLn1W, kLn1B,   // per layer, before attention [d]
  kW_QKV, kB_QKV, // [d, 3d] (q | k | v, heads side by side in each) and [3d]
  kW_O, kB_O,     // [d, d], [d]
  kLn2W, kLn2B,   // per layer, before the MLP [d]
  kW_in, kB_in,   // [d, d_mlp], [d_mlp]
  kW_out, kB_out, // [d_mlp, d] (row i = value vector v_i), [d]
};

struct CheckpointTensor {
  std::string name;            // as the checkpoint names it, without an optional prefix
  Role role;
  int layer;                   // -1 for global tensors
  std::vector<int64_t> shape;  // expected
};

// Every tensor a Hugging Face GPT-2 checkpoint (model.safetensors) must hold for this config.
std::vector<CheckpointTensor> gpt2_tensors(const Config& c);
// A name prefix that may precede every key ("transformer."), or "".
std::string_view gpt2_strip_prefix(std::string_view key);
// Keys that a GPT-2 checkpoint may carry and the engine ignores: attention-mask buffers and the
// lm_head tied to wte. `key` is without the prefix.
bool gpt2_ignored(std::string_view key);

// q8 checkpoints (docs/weights-format.md): a matrix stored as I8 carries its f16 scales, one per block
// of 32 along the matrix's input dimension K, in the tensor named key + kQ8ScalesSuffix.
inline constexpr std::string_view kQ8ScalesSuffix = ".q8_scales";
// For a key (without the prefix): the dimension along which its q8 blocks run (0: the matrices
// [K, N] of the layers; 1: wte [V, K]), or -1 if the tensor is not quantized.
int gpt2_q8_block_dim(std::string_view key);

}  // namespace lmdbg
