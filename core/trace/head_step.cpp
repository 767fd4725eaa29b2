// The trace's head step: each attention head's output at a traced position, as LM-Debugger shows an
// FFN sub-update (docs/trace-schema.md, "heads").
#include <algorithm>
#include <cmath>

#include "core/analysis/value_vectors.h"
#include "core/kernels/topk.h"
#include "core/ops/head_result.h"
#include "trace.h"

namespace lmdbg {

int trace_heads(const TraceOptions& opt, const Config& c) {
  if (opt.heads >= 0) return opt.heads;
  return c.n_layers * c.n_heads <= 64 ? c.n_heads : std::min(3, c.n_heads);
}

void head_step(const State& st, int p, int predicted, int n, int top_k, std::vector<LayerTrace>& layers) {
  if (n <= 0) return;
  const Model& m = st.model();
  const Config& c = m.config();
  const int d = c.d_model, H = c.n_heads, dh = c.d_head();
  std::vector<float> result(static_cast<size_t>(H) * d), norm(H), e_pred(d), kept;
  std::vector<int> order(H);
  m.embedding(predicted, e_pred.data());
  for (auto& lt : layers) {
    const float* z = st.hook(Hook::kZ, lt.layer) + static_cast<size_t>(p) * d;
    ops::head_result(result.data(), z, d, m.weights().layers[lt.layer].W_O, 1, H, dh);
    for (int h = 0; h < H; ++h) {
      const float* rh = result.data() + static_cast<size_t>(h) * d;
      double ss = 0;
      for (int q = 0; q < d; ++q) ss += static_cast<double>(rh[q]) * rh[q];
      norm[h] = static_cast<float>(std::sqrt(ss));
    }
    const int k = kernels::topk(norm.data(), H, std::min(n, H), order.data());
    for (int r = 0; r < k; ++r) {
      const int h = order[r];
      const float* rh = result.data() + static_cast<size_t>(h) * d;
      double dot = 0;
      for (int q = 0; q < d; ++q) dot += static_cast<double>(rh[q]) * e_pred[q];
      lt.heads.push_back({lt.layer, h, norm[h], static_cast<float>(dot), {}, {}});
      kept.insert(kept.end(), rh, rh + d);
    }
  }
  if (top_k <= 0) return;
  // Every layer's kept heads onto the vocabulary in one batch.
  std::vector<std::vector<TokenScore>> top, bottom;
  project_top_bottom(m, kept.data(), static_cast<int>(kept.size() / d), top_k, top_k, top, bottom);
  size_t j = 0;
  for (auto& lt : layers)
    for (auto& hu : lt.heads) {
      hu.top = std::move(top[j]);
      hu.bottom = std::move(bottom[j]);
      ++j;
    }
}

}  // namespace lmdbg
