// Direct logit attribution to any token: the final logit of `target` (or target − distractor) at
// one position, split into the additive parts of the residual stream that reach it.
//
// ln_f's scale is frozen at that position (TransformerLens's decompose_resid / apply_ln_to_stack):
//   logit = u · (γ ⊙ (x − mean(x)) / σ + β),   u = W_U[:, target] (− W_U[:, distractor]),
// with σ = sqrt(var(x) + eps) of the final residual x. Centring is linear, so x = Σ c splits it
// exactly: a component c contributes w · c with w = (γ⊙u − mean(γ⊙u)) / σ, and ln_f's bias adds u·β.
// x is the token embedding + the position embedding + per layer (Σ_h result_h + b_O) +
// (Σ_i m_i v_i + b_out), so the parts are: embed, pos_embed, each head L{l}H{h} (its hook_result),
// each attention bias, the FFN sub-updates L{l}D{i} (the `neurons` largest |value| over all layers
// listed, the rest of each layer summed), each FFN bias, and ln_f's bias. Their values sum to the
// logit up to f32 rounding (tests/native/attribution_test.cpp checks 1e-4).
//
//   State st(model);
//   ForwardOptions fo;
//   fo.keep = attribution_hooks();
//   st.forward(ids, fo);
//   AttributionOptions o;
//   o.target = model.tokenizer().encode(" Paris")[0];
//   Attribution a = attribute_logit(st, o);   // a.parts[i].value sum to a.logit
#pragma once
#include <span>
#include <string>
#include <vector>

#include "core/io/json.h"
#include "core/model/forward.h"

namespace lmdbg {

struct AttributionOptions {
  int target = -1;
  int distractor = -1;  // -1: none
  int position = -1;    // -1: the last position
  int neurons = 10;     // FFN sub-updates listed by |value| over all layers; the rest summed per layer
};

enum class PartKind { kEmbed, kPosEmbed, kHead, kAttnBias, kNeuron, kNeurons, kMlpBias, kLnFinalBias };

struct AttributionPart {
  PartKind kind = PartKind::kEmbed;
  int layer = -1, head = -1, index = -1;
  int count = 0;  // kNeurons: how many sub-updates it sums
  double value = 0;
};

struct Attribution {
  int position = 0, target = 0, distractor = -1;
  double logit = 0;  // the model's final logit of target (minus distractor's) at position
  float scale = 0;   // ln_f's σ at position, frozen
  std::vector<AttributionPart> parts;  // forward order
};

// The hooks a pass must keep for attribute_logit.
HookSet attribution_hooks();

// Checks the options against the model and a prompt of T tokens (names the bad one); returns them
// with the position resolved.
AttributionOptions check_attribution(const Model& m, int T, AttributionOptions opt);

// The decomposition at opt.position of a state that ran with attribution_hooks() (opt checked).
Attribution attribute_logit(const State& st, const AttributionOptions& opt);

// "embed", "pos_embed", "L3H5", "L3 attn bias", "L3D120", "L3 other neurons", "L3 mlp bias",
// "ln_final bias".
std::string part_name(const AttributionPart& p);
const char* part_kind_name(PartKind k);

// {"target": id | "token text", "distractor"?: id | "text" | null, "position"?: i | "last",
//  "neurons"?: n}. A text must be exactly one token of the model's vocabulary.
AttributionOptions attribution_options_from_json(const io::json& j, const Model& m);

// {"schema": "lmdbg.attribution/1", "position", "token", "target", "distractor", "logit", "scale",
//  "components": [{"name", "kind", "layer"?, "head"?, "index"?, "count"?, "value"}]}
io::ojson attribution_to_json(const Model& m, std::span<const int> tokens, const Attribution& a);

}  // namespace lmdbg
