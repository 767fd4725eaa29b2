// The hook points of a forward pass, named exactly as TransformerLens names them.
// This is the one name table (hooks.cpp): the package's hook names (js/src/tables.ts,
// js/types/tables.d.ts) are generated from it by `npm run gen:tables`, and CI checks they agree.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/json.h"

namespace lmdbg {

enum class Hook {
  kEmbed,      // hook_embed                    [T, d]
  kPosEmbed,   // hook_pos_embed                [T, d]
  kResidPre,   // blocks.{l}.hook_resid_pre     [T, d]
  kLn1,        // blocks.{l}.ln1.hook_normalized [T, d] (after gamma/beta)
  kQ,          // blocks.{l}.attn.hook_q        [T, H, d_head]
  kK,          // blocks.{l}.attn.hook_k        [T, H, d_head]
  kV,          // blocks.{l}.attn.hook_v        [T, H, d_head]
  kAttnScores, // blocks.{l}.attn.hook_attn_scores [H, T, past+T] (q·k/sqrt(d_head), -inf where masked)
  kPattern,    // blocks.{l}.attn.hook_pattern  [H, T, past+T]
  kZ,          // blocks.{l}.attn.hook_z        [T, H, d_head] (pattern · v)
  kResult,     // blocks.{l}.attn.hook_result   [T, H, d] (z_h · W_O[h], no bias)
  kAttnOut,    // blocks.{l}.hook_attn_out      [T, d]
  kResidMid,   // blocks.{l}.hook_resid_mid     [T, d]
  kLn2,        // blocks.{l}.ln2.hook_normalized [T, d]
  kMlpPre,     // blocks.{l}.mlp.hook_pre       [T, d_mlp] (c_fc output, before GELU)
  kMlpPost,    // blocks.{l}.mlp.hook_post      [T, d_mlp] (the coefficients m)
  kMlpOut,     // blocks.{l}.hook_mlp_out       [T, d]
  kResidPost,  // blocks.{l}.hook_resid_post    [T, d]
  kLnFinal,    // ln_final.hook_normalized      [T, d]
  kCount
};

constexpr int kHookCount = static_cast<int>(Hook::kCount);

bool hook_is_per_layer(Hook h);
// Whether a HookEditor (core/model/forward.h) may change it during a forward pass.
bool hook_editable(Hook h);
// TransformerLens name; layer is ignored for global hooks.
std::string hook_name(Hook h, int layer);
// The short suffix used by get_act_name-style shorthands ("resid_pre", "pattern", "post", ...).
const char* hook_short(Hook h);
// The TransformerLens suffix after "blocks.{l}." (the full name for global hooks).
const char* hook_suffix(Hook h);
// The shape of one layer's activation, e.g. "[pos, d_model]" (documentation and the generated types).
const char* hook_dims(Hook h);
// What it holds, in a line (documentation and the generated types).
const char* hook_doc(Hook h);
// Whether the forward pass computes it only when it is kept or edited (the attention's per-head
// hooks other than z): the default pass does not pay for them.
bool hook_on_demand(Hook h);
// The shape of one layer's activation of a pass over T new positions after `past` cached ones, as
// the caches of runWithCache and `lmdbg cache` give it (TransformerLens's, without the batch).
std::vector<int> hook_shape(Hook h, int n_heads, int d_model, int d_mlp, int T, int past = 0);

struct HookRef {
  Hook hook;
  int layer;  // -1 for global hooks
};
// Parses a full TransformerLens name. Returns nullopt when the name is not a hook.
std::optional<HookRef> parse_hook_name(std::string_view name, int n_layers);

// Every hook name of a model, in forward order.
std::vector<std::string> all_hook_names(int n_layers);
// The table itself: [{"suffix", "act", "perLayer", "dims", "editable", "doc"}] in forward order
// (`lmdbg tables`).
io::ojson hook_table_json();
// A caller's list of hook names; throws Error(kInvalidArgument) naming an unknown one.
std::vector<HookRef> hook_refs_from_json(const io::json& names, int n_layers);

// A set of hook kinds (kept for every layer when per-layer).
struct HookSet {
  unsigned bits = 0;
  static HookSet all() { return {(1u << kHookCount) - 1}; }
  static HookSet none() { return {}; }
  bool has(Hook h) const { return bits & (1u << static_cast<int>(h)); }
  HookSet& add(Hook h) {
    bits |= 1u << static_cast<int>(h);
    return *this;
  }
};

}  // namespace lmdbg
