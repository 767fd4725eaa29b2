#include "weights.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <algorithm>
#include <map>
#include <string>
#include <utility>

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

std::string fmt_bytes(uint64_t b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / 1e6);
  return buf;
}

kernels::DType to_kernel_dtype(TensorDType t) {
  switch (t) {
    case TensorDType::kF16: return kernels::DType::kF16;
    case TensorDType::kBF16: return kernels::DType::kBF16;
    case TensorDType::kI8: return kernels::DType::kQ8;
    default: return kernels::DType::kF32;
  }
}

// Integer tests on the raw bits: a NaN/Inf has an all-ones exponent.
// Non-finite elements among n of width U (their exponent bits all set); branch-free, so it vectorizes.
template <class U>
size_t count_nonfinite(const uint8_t* p, size_t n, U exponent) {
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    U b;
    std::memcpy(&b, p + sizeof(U) * i, sizeof(U));
    bad += (b & exponent) == exponent;
  }
  return bad;
}

void check_finite(const TensorInfo& t) {
  if (t.dtype == TensorDType::kI8) return;  // q8 values; their scales are checked as F16
  const size_t n = t.numel();
  const bool f32 = t.dtype == TensorDType::kF32;
  const uint32_t exponent = f32 ? 0x7f800000u : t.dtype == TensorDType::kF16 ? 0x7c00u : 0x7f80u;
  const size_t bad = f32 ? count_nonfinite<uint32_t>(t.data, n, exponent)
                         : count_nonfinite<uint16_t>(t.data, n, static_cast<uint16_t>(exponent));
  if (!bad) return;
  size_t first = 0;
  while ((f32 ? count_nonfinite<uint32_t>(t.data + 4 * first, 1, exponent)
              : count_nonfinite<uint16_t>(t.data + 2 * first, 1, static_cast<uint16_t>(exponent))) == 0)
    ++first;
  bad_file("model.safetensors: " + t.name + " contains " + std::to_string(bad) + " NaN/Inf value(s), first at flat index " +
           std::to_string(first));
}

// ||row k|| of W as stored (f16 rounding, q8 dequantization included).
std::vector<float> row_norms(const kernels::PackedMatrix& W) {
  std::vector<float> out(W.K());
  if (W.storage() == kernels::Storage::kF32) {  // straight from the panels; the same sums, in the same order
    constexpr int NR = kernels::PackedMatrix::NR;
    std::vector<double> s(W.K(), 0.0);
    for (int p = 0; p < W.panels(); ++p) {
      const float* w = W.f32() + p * W.panel_stride() + NR;  // past the bias row
      const int nr = std::min(NR, W.N() - p * NR);
      for (int k = 0; k < W.K(); ++k)
        for (int j = 0; j < nr; ++j) s[k] += static_cast<double>(w[k * NR + j]) * w[k * NR + j];
    }
    for (int k = 0; k < W.K(); ++k) out[k] = static_cast<float>(std::sqrt(s[k]));
    return out;
  }
  std::vector<float> row(W.N());
  for (int k = 0; k < W.K(); ++k) {
    W.row(k, row.data());
    double s = 0;
    for (float x : row) s += static_cast<double>(x) * x;
    out[k] = static_cast<float>(std::sqrt(s));
  }
  return out;
}

const char* storage_name(kernels::Storage s) {
  return s == kernels::Storage::kF32 ? "f32" : s == kernels::Storage::kF16 ? "f16" : "q8";
}

// In 64 bits even where size_t has 32 (wasm): config limits keep every term below 2^50.
uint64_t packed_bytes(int K, int N, kernels::Storage s) { return kernels::PackedMatrix::packed_bytes(K, N, s); }

uint64_t estimate_bytes64(const Config& c, kernels::Storage s) {
  const int d = c.d_model, m = c.d_mlp;
  const uint64_t per_layer = packed_bytes(d, 3 * d, s) + packed_bytes(d, d, s) + packed_bytes(d, m, s) +
                             packed_bytes(m, d, s) + (4 * static_cast<uint64_t>(d) + m) * 4;
  return packed_bytes(d, c.d_vocab, s) + static_cast<uint64_t>(c.n_ctx) * d * 4 + 2 * static_cast<uint64_t>(d) * 4 +
         per_layer * c.n_layers;
}

}  // namespace

size_t estimate_weight_bytes(const Config& c, kernels::Storage s) {
  const uint64_t b = estimate_bytes64(c, s);
  return b > std::numeric_limits<size_t>::max() ? std::numeric_limits<size_t>::max() : static_cast<size_t>(b);
}

void check_weight_memory(const Config& c, const LoadOptions& opt) {
  const uint64_t need = estimate_bytes64(c, opt.storage);
  if (opt.memory_limit && need > opt.memory_limit)
    fail(ErrorCode::kOutOfMemory, "model needs " + fmt_bytes(need) + " for its " + storage_name(opt.storage) +
                                      " weights but only " + fmt_bytes(opt.memory_limit) + " are available" +
                                      (opt.storage == kernels::Storage::kF32   ? "; try f16 storage (or q8, approximate)"
                                       : opt.storage == kernels::Storage::kF16 ? "; try q8 storage (approximate)"
                                                                               : ""));
}

size_t Weights::bytes() const {
  size_t b = W_U.bytes() + (W_pos.size() + ln_final_w.size() + ln_final_b.size()) * 4;
  for (const auto& l : layers)
    b += l.W_QKV.bytes() + l.W_O.bytes() + l.W_in.bytes() + l.W_out.bytes() +
         (l.ln1_w.size() * 4 + l.W_out_norms.size()) * 4;
  return b;
}

WeightsBuilder::WeightsBuilder(const Config& c, const io::SafeTensorsView& header, const LoadOptions& opt)
    : c_(c), opt_(opt) {
  check_weight_memory(c, opt);
  std::map<std::string, CheckpointTensor, std::less<>> need;  // every tensor the config needs, by name
  for (auto& t : gpt2_tensors(c)) need.emplace(t.name, std::move(t));
  std::map<std::string, const TensorInfo*, std::less<>> by_key, scales_by_key;
  for (const auto& t : header.tensors) {
    std::string key(gpt2_strip_prefix(t.name));
    if (gpt2_ignored(key)) continue;
    const bool scales = key.ends_with(kQ8ScalesSuffix);
    if (scales) key.resize(key.size() - kQ8ScalesSuffix.size());
    auto& into = scales ? scales_by_key : by_key;
    if (into.count(key))
      bad_file("model.safetensors: tensor \"" + t.name + "\" appears twice (with and without the prefix)");
    if (!need.count(key)) bad_file("model.safetensors: unexpected tensor \"" + t.name + "\" for this config");
    into[key] = &t;
  }
  for (const auto& [key, want] : need) {
    auto it = by_key.find(key);
    if (it == by_key.end()) fail(ErrorCode::kMissing, "model.safetensors: missing tensor \"" + key + "\"");
    const TensorInfo& t = *it->second;
    const auto sc = scales_by_key.find(key);
    const int block_dim = gpt2_q8_block_dim(key);
    if (t.dtype == TensorDType::kI8) {
      if (block_dim < 0)
        bad_file("model.safetensors: " + t.name + ": dtype I8 is only supported for the q8 weight matrices (wte and " +
                 "the layers' c_attn, c_proj, c_fc weights)");
      if (sc == scales_by_key.end())
        bad_file("model.safetensors: " + t.name + ": I8 (q8) weights need their scales, tensor \"" + t.name +
                 std::string(kQ8ScalesSuffix) + "\"");
    } else if (t.dtype != TensorDType::kF32 && t.dtype != TensorDType::kF16 && t.dtype != TensorDType::kBF16) {
      bad_file("model.safetensors: " + t.name + ": dtype " + t.dtype_str +
               " is not supported (expected F32, F16 or BF16, or I8 with q8 scales)");
    }
    if (t.shape != want.shape)
      bad_file("model.safetensors: " + t.name + ": expected shape " + fmt_shape(want.shape) + ", got " + t.shape_str());
    Job j{t, want.role, want.layer};
    j.info.data = nullptr;
    jobs_.push_back(std::move(j));
    if (sc == scales_by_key.end()) continue;
    const TensorInfo& s = *sc->second;
    if (t.dtype != TensorDType::kI8)
      bad_file("model.safetensors: unexpected tensor \"" + s.name + "\": " + t.name + " is " + t.dtype_str +
               ", not I8 (q8)");
    std::vector<int64_t> shape = want.shape;
    shape[block_dim] = static_cast<int64_t>(kernels::q8_blocks(static_cast<size_t>(shape[block_dim])));
    if (s.dtype != TensorDType::kF16 || s.shape != shape)
      bad_file("model.safetensors: " + s.name + ": q8 scales must be F16 " + fmt_shape(shape) + " (one per block of " +
               std::to_string(kernels::kQ8Block) + "), got " + s.dtype_str + " " + s.shape_str());
    Job js{s, want.role, want.layer, true};
    js.info.data = nullptr;
    jobs_.push_back(std::move(js));
  }
  std::sort(jobs_.begin(), jobs_.end(), [](const Job& a, const Job& b) { return a.info.begin < b.info.begin; });
  for (const auto& j : jobs_) end_ = std::max<uint64_t>(end_, j.info.end);
  w_.layers.resize(c.n_layers);
}

WeightsBuilder::Place WeightsBuilder::place(size_t max) {
  size_t k = next_;
  while (k < jobs_.size() && jobs_[k].info.end - jobs_[k].info.begin < opt_.in_place_min) ++k;
  if (k == jobs_.size()) return {nullptr, max};
  const Job& j = jobs_[k];
  if (pos_ < j.info.begin || k != next_) return {nullptr, static_cast<size_t>(std::min<uint64_t>(max, j.info.begin - pos_))};
  const size_t size = j.info.end - j.info.begin;
  if (staging_.size() != size) staging_.resize(size);  // not zeroed: filled in full before use
  place_ = staging_.data() + (pos_ - j.info.begin);
  place_bytes_ = static_cast<size_t>(std::min<uint64_t>(max, j.info.end - pos_));
  return {place_, place_bytes_};
}

void WeightsBuilder::check_feed(const uint8_t* p, size_t n) const {
  const uint8_t* placed = place_;  // given by place() since the last feed, for place_bytes_
  const uint8_t* const s0 = staging_.data();
  if (!staging_.empty() && p >= s0 && p < s0 + staging_.size()) {  // written in place: check where and how much
    const Job& j = jobs_[next_];
    const uint64_t at = pos_ - j.info.begin;
    if (p != placed) {
      const std::string tensor = "the place of tensor \"" + j.info.name + "\"";
      if (p == s0 + at) fail(ErrorCode::kState, "model.safetensors: bytes fed at " + tensor + " without asking for it (place() before each write)");
      fail(ErrorCode::kState, "model.safetensors: bytes fed out of order at " + tensor + ": they start at its byte " +
                                  std::to_string(p - s0) + ", but its next byte is " + std::to_string(at));
    }
    if (n > place_bytes_)
      fail(ErrorCode::kState, "model.safetensors: " + std::to_string(n) + " bytes fed at the place of tensor \"" +
                                  j.info.name + "\", which was given for " + std::to_string(place_bytes_));
  }
}

void WeightsBuilder::feed(const uint8_t* p, size_t n) {
  check_feed(p, n);
  place_ = nullptr;
  const uint64_t lo = pos_, hi = pos_ + n;
  while (next_ < jobs_.size()) {
    Job& j = jobs_[next_];
    if (j.info.begin >= hi) break;
    const uint64_t b = std::max<uint64_t>(j.info.begin, lo), e = std::min<uint64_t>(j.info.end, hi);
    const size_t size = j.info.end - j.info.begin;
    const bool in_place = staging_.size() == size && p + (b - lo) == staging_.data() + (b - j.info.begin);
    if (!in_place && staged_ == 0 && j.info.begin >= lo && j.info.end <= hi) {  // whole tensor in this chunk: no copy
      io::TensorInfo t = j.info;
      t.data = p + (j.info.begin - lo);
      consume(j, t);
      uninit_vector<uint8_t>().swap(staging_);  // a place() that was not used
      ++next_;
      continue;
    }
    if (staging_.size() != size) staging_.resize(size);  // not zeroed: filled in full before use
    if (!in_place) std::memcpy(staging_.data() + (b - j.info.begin), p + (b - lo), e - b);
    staged_ += e - b;
    if (staged_ < size) break;  // the rest comes with the next chunk
    io::TensorInfo t = j.info;
    t.data = staging_.data();
    consume(j, t);
    staged_ = 0;
    uninit_vector<uint8_t>().swap(staging_);
    ++next_;
  }
  pos_ = hi;
}

kernels::PackedMatrix& WeightsBuilder::matrix_of(Role bias_role, int layer) {
  LayerWeights& L = w_.layers[layer];
  switch (bias_role) {
    case Role::kB_QKV: return L.W_QKV;
    case Role::kB_O: return L.W_O;
    case Role::kB_in: return L.W_in;
    default: return L.W_out;
  }
}

// A weight matrix (q8_scales: the F16 scales of an I8 source), with its bias if that came first.
void WeightsBuilder::pack_matrix(const Job& j, const io::TensorInfo& t, const void* q8_scales) {
  const int d = c_.d_model, m = c_.d_mlp;
  const kernels::Storage s = opt_.storage;
  const kernels::DType dt = to_kernel_dtype(t.dtype);
  if (j.role == Role::kW_E) {
    w_.W_U = kernels::PackedMatrix::pack({t.data, dt, c_.d_vocab, d, true, q8_scales}, nullptr, s);
    return;
  }
  auto matrix = [&](int rows, int cols, Role bias_role) {
    kernels::PackedMatrix& out = matrix_of(bias_role, j.layer);
    out = kernels::PackedMatrix::pack({t.data, dt, rows, cols, false, q8_scales}, nullptr, s);
    auto it = pending_bias_.find({bias_role, j.layer});
    if (it != pending_bias_.end()) {
      out.set_bias(it->second.data());
      pending_bias_.erase(it);
    }
  };
  LayerWeights& L = w_.layers[j.layer];
  switch (j.role) {
    case Role::kW_QKV: return matrix(d, 3 * d, Role::kB_QKV);
    case Role::kW_O: return matrix(d, d, Role::kB_O);
    case Role::kW_in: return matrix(d, m, Role::kB_in);
    default:
      matrix(m, d, Role::kB_out);
      L.W_out_norms = row_norms(L.W_out);
      return;
  }
}

void WeightsBuilder::consume(const Job& j, const io::TensorInfo& t) {
  if (opt_.check_finite) check_finite(t);
  // q8: a matrix needs its scales; whichever of the two comes first waits (copied) for the other.
  const std::pair<Role, int> key{j.role, j.layer};
  if (j.q8_scales || t.dtype == TensorDType::kI8) {
    auto& mine = j.q8_scales ? pending_scales_ : pending_q8_;
    auto& other = j.q8_scales ? pending_q8_ : pending_scales_;
    const auto it = other.find(key);
    if (it == other.end()) {
      mine[key].assign(t.data, t.data + (t.end - t.begin));
      return;
    }
    io::TensorInfo w = t;
    if (j.q8_scales) w.data = it->second.data(), w.dtype = TensorDType::kI8;  // the matrix waited
    pack_matrix(j, w, j.q8_scales ? t.data : it->second.data());
    other.erase(it);
    return;
  }
  auto bias = [&] {
    kernels::PackedMatrix& target = matrix_of(j.role, j.layer);
    auto v = io::tensor_to_f32(t);
    if (target.N() > 0)
      target.set_bias(v.data());
    else
      pending_bias_[{j.role, j.layer}] = std::move(v);
  };
  LayerWeights* L = j.layer >= 0 ? &w_.layers[j.layer] : nullptr;
  switch (j.role) {
    case Role::kW_E:
    case Role::kW_QKV:
    case Role::kW_O:
    case Role::kW_in:
    case Role::kW_out: pack_matrix(j, t, nullptr); break;
    case Role::kW_pos: w_.W_pos = io::tensor_to_f32(t); break;
    case Role::kLnFinalW: w_.ln_final_w = io::tensor_to_f32(t); break;
    case Role::kLnFinalB: w_.ln_final_b = io::tensor_to_f32(t); break;
    case Role::kLn1W: L->ln1_w = io::tensor_to_f32(t); break;
    case Role::kLn1B: L->ln1_b = io::tensor_to_f32(t); break;
    case Role::kLn2W: L->ln2_w = io::tensor_to_f32(t); break;
    case Role::kLn2B: L->ln2_b = io::tensor_to_f32(t); break;
    case Role::kB_QKV:
    case Role::kB_O:
    case Role::kB_in:
    case Role::kB_out: bias(); break;
  }
}

Weights WeightsBuilder::finish() {
  if (next_ < jobs_.size())
    bad_file("model.safetensors: the data ended after " + std::to_string(pos_) + " bytes, but tensor \"" +
             jobs_[next_].info.name + "\" needs bytes up to " + std::to_string(jobs_[next_].info.end));
  return std::move(w_);
}

Weights load_weights(const Config& c, const uint8_t* file, size_t size, const LoadOptions& opt) {
  const auto header = io::parse_safetensors(file, size, "model.safetensors");
  WeightsBuilder b(c, header, opt);
  b.feed(file + header.header_bytes, size - header.header_bytes);
  return b.finish();
}

}  // namespace lmdbg
