#include "convert.h"

#include <cmath>
#include <deque>
#include <vector>

#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/kernels/fp16.h"
#include "core/kernels/q8.h"
#include "core/model/checkpoint.h"

namespace lmdbg {

namespace {

using io::TensorDType;

bool is_mask(const std::string& name) { return name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias"); }

bool is_float(TensorDType t) {
  return t == TensorDType::kF32 || t == TensorDType::kF64 || t == TensorDType::kF16 || t == TensorDType::kBF16;
}

// Converting a q8 checkpoint again would lose its scales.
io::SafeTensorsView parse_source(const uint8_t* data, size_t size) {
  auto st = io::parse_safetensors(data, size);
  for (const auto& t : st.tensors)
    if (t.name.ends_with(kQ8ScalesSuffix))
      bad_file("convert: the model is already q8 (tensor " + t.name + "): convert from its f32 or f16 checkpoint");
  return st;
}

std::string finish(const std::vector<io::TensorToWrite>& out, const char* producer, size_t size, ConvertReport& r,
                   ConvertReport* report) {
  std::string bytes = io::write_safetensors(out, {{"format", "pt"}, {"producer", producer}});
  r.bytes_before = size;
  r.bytes_after = bytes.size();
  if (report) *report = r;
  return bytes;
}

}  // namespace

std::string convert_to_f16(const uint8_t* data, size_t size, ConvertReport* report) {
  const auto st = parse_source(data, size);
  std::deque<std::vector<uint16_t>> halves;
  std::vector<io::TensorToWrite> out;
  ConvertReport r;
  for (const auto& t : st.tensors) {
    if (is_mask(t.name) || !is_float(t.dtype)) continue;
    const std::vector<float> v = io::tensor_to_f32(t);
    auto& h = halves.emplace_back(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      h[i] = kernels::f32_to_f16(v[i]);
      if ((h[i] & 0x7c00u) == 0x7c00u)
        bad_file("convert: tensor " + t.name + " holds " + std::to_string(v[i]) + " at flat index " + std::to_string(i) +
                 ", beyond F16's range (65504): keep this model in F32");
      r.flushed_to_zero += v[i] != 0.f && (h[i] & 0x7fffu) == 0;
      r.max_error = std::max(r.max_error, static_cast<double>(std::fabs(kernels::f16_to_f32(h[i]) - v[i])));
    }
    r.weights += v.size();
    out.push_back({t.name, TensorDType::kF16, t.shape, h.data()});
  }
  r.tensors = out.size();
  return finish(out, "lmdbg convert", size, r, report);
}

std::string convert_to_q8(const uint8_t* data, size_t size, ConvertReport* report) {
  const auto st = parse_source(data, size);
  std::deque<std::vector<float>> floats;
  std::deque<std::vector<int8_t>> qs;
  std::deque<std::vector<uint16_t>> scales;
  std::vector<io::TensorToWrite> out;
  ConvertReport r;
  for (const auto& t : st.tensors) {
    if (is_mask(t.name) || !is_float(t.dtype)) continue;
    const std::vector<float> v = io::tensor_to_f32(t);
    r.weights += v.size();
    const int dim = gpt2_q8_block_dim(gpt2_strip_prefix(t.name));
    if (dim < 0 || t.shape.size() != 2) {
      out.push_back({t.name, TensorDType::kF32, t.shape, floats.emplace_back(v).data()});
      continue;
    }
    // Blocks of 32 along dim: element (i, j) of [R, C] is at i * C + j; k runs along dim, n along the other.
    const size_t R = t.shape[0], C = t.shape[1];
    const size_t K = dim == 0 ? R : C, N = dim == 0 ? C : R, nb = kernels::q8_blocks(K);
    const auto at = [&](size_t k, size_t n) { return dim == 0 ? k * C + n : n * C + k; };
    auto& q = qs.emplace_back(v.size());
    auto& s = scales.emplace_back(nb * N);
    std::vector<int64_t> sshape = t.shape;
    sshape[dim] = static_cast<int64_t>(nb);
    for (size_t n = 0; n < N; ++n)
      for (size_t b = 0; b < nb; ++b) {
        const size_t k0 = b * kernels::kQ8Block, k1 = std::min(K, k0 + kernels::kQ8Block);
        float amax = 0.f;
        for (size_t k = k0; k < k1; ++k) {
          const float x = v[at(k, n)];
          if (!std::isfinite(x))
            bad_file("convert: tensor " + t.name + " holds " + std::to_string(x) + " at flat index " +
                     std::to_string(at(k, n)) + ": q8 holds finite values only");
          amax = std::max(amax, std::fabs(x));
        }
        const uint16_t h = kernels::q8_scale_for(amax);
        if (h == 0x7c00u)
          bad_file("convert: tensor " + t.name + " holds " + std::to_string(amax) + " near flat index " +
                   std::to_string(at(k0, n)) + ", beyond q8's range (127 x 65504): keep this model in F32");
        s[dim == 0 ? b * N + n : n * nb + b] = h;
        const float sf = kernels::f16_to_f32(h);
        for (size_t k = k0; k < k1; ++k) {
          const float x = v[at(k, n)];
          const int8_t qv = kernels::q8_quantize(x, sf);
          q[at(k, n)] = qv;
          r.flushed_to_zero += x != 0.f && qv == 0;
          r.max_error = std::max(r.max_error, std::fabs(static_cast<double>(qv) * sf - x));
        }
      }
    // The scales first: a streaming loader then never waits with the (32x larger) matrix in hand.
    out.push_back({t.name + std::string(kQ8ScalesSuffix), TensorDType::kF16, sshape, s.data()});
    out.push_back({t.name, TensorDType::kI8, t.shape, q.data()});
  }
  r.tensors = out.size();
  return finish(out, "lmdbg convert --dtype q8", size, r, report);
}

}  // namespace lmdbg
