#include "trace.h"

#include <algorithm>
#include <cmath>

#include "core/analysis/lens.h"
#include "core/error.h"
#include "core/kernels/topk.h"

namespace lmdbg {

namespace {

std::vector<int> sorted_positions(const std::vector<int>& given, int T, const char* what) {
  std::vector<int> ps;
  for (int p : given) {
    if (p < 0 || p >= T)
      invalid(std::string("trace: ") + what + " " + std::to_string(p) + " out of range [0, " + std::to_string(T) +
              ") (the prompt has " + std::to_string(T) + " tokens)");
    ps.push_back(p);
  }
  std::sort(ps.begin(), ps.end());
  ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
  return ps;
}

std::vector<int> every_position(int T) {
  std::vector<int> ps(T);
  for (int t = 0; t < T; ++t) ps[t] = t;
  return ps;
}

}  // namespace

void validate_trace(const Model& m, std::span<const int> tokens, const TraceOptions& opt) {
  const Config& c = m.config();
  const int T = static_cast<int>(tokens.size()), V = c.d_vocab;
  if (T == 0) invalid("trace: the prompt is empty");
  if (T > c.n_ctx)
    invalid("trace: prompt of " + std::to_string(T) + " tokens exceeds the model's context of " + std::to_string(c.n_ctx));
  m.check_tokens(tokens.data(), tokens.size());
  if (opt.top_k < 1 || opt.top_k > V) invalid("trace: topK must be in [1, " + std::to_string(V) + "]");
  if (opt.lens_top_k < 1 || opt.lens_top_k > V) invalid("trace: lensTopK must be in [1, " + std::to_string(V) + "]");
  if (opt.sub_updates < 0 || opt.sub_updates > c.d_mlp)
    invalid("trace: subUpdates must be in [0, " + std::to_string(c.d_mlp) + "]");
  if (opt.value_top_k < 0 || opt.value_top_k > V) invalid("trace: valueTopK must be in [0, " + std::to_string(V) + "]");
  if (opt.heads < -1 || opt.heads > c.n_heads)
    invalid("trace: heads must be in [0, " + std::to_string(c.n_heads) + "] (the model's heads per layer)");
  if (opt.track.size() > kMaxTracked)
    invalid("trace: track at most " + std::to_string(kMaxTracked) + " tokens, got " + std::to_string(opt.track.size()));
  for (size_t i = 0; i < opt.track.size(); ++i) {
    if (opt.track[i] < 0 || opt.track[i] >= V)
      invalid("trace: track: token id " + std::to_string(opt.track[i]) + " out of range [0, " + std::to_string(V) + ")");
    if (std::find(opt.track.begin(), opt.track.begin() + i, opt.track[i]) != opt.track.begin() + i)
      invalid("trace: track: token id " + std::to_string(opt.track[i]) + " is listed twice");
  }
  validate_interventions(opt.interventions, c, T);
  if (opt.patch) {
    const auto& src = opt.patch->source;
    if (src.empty()) invalid("trace: patch: the source prompt is empty");
    if (static_cast<int>(src.size()) > c.n_ctx)
      invalid("trace: patch: source prompt of " + std::to_string(src.size()) + " tokens exceeds the model's context of " +
              std::to_string(c.n_ctx));
    m.check_tokens(src.data(), src.size());
    validate_patch(m, opt.patch->spec, static_cast<int>(src.size()), T);
  }
  if (opt.attribute) check_attribution(m, T, *opt.attribute);
  trace_positions(opt, T);
  lens_positions(opt, T);
}

std::vector<int> trace_positions(const TraceOptions& opt, int T) {
  if (opt.all_positions) return every_position(T);
  if (opt.positions.empty()) return {T - 1};
  return sorted_positions(opt.positions, T, "position");
}

std::vector<int> lens_positions(const TraceOptions& opt, int T) {
  return opt.lens_all_positions ? every_position(T) : sorted_positions(opt.lens_positions, T, "lens position");
}

PositionTrace lens_step(const State& st, int p, int top_k, bool raw_lens, std::span<const int> track) {
  const Model& m = st.model();
  const Config& c = m.config();
  const int L = c.n_layers, V = c.d_vocab, d = c.d_model;
  // Rows 2l, 2l+1 = resid_mid[l], resid_post[l] at p: the lens of all layers as one GEMM.
  std::vector<float> x(static_cast<size_t>(2 * L) * d), lens(static_cast<size_t>(2 * L) * V), raw;
  for (int l = 0; l < L; ++l) {
    std::copy_n(st.hook(Hook::kResidMid, l) + static_cast<size_t>(p) * d, d, x.data() + (2 * l) * d);
    std::copy_n(st.hook(Hook::kResidPost, l) + static_cast<size_t>(p) * d, d, x.data() + (2 * l + 1) * d);
  }
  lens_logits(m, x.data(), 2 * L, true, lens.data());
  if (raw_lens) {
    raw.resize(lens.size());
    lens_logits(m, x.data(), 2 * L, false, raw.data());
  }
  std::vector<double> lse(2 * L);
  for (int r = 0; r < 2 * L; ++r) lse[r] = logsumexp(lens.data() + static_cast<size_t>(r) * V, V);
  auto row = [&](int r) { return lens.data() + static_cast<size_t>(r) * V; };

  PositionTrace pt;
  pt.position = p;
  pt.prediction = top_tokens_lse(row(2 * L - 1), V, top_k, lse[2 * L - 1]);  // = ln_f(resid_post[L-1])
  pt.predicted = pt.prediction[0].id;
  for (int l = 0; l < L; ++l) {
    LayerTrace lt;
    lt.layer = l;
    const float* lb = row(2 * l);
    const float* la = row(2 * l + 1);
    lt.before = top_tokens_lse(lb, V, top_k, lse[2 * l]);
    lt.after = top_tokens_lse(la, V, top_k, lse[2 * l + 1]);
    lt.rank_before = rank_of(lb, V, pt.predicted);
    lt.rank_after = rank_of(la, V, pt.predicted);
    lt.prob_before = static_cast<float>(std::exp(lb[pt.predicted] - lse[2 * l]));
    lt.prob_after = static_cast<float>(std::exp(la[pt.predicted] - lse[2 * l + 1]));
    for (int id : track)
      lt.tracked.push_back({id, rank_of(lb, V, id), rank_of(la, V, id), static_cast<float>(std::exp(lb[id] - lse[2 * l])),
                            static_cast<float>(std::exp(la[id] - lse[2 * l + 1]))});
    if (raw_lens) {
      lt.raw_before = top_tokens(raw.data() + static_cast<size_t>(2 * l) * V, V, top_k, false);
      lt.raw_after = top_tokens(raw.data() + static_cast<size_t>(2 * l + 1) * V, V, top_k, false);
    }
    pt.layers.push_back(std::move(lt));
  }
  return pt;
}

void sub_update_step(const State& st, int p, int predicted, int n, std::vector<LayerTrace>& layers) {
  const Model& m = st.model();
  const Config& c = m.config();
  const int d = c.d_model;
  std::vector<float> score(c.d_mlp), e_pred(d), v(d);
  std::vector<int> top_idx(std::max(1, n));
  m.embedding(predicted, e_pred.data());
  for (auto& lt : layers) {
    const int l = lt.layer;
    const float* coef = st.hook(Hook::kMlpPost, l) + static_cast<size_t>(p) * c.d_mlp;
    const auto& norms = m.weights().layers[l].W_out_norms;
    for (int i = 0; i < c.d_mlp; ++i) score[i] = std::fabs(coef[i]) * norms[i];
    lt.max_score = *std::max_element(score.begin(), score.end());
    const int k = kernels::topk(score.data(), c.d_mlp, n, top_idx.data());
    for (int r = 0; r < k; ++r) {
      const int i = top_idx[r];
      SubUpdate su;
      su.layer = l;
      su.index = i;
      su.coef = coef[i];
      su.norm = norms[i];
      su.score = score[i];
      m.value_vector(l, i, v.data());
      double dot = 0;
      for (int q = 0; q < d; ++q) dot += static_cast<double>(v[q]) * e_pred[q];
      su.direct = static_cast<float>(coef[i] * dot);
      lt.sub_updates.push_back(std::move(su));
    }
  }
}

void value_tokens_step(const Model& m, ValueIndex& ix, int value_top_k, std::span<std::vector<LayerTrace>*> layers) {
  if (value_top_k <= 0) return;
  std::vector<ValueVectorRef> refs;
  std::map<std::pair<int, int>, size_t> slot;
  for (auto* ls : layers)
    for (auto& lt : *ls)
      for (auto& su : lt.sub_updates)
        if (slot.emplace(std::make_pair(su.layer, su.index), refs.size()).second) refs.push_back({su.layer, su.index});
  if (refs.empty()) return;
  const auto vt = value_vector_tokens(m, ix, refs, value_top_k, 0);
  for (auto* ls : layers)
    for (auto& lt : *ls)
      for (auto& su : lt.sub_updates) su.top = vt[slot.at({su.layer, su.index})].top;
}

std::vector<float> attention_step(const State& st) {
  const Config& c = st.model().config();
  const int T = st.last_T();
  const size_t per = static_cast<size_t>(c.n_heads) * T * T;
  std::vector<float> out(per * c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) std::copy_n(st.hook(Hook::kPattern, l), per, out.data() + per * l);
  return out;
}

}  // namespace lmdbg
