#pragma once

namespace lmdbg::ops {

// Causal multi-head self-attention over a KV cache.
//   out     [T, d]          concatenated heads (before c_proj): hook_z
//   scores  [H, T, P+T]     q·k/sqrt(dh) before the softmax, -inf where masked (hook_attn_scores), or null
//   pattern [H, T, P+T]     softmax weights (0 where masked), or null to skip storing them
//   q       [T, ldq]        queries of the T new positions (head h at columns h*dh)
//   k, v    [P+T, ldkv]     keys/values of all positions so far (the cache)
// New position t (absolute P+t) attends to keys 0..P+t, scaled by 1/sqrt(dh).
void attention_forward(float* out, float* scores, float* pattern, const float* q, int ldq, const float* k, const float* v,
                       int ldkv, int T, int P, int H, int dh);

}  // namespace lmdbg::ops
