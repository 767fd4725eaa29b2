#include "config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/json.h"

namespace lmdbg {

namespace {

int get_int(const nlohmann::json& j, const char* key, int lo, int hi, bool required, int fallback) {
  const nlohmann::json* v = io::json_field(j, key);
  if (!v) {
    if (required) fail(ErrorCode::kMissing, std::string("config.json: missing field \"") + key + "\"");
    return fallback;
  }
  return io::json_int(*v, std::string("config.json: \"") + key + "\"", lo, hi, ErrorCode::kBadFile);
}

}  // namespace

Config parse_config(std::string_view text) {
  const nlohmann::json j = io::parse_json(text, "config.json", ErrorCode::kBadFile);
  if (!j.is_object()) bad_file("config.json: not a JSON object");
  if (j.contains("model_type") && j["model_type"] != "gpt2")
    bad_file("config.json: model_type " + j["model_type"].dump() + " is not \"gpt2\"");

  Config c;
  c.n_layers = get_int(j, "n_layer", 1, 1024, true, 0);
  c.n_heads = get_int(j, "n_head", 1, 1024, true, 0);
  c.d_model = get_int(j, "n_embd", 1, 65536, true, 0);
  c.n_ctx = get_int(j, "n_positions", 1, 1 << 20, !j.contains("n_ctx"), 0);
  if (c.n_ctx == 0) c.n_ctx = get_int(j, "n_ctx", 1, 1 << 20, true, 0);
  c.d_vocab = get_int(j, "vocab_size", 1, 1 << 22, true, 0);
  c.d_mlp = get_int(j, "n_inner", 1, 1 << 20, false, 4 * c.d_model);
  if (c.d_model % c.n_heads != 0)
    bad_file("config.json: n_embd " + std::to_string(c.d_model) + " is not divisible by n_head " +
             std::to_string(c.n_heads));
  if (j.contains("layer_norm_epsilon")) {
    if (!j["layer_norm_epsilon"].is_number()) bad_file("config.json: \"layer_norm_epsilon\" must be a number");
    c.ln_eps = j["layer_norm_epsilon"].get<float>();
    if (!(c.ln_eps > 0.f && c.ln_eps < 1.f)) bad_file("config.json: \"layer_norm_epsilon\" must be in (0, 1)");
  }
  if (j.contains("activation_function")) {
    const auto& a = j["activation_function"];
    if (!a.is_string() || (a != "gelu_new" && a != "gelu_pytorch_tanh" && a != "gelu_fast"))
      bad_file("config.json: activation_function " + a.dump() +
               " is not supported; lmdbg implements GPT-2's tanh GELU (\"gelu_new\")");
  }
  // reorder_and_upcast_attn only changes precision, which we already keep in f32.
  if (j.contains("scale_attn_by_inverse_layer_idx") && j["scale_attn_by_inverse_layer_idx"] == true)
    bad_file("config.json: \"scale_attn_by_inverse_layer_idx\": true is not supported");
  if (j.contains("scale_attn_weights") && j["scale_attn_weights"].is_boolean() && !j["scale_attn_weights"].get<bool>())
    bad_file("config.json: \"scale_attn_weights\": false is not supported");
  return c;
}

std::string config_to_json(const Config& c) {
  nlohmann::json j = {{"nLayers", c.n_layers}, {"nHeads", c.n_heads}, {"dModel", c.d_model}, {"dHead", c.d_head()},
                      {"dMlp", c.d_mlp},       {"nCtx", c.n_ctx},     {"dVocab", c.d_vocab}, {"lnEps", c.ln_eps}};
  return j.dump();
}

}  // namespace lmdbg
