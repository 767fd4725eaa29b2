#include "checkpoint.h"

namespace lmdbg {

std::vector<CheckpointTensor> gpt2_tensors(const Config& c) {
  const int64_t d = c.d_model, m = c.d_mlp;
  std::vector<CheckpointTensor> t = {{"wte.weight", Role::kW_E, -1, {c.d_vocab, d}},
                                     {"wpe.weight", Role::kW_pos, -1, {c.n_ctx, d}},
                                     {"ln_f.weight", Role::kLnFinalW, -1, {d}},
                                     {"ln_f.bias", Role::kLnFinalB, -1, {d}}};
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    t.push_back({p + "ln_1.weight", Role::kLn1W, l, {d}});
    t.push_back({p + "ln_1.bias", Role::kLn1B, l, {d}});
    t.push_back({p + "attn.c_attn.weight", Role::kW_QKV, l, {d, 3 * d}});
    t.push_back({p + "attn.c_attn.bias", Role::kB_QKV, l, {3 * d}});
    t.push_back({p + "attn.c_proj.weight", Role::kW_O, l, {d, d}});
    t.push_back({p + "attn.c_proj.bias", Role::kB_O, l, {d}});
    t.push_back({p + "ln_2.weight", Role::kLn2W, l, {d}});
    t.push_back({p + "ln_2.bias", Role::kLn2B, l, {d}});
    t.push_back({p + "mlp.c_fc.weight", Role::kW_in, l, {d, m}});
    t.push_back({p + "mlp.c_fc.bias", Role::kB_in, l, {m}});
    t.push_back({p + "mlp.c_proj.weight", Role::kW_out, l, {m, d}});
    t.push_back({p + "mlp.c_proj.bias", Role::kB_out, l, {d}});
  }
  return t;
}

std::string_view gpt2_strip_prefix(std::string_view key) {
  constexpr std::string_view kPrefix = "transformer.";
  return key.substr(0, kPrefix.size()) == kPrefix ? key.substr(kPrefix.size()) : key;
}

bool gpt2_ignored(std::string_view key) {
  if (key == "lm_head.weight") return true;
  if (key.substr(0, 2) != "h.") return false;
  const auto dot = key.find('.', 2);
  if (dot == std::string_view::npos) return false;
  const std::string_view rest = key.substr(dot + 1);
  return rest == "attn.bias" || rest == "attn.masked_bias";
}

int gpt2_q8_block_dim(std::string_view key) {
  if (key == "wte.weight") return 1;
  if (key.substr(0, 2) != "h.") return -1;
  const auto dot = key.find('.', 2);
  if (dot == std::string_view::npos) return -1;
  const std::string_view rest = key.substr(dot + 1);
  return rest == "attn.c_attn.weight" || rest == "attn.c_proj.weight" || rest == "mlp.c_fc.weight" ||
                 rest == "mlp.c_proj.weight"
             ? 0
             : -1;
}

}  // namespace lmdbg
