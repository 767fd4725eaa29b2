// GPT-2 hyperparameters from a Hugging Face config.json. Names follow TransformerLens.
#pragma once
#include <string>
#include <string_view>

namespace lmdbg {

struct Config {
  int n_layers = 0;   // n_layer
  int n_heads = 0;    // n_head
  int d_model = 0;    // n_embd
  int d_mlp = 0;      // n_inner, or 4 * n_embd when null
  int n_ctx = 0;      // n_positions
  int d_vocab = 0;    // vocab_size
  float ln_eps = 1e-5f;
  int d_head() const { return d_model / n_heads; }
};

// Throws lmdbg::Error naming the field for malformed JSON, missing or out-of-range fields,
// and configurations whose math lmdbg does not implement (e.g. a non-tanh activation).
Config parse_config(std::string_view config_json);

std::string config_to_json(const Config& c);

}  // namespace lmdbg
