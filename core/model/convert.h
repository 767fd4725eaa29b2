// Converting a checkpoint's storage (lmdbg convert): the same tensors, names and shapes with every
// floating-point weight stored as F16 (round to nearest even, subnormals kept), so that a page can
// offer a half-size download. Attention-mask buffers (attn.bias, attn.masked_bias) are dropped: every
// GPT-2 loader rebuilds them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace lmdbg {

struct ConvertReport {
  size_t tensors = 0, weights = 0;
  size_t flushed_to_zero = 0;  // nonzero values below F16's smallest subnormal
  uint64_t bytes_before = 0, bytes_after = 0;
};

// The new model.safetensors. Throws Error(kBadFile) naming a tensor that holds a value beyond F16's
// range (65504).
std::string convert_to_f16(const uint8_t* safetensors, size_t size, ConvertReport* report = nullptr);

}  // namespace lmdbg
