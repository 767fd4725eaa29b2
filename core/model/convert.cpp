#include "convert.h"

#include <vector>

#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/kernels/fp16.h"

namespace lmdbg {

std::string convert_to_f16(const uint8_t* data, size_t size, ConvertReport* report) {
  using io::TensorDType;
  const auto st = io::parse_safetensors(data, size);
  std::vector<std::vector<uint16_t>> halves;
  std::vector<io::TensorToWrite> out;
  halves.reserve(st.tensors.size());
  ConvertReport r;
  for (const auto& t : st.tensors) {
    const bool mask = t.name.ends_with(".attn.bias") || t.name.ends_with(".attn.masked_bias");
    const bool is_float = t.dtype == TensorDType::kF32 || t.dtype == TensorDType::kF64 ||
                          t.dtype == TensorDType::kF16 || t.dtype == TensorDType::kBF16;
    if (mask || !is_float) continue;
    const std::vector<float> v = io::tensor_to_f32(t);
    auto& h = halves.emplace_back(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      h[i] = kernels::f32_to_f16(v[i]);
      if ((h[i] & 0x7c00u) == 0x7c00u)
        bad_file("convert: tensor " + t.name + " holds " + std::to_string(v[i]) + " at flat index " + std::to_string(i) +
                 ", beyond F16's range (65504): keep this model in F32");
      r.flushed_to_zero += v[i] != 0.f && (h[i] & 0x7fffu) == 0;
    }
    r.weights += v.size();
    out.push_back({t.name, TensorDType::kF16, t.shape, h.data()});
  }
  std::string bytes = io::write_safetensors(out, {{"format", "pt"}, {"producer", "lmdbg convert"}});
  r.tensors = out.size();
  r.bytes_before = size;
  r.bytes_after = bytes.size();
  if (report) *report = r;
  return bytes;
}

}  // namespace lmdbg
