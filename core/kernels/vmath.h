// Vectorised elementwise math for the forward pass and the trace: exp, softmax, the sum of
// exponentials behind logsumexp, and GPT-2's tanh GELU.
//
//   exp_f32(y, x, n)               y[i] = e^x[i]  (max relative error ~2 ulp; x < -87.3 -> 0, x > 88.7 -> +inf-ish clamp)
//   float m = max_f32(x, n)        the largest element (NaN ignored; -inf for n = 0 or all NaN)
//   double s = sum_exp_f64(x, n, shift)   sum e^(x[i] - shift), each term in f32, summed in f64
//   softmax_f32(x, n)              x = exp(x - max) / sum, in place
//   gelu_tanh_f32(y, x, n)         0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as
//                                  x / (1 + e^(-2u)): the same function, ~2 ulp (no cancellation near 0)
//
// wasm simd128 (the product) and AVX2 use one polynomial exp (Cephes' expf: range reduction by
// ln 2 in two parts, degree-5 polynomial); the scalar fallback runs the same arithmetic lane by
// lane. Scalar libm exp/tanh cost ~30-150 ns per element in wasm (musl's expm1f), which made GELU a
// quarter of a small forward pass.
#pragma once
#include <cstddef>

namespace lmdbg::kernels {

void exp_f32(float* y, const float* x, size_t n);
float max_f32(const float* x, size_t n);
double sum_exp_f64(const float* x, size_t n, float shift);
void softmax_f32(float* x, size_t n);
void gelu_tanh_f32(float* y, const float* x, size_t n);

// The scalar exp of the vector code (same polynomial), for tails and tests.
float exp_poly(float x);

}  // namespace lmdbg::kernels
