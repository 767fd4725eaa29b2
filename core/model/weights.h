// GPT-2 parameters, packed once at load for the GEMM kernels. PyTorch dimension order throughout.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "core/io/config.h"
#include "core/io/safetensors.h"
#include "core/kernels/gemm.h"
#include "core/model/checkpoint.h"

namespace lmdbg {

struct LoadOptions {
  // kF16 halves weight memory (compute stays f32); kQ8 (int8 weights, approximate results, gemm.h)
  // quarters it. A q8 checkpoint loads into any storage: as stored for kQ8, dequantized (q * scale)
  // for the others.
  kernels::Storage storage = kernels::Storage::kF32;
  size_t memory_limit = 0;  // bytes available for weights; 0 = unlimited. Checked before allocating.
  bool check_finite = true;  // reject NaN/Inf weights
  // Tensors at least this large may be written in place by a streaming load (WeightsBuilder::place);
  // smaller ones come through the caller's chunk buffer. The default matches the package's 4 MiB feed
  // buffer, which such tensors never fit in anyway (staging the small ones too fragments the heap).
  size_t in_place_min = size_t{4} << 20;
};

// Named by role, as TransformerLens names them; core/model/checkpoint.h maps a checkpoint's tensor
// names to these roles.
struct LayerWeights {
  std::vector<float> ln1_w, ln1_b;  // [d]
  kernels::PackedMatrix W_QKV;      // [d, 3d] + b_QKV: q | k | v, heads side by side in each
  kernels::PackedMatrix W_O;        // [d, d] + b_O: rows h*d_head..(h+1)*d_head belong to head h
  std::vector<float> ln2_w, ln2_b;  // [d]
  kernels::PackedMatrix W_in;       // [d, d_mlp] + b_in
  kernels::PackedMatrix W_out;      // [d_mlp, d] + b_out; row i = value vector v_i
  std::vector<float> W_out_norms;   // [d_mlp] ||v_i||_2
};

struct Weights {
  kernels::PackedMatrix W_U;        // [d, V], tied: col(t) is W_E[t], the embedding of token t
  std::vector<float> W_pos;         // [n_ctx, d]
  std::vector<LayerWeights> layers;
  std::vector<float> ln_final_w, ln_final_b;  // [d]
  size_t bytes() const;
};

// Bytes the packed weights will take, computed from the config alone (saturates at SIZE_MAX).
size_t estimate_weight_bytes(const Config& c, kernels::Storage storage);

// Throws Error(kOutOfMemory) naming the size when the weights would exceed opt.memory_limit.
void check_weight_memory(const Config& c, const LoadOptions& opt);

// Packs a checkpoint as it arrives: the header first (every tensor is checked against the config by
// presence, dtype and shape before any data), then the data section in file order, in chunks of any
// size. A tensor that spans chunks is staged; everything else is packed straight from the chunk,
// so the peak is the packed weights plus the largest tensor, not the whole file. Accepts an
// optional key prefix and ignores buffers (core/model/checkpoint.h). Error messages use the file's
// own tensor names.
class WeightsBuilder {
 public:
  WeightsBuilder(const Config& c, const io::SafeTensorsView& header, const LoadOptions& opt);
  // The next n bytes of the data section (the bytes after the header).
  void feed(const uint8_t* data, size_t n);
  // Where the next bytes can be written in place, saving feed() a copy: {place, n} inside the
  // staging buffer of the large tensor (LoadOptions::in_place_min) they belong to (write at most n bytes there, then
  // feed(place, written)); {nullptr, n}: the next n bytes (at most `max`) are not such a tensor's,
  // feed them from any buffer, then ask again.
  struct Place {
    uint8_t* data;
    size_t bytes;
  };
  Place place(size_t max);
  // Throws, naming the tensor, if data lies in a staging buffer but not where place() said, or
  // past its end (feed() checks too; call it first to check before reading the bytes).
  void check_feed(const uint8_t* data, size_t n) const;
  uint64_t received() const { return pos_; }
  uint64_t expected() const { return end_; }  // data bytes the model's tensors span
  Weights finish();  // throws if tensors are still missing data

 private:
  struct Job {
    io::TensorInfo info;
    Role role;
    int layer;
    bool q8_scales = false;  // the scales of the I8 matrix (role, layer)
  };
  void consume(const Job& j, const io::TensorInfo& t);
  void pack_matrix(const Job& j, const io::TensorInfo& t, const void* q8_scales);
  kernels::PackedMatrix& matrix_of(Role bias_role, int layer);

  Config c_;
  LoadOptions opt_;
  Weights w_;
  std::vector<Job> jobs_;  // by data offset
  size_t next_ = 0;
  uint64_t pos_ = 0, end_ = 0;
  uninit_vector<uint8_t> staging_;
  uint64_t staged_ = 0;
  uint8_t* place_ = nullptr;  // the last place() handed out, until the next feed
  size_t place_bytes_ = 0;
  std::map<std::pair<Role, int>, std::vector<float>> pending_bias_;  // biases that arrived before their weight
  // q8: a matrix and its scales may arrive in either order; the first is kept until the second comes.
  std::map<std::pair<Role, int>, std::vector<uint8_t>> pending_scales_, pending_q8_;
};

// The whole file at once.
Weights load_weights(const Config& c, const uint8_t* file, size_t size, const LoadOptions& opt);

}  // namespace lmdbg
