#include "lens.h"

#include <vector>

#include "core/kernels/gemm.h"
#include "core/ops/layernorm.h"

namespace lmdbg {

void lens_logits(const Model& m, const float* x, int n, bool normed, float* out) {
  const Config& c = m.config();
  const Weights& w = m.weights();
  const float* rows = x;
  std::vector<float> ln;
  if (normed) {
    ln.resize(static_cast<size_t>(n) * c.d_model);
    ops::layernorm(ln.data(), x, w.ln_final_w.data(), w.ln_final_b.data(), n, c.d_model, c.ln_eps);
    rows = ln.data();
  }
  kernels::gemm(out, c.d_vocab, rows, c.d_model, n, w.W_U);
}

}  // namespace lmdbg
