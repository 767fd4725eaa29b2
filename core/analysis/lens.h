// The logit lens: project residual-stream vectors to vocabulary space.
//   normed: logits = wte · ln_f(x)   (ln_f's own gamma/beta; LM-Debugger's view)
//   raw:    logits = wte · x         (no layer norm)
#pragma once
#include "core/model/model.h"

namespace lmdbg {

// out[n, V] for n residual rows x[n, d] (row stride d). Batched: one GEMM over the unembedding.
void lens_logits(const Model& m, const float* x, int n, bool normed, float* out);

}  // namespace lmdbg
