#pragma once
#include "core/kernels/gemm.h"

namespace lmdbg::ops {

// Each head's output through its own rows of W_O (TransformerLens's hook_result):
//   out [T, H, d]   out[t, h, :] = z[t, h*dh .. (h+1)*dh) · W_O[h*dh .. (h+1)*dh, :], no bias
//   z   [T, ldz]    concatenated heads (hook_z), head h at columns h*dh
// Summed over h, plus b_O, it is W_O's GEMM (hook_attn_out) up to f32 rounding. Each head's rows
// are decoded once (kernels::copy_rows) and applied to all T positions.
void head_result(float* out, const float* z, int ldz, const kernels::PackedMatrix& W_O, int T, int H, int dh);

// attn_out[t, :] = b_O + sum_h result[t, h, :]: the attention's output from edited results.
void sum_heads(float* attn_out, const float* result, const kernels::PackedMatrix& W_O, int T, int H);

}  // namespace lmdbg::ops
