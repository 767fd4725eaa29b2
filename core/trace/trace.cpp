#include "trace.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/analysis/lens.h"
#include "core/error.h"
#include "core/interventions/resolve.h"
#include "core/kernels/topk.h"
#include "core/model/forward.h"

namespace lmdbg {

namespace {

std::vector<int> resolve_positions(const TraceOptions& opt, int T) {
  std::vector<int> ps;
  if (opt.all_positions) {
    for (int t = 0; t < T; ++t) ps.push_back(t);
    return ps;
  }
  if (opt.positions.empty()) return {T - 1};
  for (int p : opt.positions) {
    if (p < 0 || p >= T)
      invalid("trace: position " + std::to_string(p) + " out of range [0, " + std::to_string(T) + ")");
    ps.push_back(p);
  }
  std::sort(ps.begin(), ps.end());
  ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
  return ps;
}

float prob_of(const float* logits, int V, int id, double lse) {
  return static_cast<float>(std::exp(logits[id] - lse));
}

}  // namespace

Trace run_trace(const Model& m, std::span<const int> tokens, const TraceOptions& opt) {
  const Config& c = m.config();
  const int T = static_cast<int>(tokens.size()), L = c.n_layers, V = c.d_vocab, d = c.d_model;
  if (T == 0) invalid("trace: the prompt is empty");
  if (T > c.n_ctx)
    invalid("trace: prompt of " + std::to_string(T) + " tokens exceeds the model's context of " + std::to_string(c.n_ctx));
  m.check_tokens(tokens.data(), tokens.size());
  if (opt.top_k < 1 || opt.top_k > V) invalid("trace: topK must be in [1, " + std::to_string(V) + "]");
  if (opt.sub_updates < 0 || opt.sub_updates > c.d_mlp)
    invalid("trace: subUpdates must be in [0, " + std::to_string(c.d_mlp) + "]");
  if (opt.value_top_k < 0 || opt.value_top_k > V) invalid("trace: valueTopK must be in [0, " + std::to_string(V) + "]");
  validate_interventions(opt.interventions, L, c.d_mlp, c.n_ctx);

  Trace tr;
  tr.tokens.assign(tokens.begin(), tokens.end());
  tr.requested = opt.interventions;
  tr.options = opt;
  tr.options.positions = resolve_positions(opt, T);
  tr.options.all_positions = false;
  tr.options.interventions = resolve_on(m, tokens, opt.interventions);
  const auto& ps = tr.options.positions;

  State st(m);
  ForwardOptions fo;
  fo.keep.add(Hook::kResidMid).add(Hook::kResidPost).add(Hook::kMlpPost);
  if (opt.attention) fo.keep.add(Hook::kPattern);
  fo.logits = false;  // the lens GEMM below projects ln_f(resid_post[L-1]) itself
  fo.interventions = &tr.options.interventions;
  st.forward(tokens, fo);

  // Clean run (only for its predictions) when anything was intervened on.
  std::vector<float> clean_final;  // [|ps|, V]
  if (!tr.options.interventions.empty()) {
    State clean(m);
    ForwardOptions co;
    co.keep.add(Hook::kResidPost);
    co.logits = false;
    clean.forward(tokens, co);
    std::vector<float> rows(ps.size() * d);
    const float* last = clean.hook(Hook::kResidPost, L - 1);
    for (size_t j = 0; j < ps.size(); ++j)
      std::copy_n(last + static_cast<size_t>(ps[j]) * d, d, rows.data() + j * d);
    clean_final.resize(ps.size() * V);
    for (size_t j0 = 0; j0 < ps.size(); j0 += 32) {
      const int n = static_cast<int>(std::min<size_t>(32, ps.size() - j0));
      lens_logits(m, rows.data() + j0 * d, n, true, clean_final.data() + j0 * V);
    }
  }

  std::vector<float> x(static_cast<size_t>(2 * L) * d), lens(static_cast<size_t>(2 * L) * V), raw;
  if (opt.raw_lens) raw.resize(lens.size());
  std::vector<float> score(c.d_mlp), e_pred(d), v(d);
  std::vector<double> lse(2 * L);
  std::vector<int> top_idx(std::max(1, opt.sub_updates));
  std::vector<ValueVectorRef> vv_refs;
  std::map<std::pair<int, int>, size_t> vv_slot;

  for (size_t j = 0; j < ps.size(); ++j) {
    const int p = ps[j];
    PositionTrace pt;
    pt.position = p;
    // Rows 2l, 2l+1 = resid_mid[l], resid_post[l] at p: the lens of all layers as one GEMM.
    for (int l = 0; l < L; ++l) {
      std::copy_n(st.hook(Hook::kResidMid, l) + static_cast<size_t>(p) * d, d, x.data() + (2 * l) * d);
      std::copy_n(st.hook(Hook::kResidPost, l) + static_cast<size_t>(p) * d, d, x.data() + (2 * l + 1) * d);
    }
    lens_logits(m, x.data(), 2 * L, true, lens.data());
    if (opt.raw_lens) lens_logits(m, x.data(), 2 * L, false, raw.data());
    const float* final_logits = lens.data() + static_cast<size_t>(2 * L - 1) * V;  // = ln_f(resid_post[L-1])
    for (int r = 0; r < 2 * L; ++r) lse[r] = logsumexp(lens.data() + static_cast<size_t>(r) * V, V);
    pt.prediction = top_tokens_lse(final_logits, V, opt.top_k, lse[2 * L - 1]);
    pt.predicted = pt.prediction[0].id;
    if (!clean_final.empty()) {
      pt.clean_prediction = top_tokens(clean_final.data() + j * V, V, opt.top_k, true);
      pt.clean_predicted = pt.clean_prediction[0].id;
    }
    m.embedding(pt.predicted, e_pred.data());

    for (int l = 0; l < L; ++l) {
      LayerTrace lt;
      lt.layer = l;
      const float* lb = lens.data() + static_cast<size_t>(2 * l) * V;
      const float* la = lb + V;
      lt.before = top_tokens_lse(lb, V, opt.top_k, lse[2 * l]);
      lt.after = top_tokens_lse(la, V, opt.top_k, lse[2 * l + 1]);
      lt.rank_before = rank_of(lb, V, pt.predicted);
      lt.rank_after = rank_of(la, V, pt.predicted);
      lt.prob_before = prob_of(lb, V, pt.predicted, lse[2 * l]);
      lt.prob_after = prob_of(la, V, pt.predicted, lse[2 * l + 1]);
      if (opt.raw_lens) {
        lt.raw_before = top_tokens(raw.data() + static_cast<size_t>(2 * l) * V, V, opt.top_k, false);
        lt.raw_after = top_tokens(raw.data() + static_cast<size_t>(2 * l + 1) * V, V, opt.top_k, false);
      }
      const float* coef = st.hook(Hook::kMlpPost, l) + static_cast<size_t>(p) * c.d_mlp;
      const auto& norms = m.weights().layers[l].value_norms;
      for (int i = 0; i < c.d_mlp; ++i) score[i] = std::fabs(coef[i]) * norms[i];
      lt.max_score = *std::max_element(score.begin(), score.end());
      const int k = kernels::topk(score.data(), c.d_mlp, opt.sub_updates, top_idx.data());
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
        if (opt.value_top_k > 0 && !vv_slot.count({l, i})) {
          vv_slot[{l, i}] = vv_refs.size();
          vv_refs.push_back({l, i});
        }
        lt.sub_updates.push_back(std::move(su));
      }
      pt.layers.push_back(std::move(lt));
    }
    tr.positions.push_back(std::move(pt));
  }

  // Value-vector tokens of every distinct sub-update, in one batch.
  if (opt.value_top_k > 0 && !vv_refs.empty()) {
    const auto vt = value_vector_tokens(m, vv_refs, opt.value_top_k, 0);
    for (auto& pt : tr.positions)
      for (auto& lt : pt.layers)
        for (auto& su : lt.sub_updates) su.top = vt[vv_slot.at({su.layer, su.index})].top;
  }

  if (opt.attention) {
    const size_t per = static_cast<size_t>(c.n_heads) * T * T;
    tr.attention.resize(per * L);
    for (int l = 0; l < L; ++l) std::copy_n(st.hook(Hook::kPattern, l), per, tr.attention.data() + per * l);
  }
  return tr;
}

}  // namespace lmdbg
