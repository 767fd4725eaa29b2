#include "resolve.h"

#include <cmath>

#include "core/error.h"
#include "core/model/forward.h"

namespace lmdbg {

float max_subupdate_score(const Model& model, int layer, const float* coef) {
  const auto& norms = model.weights().layers[layer].value_norms;
  float best = 0.f;
  for (size_t j = 0; j < norms.size(); ++j) best = std::max(best, std::fabs(coef[j]) * norms[j]);
  return best;
}

Interventions resolve_on(const Model& model, std::span<const int> prompt, const Interventions& ivs) {
  if (!has_unresolved_on(ivs)) return ivs;
  const Config& c = model.config();
  validate_interventions(ivs, c.n_layers, c.d_mlp, c.n_ctx);
  State clean(model);
  ForwardOptions opt;
  opt.keep.add(Hook::kMlpPost);
  clean.forward(prompt, opt);
  const int T = clean.last_T();
  Interventions out = ivs;
  for (auto& iv : out) {
    if (iv.mode != InterventionMode::kOn) continue;
    const float* coef = clean.hook(Hook::kMlpPost, iv.layer) + static_cast<size_t>(T - 1) * c.d_mlp;
    const float s = max_subupdate_score(model, iv.layer, coef);
    if (!std::isfinite(s))
      invalid("intervention " + format_intervention(iv) + ": layer " + std::to_string(iv.layer) +
              "'s largest sub-update score in the clean run is not finite (the activations overflow float)");
    iv.mode = InterventionMode::kPre;
    iv.value = s + 0.01f;
  }
  return out;
}

}  // namespace lmdbg
