// Converting a checkpoint's storage (lmdbg convert): the same tensors, names and shapes with a smaller
// encoding, so that a page can offer a smaller download. Attention-mask buffers (attn.bias,
// attn.masked_bias) are dropped: every GPT-2 loader rebuilds them.
//   f16: every floating-point weight as F16 (round to nearest even, subnormals kept).
//   q8:  the weight matrices (wte and the layers' c_attn, c_proj, c_fc) as I8 with F16 scales per block
//        of 32 along K (docs/weights-format.md), exactly as `dtype: 'q8'` quantizes at load; the
//        other tensors (biases, layer norms, wpe) as F32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace lmdbg {

struct ConvertReport {
  size_t tensors = 0, weights = 0;
  size_t flushed_to_zero = 0;  // nonzero values stored as zero
  double max_error = 0;        // largest |stored - source| of a weight
  uint64_t bytes_before = 0, bytes_after = 0;
};

// The new model.safetensors. Throws Error(kBadFile) naming a tensor that holds a value the encoding
// cannot hold (f16: beyond 65504; q8: a block whose largest |w| exceeds 127 * 65504).
std::string convert_to_f16(const uint8_t* safetensors, size_t size, ConvertReport* report = nullptr);
std::string convert_to_q8(const uint8_t* safetensors, size_t size, ConvertReport* report = nullptr);

}  // namespace lmdbg
