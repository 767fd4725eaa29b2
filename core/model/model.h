// A loaded GPT-2: config, tokenizer and packed weights. Immutable after load, so one Model can
// serve many States (KV caches, core/model/forward.h).
//
//   auto model = lmdbg::Model::load_dir("path/to/gpt2");          // HF layout folder
//   lmdbg::State st(*model);
//   auto ids = model->tokenizer().encode("The capital of France is");
//   st.forward(ids, {});                                          // logits of the last position
//   int next = lmdbg::argmax(st.logits(), model->config().d_vocab);   // core/model/sampler.h
//
// core/session/session.h holds a loaded model with everything computed for it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/io/config.h"
#include "core/io/files.h"
#include "core/io/hash.h"
#include "core/model/weights.h"
#include "core/tokenizer/tokenizer.h"

namespace lmdbg {

class Model {
 public:
  // Throws lmdbg::Error naming the file, field or tensor at fault.
  static std::unique_ptr<Model> load(const io::ModelFiles& files, const LoadOptions& opt = {});
  static std::unique_ptr<Model> load_dir(const std::string& dir, const LoadOptions& opt = {});

  const Config& config() const { return config_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  const Weights& weights() const { return weights_; }
  // "xxh64:<16 hex digits>": XXH64 of model.safetensors' data section (core/io/hash.h), computed as
  // it loads. The same file gives the same fingerprint natively and in wasm, for any chunking; the
  // same weights converted to F16 give another.
  const std::string& fingerprint() const { return fingerprint_; }
  uint64_t checkpoint_bytes() const { return checkpoint_bytes_; }  // size of model.safetensors
  kernels::Storage storage() const { return storage_; }             // of the packed weights
  const char* dtype() const {  // the package's Dtype
    return storage_ == kernels::Storage::kF16 ? "f16" : storage_ == kernels::Storage::kQ8 ? "q8" : "f32";
  }

  // wte[token, :] (d floats).
  void embedding(int token, float* out) const { weights_.W_U.col(token, out); }
  // Row i of layer l's mlp.c_proj.weight: the value vector v_i (d floats).
  void value_vector(int layer, int index, float* out) const;
  // Rows [i0, i1) of layer l's mlp.c_proj.weight, row stride ld.
  void value_vectors(int layer, int i0, int i1, float* out, size_t ld) const;

  // Bounds checks shared by every entry point; they throw Error(kInvalidArgument).
  void check_layer(int layer) const;
  void check_neuron(int layer, int index) const;
  void check_tokens(const int* ids, size_t n) const;

 private:
  friend class ModelBuilder;
  Config config_;
  Tokenizer tokenizer_;
  Weights weights_;
  std::string fingerprint_;
  uint64_t checkpoint_bytes_ = 0;
  kernels::Storage storage_ = kernels::Storage::kF32;
};

// Model::fingerprint() of a whole model.safetensors, without loading it (`lmdbg info`).
std::string checkpoint_fingerprint(const uint8_t* safetensors, size_t size);

// Loads a model as its bytes arrive (the browser streams model.safetensors straight into wasm
// memory chunk by chunk): config and tokenizer first, then the safetensors header, then the data.
//   ModelBuilder b(config, vocab, merges, opt);
//   b.set_header(first_bytes, n, file_size);  // n >= 8 + header length
//   b.feed(chunk, len); ...                   // the data section, in order
//   auto model = b.finish();
class ModelBuilder {
 public:
  ModelBuilder(std::string_view config_json, std::string_view vocab_json, std::string_view merges_txt,
               const LoadOptions& opt = {});
  ~ModelBuilder();
  void set_header(const uint8_t* header, size_t available, uint64_t file_size);
  uint64_t header_bytes() const;  // 8 + header length, after set_header
  void feed(const uint8_t* data, size_t n);
  // WeightsBuilder::place: where the next data bytes can be written to spare feed() a copy.
  WeightsBuilder::Place place(size_t max);
  uint64_t received() const { return weights_ ? weights_->received() : 0; }
  std::unique_ptr<Model> finish();

 private:
  std::unique_ptr<Model> model_;
  LoadOptions opt_;
  io::SafeTensorsView header_;
  std::unique_ptr<WeightsBuilder> weights_;
  io::Hash64 hash_;  // of the data section, as it is fed
};

}  // namespace lmdbg
