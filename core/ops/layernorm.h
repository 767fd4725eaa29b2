#pragma once

namespace lmdbg::ops {

// out[T,C] = (inp - mean) / sqrt(var + eps) * g + b, per row. out may alias inp.
void layernorm(float* out, const float* inp, const float* g, const float* b, int T, int C, float eps);

}  // namespace lmdbg::ops
