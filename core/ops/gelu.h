#pragma once
#include <cstddef>

namespace lmdbg::ops {

// GPT-2's tanh GELU ("gelu_new"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
float gelu(float x);
// out[n] = gelu(inp[n]); out may alias inp.
void gelu_forward(float* out, const float* inp, size_t n);

}  // namespace lmdbg::ops
