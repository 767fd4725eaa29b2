// Interventions on FFN coefficients, as data. They act inside the forward pass on
// blocks.{l}.mlp.hook_pre (mode kPre, and kOn once resolved) or blocks.{l}.mlp.hook_post (the rest).
//
//   off        m_i := 0
//   set=V      m_i := V            (after GELU)
//   pre=V      u_i := V            (c_fc output, before GELU, so m_i = gelu(V))
//   scale=F    m_i *= F
//   add=V      m_i += V
//   on         LM-Debugger's switch: u_i := S*_l + 0.01, S*_l = max_j |m_j|·||v_j|| of layer l at the
//              last position of the clean run of the same prompt (resolve_on() turns it into pre=V)
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace lmdbg {

enum class InterventionMode { kOff, kOn, kSet, kPre, kScale, kAdd };

const char* mode_name(InterventionMode m);

struct Intervention {
  int layer = 0;
  int index = 0;
  InterventionMode mode = InterventionMode::kOff;
  float value = 0.f;
  std::vector<int> positions;  // absolute positions; empty = every position
  bool at(int pos) const;
};

using Interventions = std::vector<Intervention>;

// "LAYER:INDEX:off|on|set=V|pre=V|scale=F|add=V[@P,Q,...]". Throws Error(kInvalidArgument).
Intervention parse_intervention(std::string_view spec);
std::string format_intervention(const Intervention& iv);

// Checks layer/index/positions against the model's shape; throws naming the bad field.
void validate_interventions(const Interventions& ivs, int n_layers, int d_mlp, int n_ctx);

bool has_unresolved_on(const Interventions& ivs);

// The JSON form used by the JS API: [{"layer":3,"index":120,"mode":"scale","value":2,"positions":[4,5]}].
// "value" is required for set/pre/scale/add; "positions" null or absent = every position.
Interventions interventions_from_json(std::string_view json_text);

// Applied by the forward pass to one layer's [T, d_mlp] slab for absolute positions p0..p0+T.
void apply_pre_interventions(float* u, int T, int d_mlp, int p0, int layer, const Interventions& ivs);
void apply_post_interventions(float* m, int T, int d_mlp, int p0, int layer, const Interventions& ivs);

}  // namespace lmdbg
