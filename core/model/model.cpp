#include "model.h"

#include "core/error.h"
#include "core/io/safetensors.h"

namespace lmdbg {

std::unique_ptr<Model> Model::load(const io::ModelFiles& f, const LoadOptions& opt) {
  auto m = std::make_unique<Model>();
  m->config_ = parse_config(f.config_json);
  m->tokenizer_ = Tokenizer::from_files(f.vocab_json, f.merges_txt);
  if (m->tokenizer_.vocab_size() != m->config_.d_vocab)
    bad_file("vocab.json has " + std::to_string(m->tokenizer_.vocab_size()) + " tokens but config.json says vocab_size " +
             std::to_string(m->config_.d_vocab));
  const auto st = io::parse_safetensors(f.safetensors, f.safetensors_size, "model.safetensors");
  m->weights_ = load_weights(m->config_, st, opt);
  return m;
}

std::unique_ptr<Model> Model::load_dir(const std::string& dir, const LoadOptions& opt) {
  const io::ModelDir d = io::read_model_dir(dir);
  return load(d.files(), opt);
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

int argmax(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

}  // namespace lmdbg
