#include "gelu.h"

#include <cmath>
#include <cstddef>

#include "core/kernels/vmath.h"

namespace lmdbg::ops {

float gelu(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

// Vectorised: x / (1 + e^(-2u)) is the same function as 0.5 x (1 + tanh(u)) (tanh(u) = 2σ(2u) - 1),
// ~2 ulp, without libm's scalar tanh (musl's expm1f: a quarter of a small model's forward in wasm).
void gelu_forward(float* out, const float* inp, size_t n) { kernels::gelu_tanh_f32(out, inp, n); }

}  // namespace lmdbg::ops
