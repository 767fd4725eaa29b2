// Value vectors (LM-Debugger): v[l][i] = row i of blocks.{l}.mlp.c_proj.weight, projected to the
// vocabulary without layer norm: r = wte · v. The FFN output is sum_i m_i v_i + b.
#pragma once
#include <vector>

#include "core/analysis/tokens.h"
#include "core/model/model.h"

namespace lmdbg {

struct ValueVectorRef {
  int layer = 0;
  int index = 0;
};

struct ValueVectorTokens {
  int layer = 0, index = 0;
  float norm = 0.f;                 // ||v||_2
  std::vector<TokenScore> top;      // largest logits of wte·v
  std::vector<TokenScore> bottom;   // smallest, most negative first
};

// Projects all refs in one batched GEMM. bottom_k may be 0. Throws on out-of-range refs.
std::vector<ValueVectorTokens> value_vector_tokens(const Model& m, const std::vector<ValueVectorRef>& refs, int top_k,
                                                   int bottom_k);

// r = wte · v for one value vector (V floats).
std::vector<float> value_projection(const Model& m, int layer, int index);

// "L12D34" <-> {12, 34}. parse throws Error(kInvalidArgument) on other text.
std::string value_vector_name(int layer, int index);
ValueVectorRef parse_value_vector_name(const std::string& s);

}  // namespace lmdbg
