#include "gelu.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "core/kernels/parallel.h"
#include "core/kernels/vmath.h"

namespace lmdbg::ops {

float gelu(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

// Vectorised: x / (1 + e^(-2u)) is the same function as 0.5 x (1 + tanh(u)) (tanh(u) = 2σ(2u) - 1),
// ~2 ulp, without libm's scalar tanh (musl's expm1f: a quarter of a small model's forward in wasm).
// Element-wise, in chunks that are whole SIMD vectors: the same bits for any split over threads.
void gelu_forward(float* out, const float* inp, size_t n) {
  constexpr size_t kChunk = 1 << 14;  // tens of microseconds per task
  const size_t tasks = (n + kChunk - 1) / kChunk;
  if (tasks <= 1) {
    kernels::gelu_tanh_f32(out, inp, n);
    return;
  }
  kernels::parallel_for(static_cast<int>(tasks), [&](int i) {
    const size_t a = static_cast<size_t>(i) * kChunk;
    kernels::gelu_tanh_f32(out + a, inp + a, std::min(kChunk, n - a));
  });
}

}  // namespace lmdbg::ops
