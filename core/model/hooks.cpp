#include "hooks.h"

#include <charconv>

#include "core/error.h"

namespace lmdbg {

namespace {

struct Entry {
  Hook hook;
  const char* suffix;  // after "blocks.{l}." or the full name for globals
  const char* short_name;
  bool per_layer;
  const char* dims;
  bool editable;
  const char* doc;
};

constexpr Entry kTable[] = {
    {Hook::kEmbed, "hook_embed", "embed", false, "[pos, d_model]", true, "token embeddings W_E[token]"},
    {Hook::kPosEmbed, "hook_pos_embed", "pos_embed", false, "[pos, d_model]", true, "position embeddings W_pos[pos]"},
    {Hook::kResidPre, "hook_resid_pre", "resid_pre", true, "[pos, d_model]", true, "the residual stream entering the block"},
    {Hook::kLn1, "ln1.hook_normalized", "normalized1", true, "[pos, d_model]", true, "ln_1's output, after its gamma and beta"},
    {Hook::kQ, "attn.hook_q", "q", true, "[pos, head, d_head]", true, "queries: ln_1's output · W_Q + b_Q"},
    {Hook::kK, "attn.hook_k", "k", true, "[pos, head, d_head]", true, "keys: ln_1's output · W_K + b_K"},
    {Hook::kV, "attn.hook_v", "v", true, "[pos, head, d_head]", true, "values: ln_1's output · W_V + b_V"},
    {Hook::kAttnScores, "attn.hook_attn_scores", "attn_scores", true, "[head, query_pos, key_pos]", false,
     "q·k / sqrt(d_head) after the causal mask (masked entries are -inf) and before the softmax, as "
     "TransformerLens defines it"},
    {Hook::kPattern, "attn.hook_pattern", "pattern", true, "[head, query_pos, key_pos]", false,
     "the softmax of the scores over the keys"},
    {Hook::kZ, "attn.hook_z", "z", true, "[pos, head, d_head]", true, "each head's pattern-weighted sum of values"},
    {Hook::kResult, "attn.hook_result", "result", true, "[pos, head, d_model]", true,
     "each head's output: z_h times its d_head rows of W_O, without the bias; summed over heads, plus b_O, it is "
     "hook_attn_out"},
    {Hook::kAttnOut, "hook_attn_out", "attn_out", true, "[pos, d_model]", true, "the attention's output, with b_O"},
    {Hook::kResidMid, "hook_resid_mid", "resid_mid", true, "[pos, d_model]", true, "resid_pre + attn_out"},
    {Hook::kLn2, "ln2.hook_normalized", "normalized2", true, "[pos, d_model]", true, "ln_2's output, after its gamma and beta"},
    {Hook::kMlpPre, "mlp.hook_pre", "pre", true, "[pos, d_mlp]", true, "c_fc's output u, before the GELU"},
    {Hook::kMlpPost, "mlp.hook_post", "post", true, "[pos, d_mlp]", true, "the coefficients m = gelu(u)"},
    {Hook::kMlpOut, "hook_mlp_out", "mlp_out", true, "[pos, d_model]", true, "the FFN's output, sum_i m_i v_i + b_out"},
    {Hook::kResidPost, "hook_resid_post", "resid_post", true, "[pos, d_model]", true, "resid_mid + mlp_out"},
    {Hook::kLnFinal, "ln_final.hook_normalized", "ln_final", false, "[pos, d_model]", true,
     "ln_f's output, after its gamma and beta"},
};

constexpr bool table_in_enum_order() {
  for (int i = 0; i < kHookCount; ++i)
    if (static_cast<int>(kTable[i].hook) != i) return false;
  return sizeof kTable / sizeof kTable[0] == kHookCount;
}
static_assert(table_in_enum_order(), "kTable must list every Hook once, in enum order");

const Entry& entry(Hook h) { return kTable[static_cast<int>(h)]; }

}  // namespace

bool hook_is_per_layer(Hook h) { return entry(h).per_layer; }
bool hook_editable(Hook h) { return entry(h).editable; }

std::string hook_name(Hook h, int layer) {
  const Entry& e = entry(h);
  if (!e.per_layer) return e.suffix;
  return "blocks." + std::to_string(layer) + "." + e.suffix;
}

const char* hook_short(Hook h) { return entry(h).short_name; }
const char* hook_suffix(Hook h) { return entry(h).suffix; }
const char* hook_dims(Hook h) { return entry(h).dims; }
const char* hook_doc(Hook h) { return entry(h).doc; }

bool hook_on_demand(Hook h) {
  switch (h) {
    case Hook::kQ:
    case Hook::kK:
    case Hook::kV:
    case Hook::kAttnScores:
    case Hook::kPattern:
    case Hook::kResult: return true;
    default: return false;
  }
}

std::vector<int> hook_shape(Hook h, int n_heads, int d_model, int d_mlp, int T, int past) {
  switch (h) {
    case Hook::kQ:
    case Hook::kK:
    case Hook::kV:
    case Hook::kZ: return {T, n_heads, d_model / n_heads};
    case Hook::kAttnScores:
    case Hook::kPattern: return {n_heads, T, past + T};
    case Hook::kResult: return {T, n_heads, d_model};
    case Hook::kMlpPre:
    case Hook::kMlpPost: return {T, d_mlp};
    default: return {T, d_model};
  }
}

std::optional<HookRef> parse_hook_name(std::string_view name, int n_layers) {
  for (const auto& e : kTable)
    if (!e.per_layer && name == e.suffix) return HookRef{e.hook, -1};
  constexpr std::string_view prefix = "blocks.";
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  name.remove_prefix(prefix.size());
  int layer = -1;
  const auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), layer);
  if (ec != std::errc() || p == name.data() || p == name.data() + name.size() || *p != '.' || layer < 0 ||
      layer >= n_layers)
    return std::nullopt;
  if (name[0] == '0' && p - name.data() > 1) return std::nullopt;  // no leading zeros
  const std::string_view rest(p + 1, name.data() + name.size() - (p + 1));
  for (const auto& e : kTable)
    if (e.per_layer && rest == e.suffix) return HookRef{e.hook, layer};
  return std::nullopt;
}

std::vector<std::string> all_hook_names(int n_layers) {
  std::vector<std::string> out = {hook_name(Hook::kEmbed, 0), hook_name(Hook::kPosEmbed, 0)};
  for (int l = 0; l < n_layers; ++l)
    for (const auto& e : kTable)
      if (e.per_layer) out.push_back(hook_name(e.hook, l));
  out.push_back(hook_name(Hook::kLnFinal, 0));
  return out;
}

io::ojson hook_table_json() {
  io::ojson out = io::ojson::array();
  for (const auto& e : kTable)
    out.push_back({{"suffix", e.suffix},
                   {"act", e.short_name},
                   {"perLayer", e.per_layer},
                   {"dims", e.dims},
                   {"editable", e.editable},
                   {"doc", e.doc}});
  return out;
}

std::vector<HookRef> hook_refs_from_json(const io::json& names, int n_layers) {
  if (!names.is_array()) invalid("names must be an array of hook names");
  std::vector<HookRef> out;
  for (const auto& n : names) {
    const auto ref = n.is_string() ? parse_hook_name(n.get<std::string>(), n_layers) : std::nullopt;
    if (!ref) invalid("unknown hook name " + n.dump());
    out.push_back(*ref);
  }
  return out;
}

}  // namespace lmdbg
