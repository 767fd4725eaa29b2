#pragma once
#include <span>

#include "core/interventions/intervention.h"
#include "core/model/model.h"

namespace lmdbg {

// S*_l = max_j |m_j| * ||v_j|| of layer l at the last position, from the coefficients m of a clean run.
float max_subupdate_score(const Model& model, int layer, const float* coef_last);

// Returns ivs with every `on` replaced by pre = S*_l + 0.01, S*_l taken from a clean run of
// `prompt` (LM-Debugger's switch). Other interventions are copied unchanged. No-op without `on`.
Interventions resolve_on(const Model& model, std::span<const int> prompt, const Interventions& ivs);

}  // namespace lmdbg
