#include "weights.h"

#include <cmath>
#include <cstring>
#include <map>
#include <string>

#include "core/error.h"
#include "core/kernels/fp16.h"

namespace lmdbg {

namespace {

using io::TensorDType;
using io::TensorInfo;

std::string fmt_shape(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

std::string fmt_bytes(size_t b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / 1e6);
  return buf;
}

kernels::DType to_kernel_dtype(TensorDType t) {
  switch (t) {
    case TensorDType::kF16: return kernels::DType::kF16;
    case TensorDType::kBF16: return kernels::DType::kBF16;
    default: return kernels::DType::kF32;
  }
}

float read_elem(const TensorInfo& t, size_t i) {
  switch (t.dtype) {
    case TensorDType::kF16: {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      return kernels::f16_to_f32(h);
    }
    case TensorDType::kBF16: {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      return kernels::bf16_to_f32(h);
    }
    default: {
      float f;
      std::memcpy(&f, t.data + 4 * i, 4);
      return f;
    }
  }
}

// Resolves names with or without the "transformer." prefix and checks every tensor.
class TensorTable {
 public:
  TensorTable(const io::SafeTensorsView& st, const Config& c, bool check_finite) : check_finite_(check_finite) {
    for (const auto& t : st.tensors) {
      std::string key = t.name;
      if (key.rfind("transformer.", 0) == 0) key = key.substr(12);
      if (key == "lm_head.weight") continue;  // tied to wte
      if (is_buffer(key, c.n_layers)) continue;
      if (by_key_.count(key))
        bad_file("model.safetensors: tensor \"" + t.name + "\" appears twice (with and without the prefix)");
      by_key_[key] = &t;
    }
  }

  const TensorInfo& get(const std::string& key, std::vector<int64_t> shape) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) fail(ErrorCode::kMissing, "model.safetensors: missing tensor \"" + key + "\"");
    const TensorInfo& t = *it->second;
    used_[key] = true;
    if (t.dtype != TensorDType::kF32 && t.dtype != TensorDType::kF16 && t.dtype != TensorDType::kBF16)
      bad_file("model.safetensors: " + t.name + ": dtype " + t.dtype_str + " is not supported (expected F32, F16 or BF16)");
    if (t.shape != shape)
      bad_file("model.safetensors: " + t.name + ": expected shape " + fmt_shape(shape) + ", got " + t.shape_str());
    if (check_finite_) check_finite(t);
    return t;
  }

  std::vector<float> floats(const std::string& key, std::vector<int64_t> shape) {
    const TensorInfo& t = get(key, std::move(shape));
    std::vector<float> out(t.numel());
    for (size_t i = 0; i < out.size(); ++i) out[i] = read_elem(t, i);
    return out;
  }

  kernels::PackedMatrix matrix(const std::string& key, int rows, int cols, const std::string& bias_key,
                               kernels::Storage storage, bool transposed = false) {
    const TensorInfo& t = get(key, {rows, cols});
    std::vector<float> bias;
    if (!bias_key.empty()) bias = floats(bias_key, {transposed ? rows : cols});
    kernels::SrcMatrix src{t.data, to_kernel_dtype(t.dtype), rows, cols, transposed};
    return kernels::PackedMatrix::pack(src, bias.empty() ? nullptr : bias.data(), storage);
  }

  void check_all_used() const {
    for (const auto& [key, t] : by_key_)
      if (!used_.count(key)) bad_file("model.safetensors: unexpected tensor \"" + t->name + "\" for this config");
  }

 private:
  static bool is_buffer(const std::string& key, int n_layers) {
    if (key.rfind("h.", 0) != 0) return false;
    const auto dot = key.find('.', 2);
    if (dot == std::string::npos) return false;
    const std::string rest = key.substr(dot + 1);
    return rest == "attn.bias" || rest == "attn.masked_bias";
  }

  static void check_finite(const TensorInfo& t) {
    size_t bad = 0, first = 0;
    const size_t n = t.numel();
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(read_elem(t, i))) {
        if (!bad) first = i;
        ++bad;
      }
    }
    if (bad)
      bad_file("model.safetensors: " + t.name + " contains " + std::to_string(bad) + " NaN/Inf value(s), first at flat index " +
               std::to_string(first));
  }

  bool check_finite_;
  std::map<std::string, const TensorInfo*> by_key_;
  std::map<std::string, bool> used_;
};

size_t packed_bytes(int K, int N, kernels::Storage s) {
  const size_t panels = (static_cast<size_t>(N) + kernels::PackedMatrix::NR - 1) / kernels::PackedMatrix::NR;
  return panels * (static_cast<size_t>(K) + 1) * kernels::PackedMatrix::NR * (s == kernels::Storage::kF32 ? 4 : 2);
}

}  // namespace

size_t estimate_weight_bytes(const Config& c, kernels::Storage s) {
  const int d = c.d_model, m = c.d_mlp;
  size_t per_layer = packed_bytes(d, 3 * d, s) + packed_bytes(d, d, s) + packed_bytes(d, m, s) +
                     packed_bytes(m, d, s) + (4 * static_cast<size_t>(d) + m) * 4;
  return packed_bytes(d, c.d_vocab, s) + static_cast<size_t>(c.n_ctx) * d * 4 + 2 * static_cast<size_t>(d) * 4 +
         per_layer * c.n_layers;
}

size_t Weights::bytes() const {
  size_t b = unembed.bytes() + (wpe.size() + lnf_g.size() + lnf_b.size()) * 4;
  for (const auto& l : layers)
    b += l.c_attn.bytes() + l.attn_proj.bytes() + l.c_fc.bytes() + l.mlp_proj.bytes() +
         (l.ln1_g.size() * 4 + l.value_norms.size()) * 4;
  return b;
}

Weights load_weights(const Config& c, const io::SafeTensorsView& st, const LoadOptions& opt) {
  const size_t need = estimate_weight_bytes(c, opt.storage);
  if (opt.memory_limit && need > opt.memory_limit)
    fail(ErrorCode::kOutOfMemory, "model needs " + fmt_bytes(need) + " for its " +
                                      (opt.storage == kernels::Storage::kF32 ? "f32" : "f16") + " weights but only " +
                                      fmt_bytes(opt.memory_limit) + " are available" +
                                      (opt.storage == kernels::Storage::kF32 ? "; try f16 storage" : ""));
  TensorTable tt(st, c, opt.check_finite);
  const int d = c.d_model, m = c.d_mlp, V = c.d_vocab;
  Weights w;
  w.unembed = tt.matrix("wte.weight", V, d, "", opt.storage, /*transposed=*/true);
  w.wpe = tt.floats("wpe.weight", {c.n_ctx, d});
  w.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    LayerWeights& L = w.layers[l];
    L.ln1_g = tt.floats(p + "ln_1.weight", {d});
    L.ln1_b = tt.floats(p + "ln_1.bias", {d});
    L.c_attn = tt.matrix(p + "attn.c_attn.weight", d, 3 * d, p + "attn.c_attn.bias", opt.storage);
    L.attn_proj = tt.matrix(p + "attn.c_proj.weight", d, d, p + "attn.c_proj.bias", opt.storage);
    L.ln2_g = tt.floats(p + "ln_2.weight", {d});
    L.ln2_b = tt.floats(p + "ln_2.bias", {d});
    L.c_fc = tt.matrix(p + "mlp.c_fc.weight", d, m, p + "mlp.c_fc.bias", opt.storage);
    L.mlp_proj = tt.matrix(p + "mlp.c_proj.weight", m, d, p + "mlp.c_proj.bias", opt.storage);
    L.value_norms.resize(m);
    std::vector<float> row(d);
    for (int i = 0; i < m; ++i) {
      L.mlp_proj.row(i, row.data());
      double s = 0;
      for (float x : row) s += static_cast<double>(x) * x;
      L.value_norms[i] = static_cast<float>(std::sqrt(s));
    }
  }
  w.lnf_g = tt.floats("ln_f.weight", {d});
  w.lnf_b = tt.floats("ln_f.bias", {d});
  tt.check_all_used();
  return w;
}

}  // namespace lmdbg
