#include "model.h"

#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/kernels/rows.h"

namespace lmdbg {

namespace {
std::string fingerprint_of(const io::Hash64& h) { return "xxh64:" + io::hex64(h.digest()); }
}  // namespace

std::string checkpoint_fingerprint(const uint8_t* safetensors, size_t size) {
  const auto header = io::parse_safetensors_header(safetensors, size, size, "model.safetensors");
  io::Hash64 h;
  h.update(safetensors + header.header_bytes, size - header.header_bytes);
  return fingerprint_of(h);
}

ModelBuilder::ModelBuilder(std::string_view config_json, std::string_view vocab_json, std::string_view merges_txt,
                           const LoadOptions& opt)
    : model_(new Model), opt_(opt) {
  model_->config_ = parse_config(config_json);
  check_weight_memory(model_->config_, opt);  // before reading anything else: the config alone names the size
  model_->tokenizer_ = Tokenizer::from_files(vocab_json, merges_txt);
  if (model_->tokenizer_.vocab_size() != model_->config_.d_vocab)
    bad_file("vocab.json has " + std::to_string(model_->tokenizer_.vocab_size()) +
             " tokens but config.json says vocab_size " + std::to_string(model_->config_.d_vocab));
}

ModelBuilder::~ModelBuilder() = default;

void ModelBuilder::set_header(const uint8_t* header, size_t available, uint64_t file_size) {
  if (weights_) fail(ErrorCode::kState, "model.safetensors: header given twice");
  header_ = io::parse_safetensors_header(header, available, file_size, "model.safetensors");
  weights_ = std::make_unique<WeightsBuilder>(model_->config_, header_, opt_);
}

void ModelBuilder::feed(const uint8_t* data, size_t n) {
  if (!weights_) fail(ErrorCode::kState, "model.safetensors: data given before the header");
  weights_->check_feed(data, n);
  hash_.update(data, n);  // first: a tensor's staging buffer, where data may be, is freed once it is packed
  weights_->feed(data, n);
}

WeightsBuilder::Place ModelBuilder::place(size_t max) {
  if (!weights_) fail(ErrorCode::kState, "model.safetensors: place asked for before the header");
  return weights_->place(max);
}

uint64_t ModelBuilder::header_bytes() const { return header_.header_bytes; }

std::unique_ptr<Model> ModelBuilder::finish() {
  if (!weights_) fail(ErrorCode::kState, "model.safetensors: no header was given");
  model_->weights_ = weights_->finish();
  weights_.reset();
  model_->fingerprint_ = fingerprint_of(hash_);
  model_->checkpoint_bytes_ = header_.header_bytes + hash_.bytes();  // as received (the size may not be announced)
  model_->storage_ = opt_.storage;
  return std::move(model_);
}

std::unique_ptr<Model> Model::load(const io::ModelFiles& f, const LoadOptions& opt) {
  ModelBuilder b(f.config_json, f.vocab_json, f.merges_txt, opt);
  b.set_header(f.safetensors, f.safetensors_size, f.safetensors_size);
  const uint64_t h = b.header_bytes();
  b.feed(f.safetensors + h, f.safetensors_size - h);
  return b.finish();
}

std::unique_ptr<Model> Model::load_dir(const std::string& dir, const LoadOptions& opt) {
  const io::ModelDir d = io::read_model_dir(dir);
  return load(d.files(), opt);
}

void Model::value_vector(int layer, int index, float* out) const {
  kernels::copy_rows(weights_.layers[layer].W_out, index, index + 1, out, config_.d_model);
}

void Model::value_vectors(int layer, int i0, int i1, float* out, size_t ld) const {
  kernels::copy_rows(weights_.layers[layer].W_out, i0, i1, out, ld);
}

void Model::check_layer(int layer) const {
  if (layer < 0 || layer >= config_.n_layers)
    invalid("layer " + std::to_string(layer) + " out of range [0, " + std::to_string(config_.n_layers) + ")");
}

void Model::check_neuron(int layer, int index) const {
  check_layer(layer);
  if (index < 0 || index >= config_.d_mlp)
    invalid("neuron index " + std::to_string(index) + " out of range [0, " + std::to_string(config_.d_mlp) + ")");
}

void Model::check_tokens(const int* ids, size_t n) const {
  for (size_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= config_.d_vocab)
      invalid("token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) + " out of range [0, " +
              std::to_string(config_.d_vocab) + ")");
}

}  // namespace lmdbg
