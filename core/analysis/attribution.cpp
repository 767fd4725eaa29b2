#include "attribution.h"

#include <algorithm>
#include <cmath>

#include "core/analysis/analysis_json.h"
#include "core/analysis/value_vectors.h"
#include "core/error.h"
#include "core/kernels/rows.h"

namespace lmdbg {

namespace {

double dot(const float* a, const float* b, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// A token given as an id or as its text (exactly one token).
int token_arg(const io::json& v, const Model& m, const std::string& what) {
  if (v.is_string()) {
    const std::string& text = v.get_ref<const std::string&>();
    const auto ids = m.tokenizer().encode(text);
    if (ids.size() == 1) return ids[0];
    std::string parts;
    for (size_t i = 0; i < ids.size(); ++i) parts += (i ? ", " : "") + io::ojson(m.tokenizer().token_bytes(ids[i])).dump();
    invalid(what + " " + v.dump() + " is " + std::to_string(ids.size()) + " tokens" +
            (ids.empty() ? "" : " (" + parts + ")") + ": give one token, or its id");
  }
  return io::json_int(v, what + " (a token id or its text)");
}

}  // namespace

HookSet attribution_hooks() {
  HookSet h;
  h.add(Hook::kEmbed).add(Hook::kPosEmbed).add(Hook::kZ).add(Hook::kMlpPost).add(Hook::kResidPost).add(Hook::kLnFinal);
  return h;
}

AttributionOptions check_attribution(const Model& m, int T, AttributionOptions opt) {
  const Config& c = m.config();
  const int V = c.d_vocab;
  if (opt.target < 0 || opt.target >= V)
    invalid("attribute: target token " + std::to_string(opt.target) + " out of range [0, " + std::to_string(V) + ")");
  if (opt.distractor < -1 || opt.distractor >= V)
    invalid("attribute: distractor token " + std::to_string(opt.distractor) + " out of range [0, " + std::to_string(V) + ")");
  if (opt.distractor == opt.target)
    invalid("attribute: the distractor is the target token (" + std::to_string(opt.target) + "): their difference is 0");
  if (opt.position == -1) opt.position = T - 1;
  if (opt.position < 0 || opt.position >= T)
    invalid("attribute: position " + std::to_string(opt.position) + " out of range [0, " + std::to_string(T) +
            ") (the prompt has " + std::to_string(T) + " tokens)");
  const int all = c.n_layers * c.d_mlp;
  if (opt.neurons < 0 || opt.neurons > all) invalid("attribute: neurons must be in [0, " + std::to_string(all) + "]");
  return opt;
}

Attribution attribute_logit(const State& st, const AttributionOptions& opt) {
  const Model& m = st.model();
  const Config& c = m.config();
  const Weights& w = m.weights();
  const int d = c.d_model, H = c.n_heads, dh = c.d_head(), L = c.n_layers, F = c.d_mlp, p = opt.position;
  Attribution a;
  a.position = p;
  a.target = opt.target;
  a.distractor = opt.distractor;

  // u = W_U[:, target] − W_U[:, distractor]; the logit, from ln_f's own output at p.
  std::vector<float> u(d), e(d);
  m.embedding(opt.target, u.data());
  if (opt.distractor >= 0) {
    m.embedding(opt.distractor, e.data());
    for (int j = 0; j < d; ++j) u[j] -= e[j];
  }
  a.logit = dot(st.hook(Hook::kLnFinal) + static_cast<size_t>(p) * d, u.data(), d);

  // σ of the final residual at p, frozen; w = (γ⊙u − mean(γ⊙u)) / σ.
  const float* x = st.hook(Hook::kResidPost, L - 1) + static_cast<size_t>(p) * d;
  double mean = 0, var = 0;
  for (int j = 0; j < d; ++j) mean += x[j];
  mean /= d;
  for (int j = 0; j < d; ++j) var += (x[j] - mean) * (x[j] - mean);
  const double sigma = std::sqrt(var / d + c.ln_eps);
  a.scale = static_cast<float>(sigma);
  std::vector<double> g(d);
  double gmean = 0;
  for (int j = 0; j < d; ++j) gmean += g[j] = static_cast<double>(w.ln_final_w[j]) * u[j];
  gmean /= d;
  std::vector<float> wv(d);
  for (int j = 0; j < d; ++j) wv[j] = static_cast<float>((g[j] - gmean) / sigma);
  const auto bias_value = [&](const kernels::PackedMatrix& W) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += static_cast<double>(W.bias(j)) * wv[j];
    return s;
  };

  // Every FFN sub-update's value m_i (v_i · w), to pick the listed ones over all layers.
  std::vector<float> vw(F), yo(d);
  std::vector<double> neuron(static_cast<size_t>(L) * F);
  for (int l = 0; l < L; ++l) {
    kernels::rows_dot(w.layers[l].W_out, wv.data(), 1, d, vw.data(), F, 0, F);
    const float* coef = st.hook(Hook::kMlpPost, l) + static_cast<size_t>(p) * F;
    for (int i = 0; i < F; ++i) neuron[static_cast<size_t>(l) * F + i] = static_cast<double>(coef[i]) * vw[i];
  }
  std::vector<int> order(neuron.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  const int n_listed = std::min<int>(opt.neurons, static_cast<int>(order.size()));
  // By |value|, ties by the lower (layer, index).
  const auto larger = [&](size_t i, size_t j) {
    const double vi = std::fabs(neuron[i]), vj = std::fabs(neuron[j]);
    return vi > vj || (vi == vj && i < j);
  };
  std::partial_sort(order.begin(), order.begin() + n_listed, order.end(), larger);
  std::vector<char> listed(neuron.size(), 0);
  for (int r = 0; r < n_listed; ++r) listed[order[r]] = 1;

  auto add = [&](PartKind k, int layer, int head, int index, int count, double v) {
    a.parts.push_back({k, layer, head, index, count, v});
  };
  add(PartKind::kEmbed, -1, -1, -1, 0, dot(st.hook(Hook::kEmbed) + static_cast<size_t>(p) * d, wv.data(), d));
  add(PartKind::kPosEmbed, -1, -1, -1, 0, dot(st.hook(Hook::kPosEmbed) + static_cast<size_t>(p) * d, wv.data(), d));
  for (int l = 0; l < L; ++l) {
    const LayerWeights& lw = w.layers[l];
    // Head h: w · (z_h · W_O[h]) = z_h · (W_O[h] · w).
    kernels::rows_dot(lw.W_O, wv.data(), 1, d, yo.data(), d, 0, d);
    const float* z = st.hook(Hook::kZ, l) + static_cast<size_t>(p) * d;
    for (int h = 0; h < H; ++h) add(PartKind::kHead, l, h, -1, 0, dot(z + h * dh, yo.data() + h * dh, dh));
    add(PartKind::kAttnBias, l, -1, -1, 0, bias_value(lw.W_O));
    std::vector<int> mine;
    double rest = 0;
    for (int i = 0; i < F; ++i) {
      if (listed[static_cast<size_t>(l) * F + i]) mine.push_back(i);
      else rest += neuron[static_cast<size_t>(l) * F + i];
    }
    std::sort(mine.begin(), mine.end(),
              [&](int i, int j) { return larger(static_cast<size_t>(l) * F + i, static_cast<size_t>(l) * F + j); });
    for (int i : mine) add(PartKind::kNeuron, l, -1, i, 0, neuron[static_cast<size_t>(l) * F + i]);
    const int n_rest = F - static_cast<int>(mine.size());
    if (n_rest > 0) add(PartKind::kNeurons, l, -1, -1, n_rest, rest);
    add(PartKind::kMlpBias, l, -1, -1, 0, bias_value(lw.W_out));
  }
  add(PartKind::kLnFinalBias, -1, -1, -1, 0, dot(w.ln_final_b.data(), u.data(), d));
  return a;
}

const char* part_kind_name(PartKind k) {
  switch (k) {
    case PartKind::kEmbed: return "embed";
    case PartKind::kPosEmbed: return "pos_embed";
    case PartKind::kHead: return "head";
    case PartKind::kAttnBias: return "attn_bias";
    case PartKind::kNeuron: return "neuron";
    case PartKind::kNeurons: return "neurons";
    case PartKind::kMlpBias: return "mlp_bias";
    case PartKind::kLnFinalBias: return "ln_final_bias";
  }
  return "?";
}

std::string part_name(const AttributionPart& p) {
  const std::string l = "L" + std::to_string(p.layer);
  switch (p.kind) {
    case PartKind::kEmbed: return "embed";
    case PartKind::kPosEmbed: return "pos_embed";
    case PartKind::kHead: return head_name(p.layer, p.head);
    case PartKind::kAttnBias: return l + " attn bias";
    case PartKind::kNeuron: return value_vector_name(p.layer, p.index);
    case PartKind::kNeurons: return l + " other neurons";
    case PartKind::kMlpBias: return l + " mlp bias";
    case PartKind::kLnFinalBias: return "ln_final bias";
  }
  return "?";
}

AttributionOptions attribution_options_from_json(const io::json& j, const Model& m) {
  if (!j.is_object()) invalid("attribute options: expected an object {target, distractor?, position?, neurons?}");
  io::json_known_keys(j, {"target", "distractor", "position", "neurons"}, "attribute options");
  AttributionOptions o;
  const io::json* t = io::json_field(j, "target");
  if (!t) invalid("attribute options: \"target\" is required (a token id or its text)");
  o.target = token_arg(*t, m, "attribute options: \"target\"");
  if (const io::json* v = io::json_field(j, "distractor")) o.distractor = token_arg(*v, m, "attribute options: \"distractor\"");
  if (const io::json* v = io::json_field(j, "position"); v && *v != "last")
    o.position = io::json_int(*v, "attribute options: \"position\" (an index or \"last\")", 0);
  if (const io::json* v = io::json_field(j, "neurons")) o.neurons = io::json_int(*v, "attribute options: \"neurons\"", 0);
  return o;
}

io::ojson attribution_to_json(const Model& m, std::span<const int> tokens, const Attribution& a) {
  io::ojson parts = io::ojson::array();
  for (const auto& p : a.parts) {
    io::ojson pj = {{"name", part_name(p)}, {"kind", part_kind_name(p.kind)}};
    if (p.layer >= 0) pj["layer"] = p.layer;
    if (p.head >= 0) pj["head"] = p.head;
    if (p.index >= 0) pj["index"] = p.index;
    if (p.kind == PartKind::kNeurons) pj["count"] = p.count;
    pj["value"] = p.value;
    parts.push_back(std::move(pj));
  }
  return {{"schema", "lmdbg.attribution/1"},
          {"position", a.position},
          {"token", token_json(m, tokens[a.position])},
          {"target", token_json(m, a.target)},
          {"distractor", a.distractor >= 0 ? token_json(m, a.distractor) : io::ojson(nullptr)},
          {"logit", a.logit},
          {"scale", a.scale},
          {"components", std::move(parts)}};
}

}  // namespace lmdbg
