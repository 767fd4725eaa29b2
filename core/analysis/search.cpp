#include "search.h"

#include <algorithm>
#include <cmath>

#include "core/analysis/value_vectors.h"
#include "core/error.h"
#include "core/kernels/gemm.h"
#include "core/kernels/topk.h"

namespace lmdbg {

namespace {

constexpr int kChunk = 256;

// Σ = (1/V) Σ_t (wte[t] - μ)(wte[t] - μ)ᵀ, accumulated over vocabulary chunks with the GEMM.
std::vector<float> wte_covariance(const Model& m, std::vector<float>& mu) {
  const Config& c = m.config();
  const int d = c.d_model, V = c.d_vocab;
  std::vector<float> rows(static_cast<size_t>(kChunk) * d);
  std::vector<double> acc_mu(d, 0.0);
  for (int t = 0; t < V; ++t) {
    m.embedding(t, rows.data());
    for (int i = 0; i < d; ++i) acc_mu[i] += rows[i];
  }
  mu.assign(d, 0.f);
  for (int i = 0; i < d; ++i) mu[i] = static_cast<float>(acc_mu[i] / V);

  std::vector<double> sigma(static_cast<size_t>(d) * d, 0.0);
  std::vector<float> at(static_cast<size_t>(d) * kChunk), prod(static_cast<size_t>(d) * d);
  for (int t0 = 0; t0 < V; t0 += kChunk) {
    const int n = std::min(kChunk, V - t0);
    for (int j = 0; j < n; ++j) {
      float* r = rows.data() + static_cast<size_t>(j) * d;
      m.embedding(t0 + j, r);
      for (int i = 0; i < d; ++i) r[i] -= mu[i];
    }
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < n; ++j) at[static_cast<size_t>(i) * n + j] = rows[static_cast<size_t>(j) * d + i];
    const auto w = kernels::PackedMatrix::pack({rows.data(), kernels::DType::kF32, n, d}, nullptr,
                                               kernels::Storage::kF32);
    kernels::gemm(prod.data(), d, at.data(), n, d, w);
    for (size_t i = 0; i < prod.size(); ++i) sigma[i] += prod[i];
  }
  std::vector<float> out(sigma.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(sigma[i] / V);
  return out;
}

}  // namespace

SearchStats compute_search_stats(const Model& m) {
  const Config& c = m.config();
  const int d = c.d_model, D = c.d_mlp;
  std::vector<float> mu;
  const std::vector<float> sigma = wte_covariance(m, mu);
  const auto S = kernels::PackedMatrix::pack({sigma.data(), kernels::DType::kF32, d, d}, nullptr, kernels::Storage::kF32);
  SearchStats st;
  st.n_layers = c.n_layers;
  st.d_mlp = D;
  st.mean.resize(static_cast<size_t>(c.n_layers) * D);
  st.std.resize(st.mean.size());
  std::vector<float> a(static_cast<size_t>(kChunk) * d), as(static_cast<size_t>(kChunk) * d);
  for (int l = 0; l < c.n_layers; ++l) {
    for (int i0 = 0; i0 < D; i0 += kChunk) {
      const int n = std::min(kChunk, D - i0);
      for (int j = 0; j < n; ++j) m.value_vector(l, i0 + j, a.data() + static_cast<size_t>(j) * d);
      kernels::gemm(as.data(), d, a.data(), d, n, S);
      for (int j = 0; j < n; ++j) {
        const float* v = a.data() + static_cast<size_t>(j) * d;
        const float* vs = as.data() + static_cast<size_t>(j) * d;
        double q = 0, mv = 0;
        for (int i = 0; i < d; ++i) {
          q += static_cast<double>(v[i]) * vs[i];
          mv += static_cast<double>(v[i]) * mu[i];
        }
        const size_t idx = static_cast<size_t>(l) * D + i0 + j;
        st.mean[idx] = static_cast<float>(mv);
        st.std[idx] = static_cast<float>(std::sqrt(std::max(q, 1e-30)));
      }
    }
  }
  return st;
}

std::vector<KeywordTokens> keyword_tokens(const Model& m, const std::vector<std::string>& keywords) {
  std::vector<KeywordTokens> out;
  for (const auto& raw : keywords) {
    // Trim surrounding whitespace; the leading-space variant is added explicitly.
    const auto b = raw.find_first_not_of(" \t\n\r");
    if (b == std::string::npos) continue;
    const std::string kw = raw.substr(b, raw.find_last_not_of(" \t\n\r") - b + 1);
    KeywordTokens k{kw, {}};
    // Whole-word tokens (with or without the leading space) when they exist; otherwise the
    // first token of each spelling.
    std::vector<std::vector<int>> spellings = {m.tokenizer().encode(kw), m.tokenizer().encode(" " + kw)};
    bool any_single = false;
    for (const auto& ids : spellings) any_single |= ids.size() == 1;
    for (const auto& ids : spellings)
      if (!ids.empty() && (ids.size() == 1 || !any_single) &&
          std::find(k.tokens.begin(), k.tokens.end(), ids[0]) == k.tokens.end())
        k.tokens.push_back(ids[0]);
    out.push_back(std::move(k));
  }
  if (out.empty()) invalid("search: no keywords given");
  return out;
}

namespace {

// z[j][i] for tokens[j] and every value vector i: each vector is read once for all tokens.
std::vector<std::vector<float>> zscores(const Model& m, const SearchStats& s, const std::vector<int>& tokens) {
  const Config& c = m.config();
  m.check_tokens(tokens.data(), tokens.size());
  if (s.n_layers != c.n_layers || s.d_mlp != c.d_mlp) invalid("search: statistics belong to another model");
  const int d = c.d_model, q = static_cast<int>(tokens.size());
  std::vector<float> e(static_cast<size_t>(q) * d), v(d);
  for (int j = 0; j < q; ++j) m.embedding(tokens[j], e.data() + static_cast<size_t>(j) * d);
  std::vector<std::vector<float>> z(q, std::vector<float>(static_cast<size_t>(c.n_layers) * c.d_mlp));
  for (int l = 0; l < c.n_layers; ++l)
    for (int i = 0; i < c.d_mlp; ++i) {
      m.value_vector(l, i, v.data());
      const size_t idx = static_cast<size_t>(l) * c.d_mlp + i;
      for (int j = 0; j < q; ++j) {
        const float* ej = e.data() + static_cast<size_t>(j) * d;
        float dot = 0;
        for (int k = 0; k < d; ++k) dot += v[k] * ej[k];
        z[j][idx] = (dot - s.mean[idx]) / s.std[idx];
      }
    }
  return z;
}

}  // namespace

std::vector<float> token_zscores(const Model& m, const SearchStats& s, int token) {
  return std::move(zscores(m, s, {token})[0]);
}

std::vector<SearchHit> search_value_vectors(const Model& m, const SearchStats& s, const std::vector<std::string>& keywords,
                                            int limit, int top_k) {
  const Config& c = m.config();
  const int n = c.n_layers * c.d_mlp;
  if (limit < 1 || limit > n) invalid("search: limit must be in [1, " + std::to_string(n) + "]");
  const auto kws = keyword_tokens(m, keywords);
  std::vector<int> all_tokens;
  for (const auto& k : kws)
    for (int t : k.tokens)
      if (std::find(all_tokens.begin(), all_tokens.end(), t) == all_tokens.end()) all_tokens.push_back(t);
  const auto z = zscores(m, s, all_tokens);
  // Per keyword: the best z over its tokens, and which token gave it.
  std::vector<float> total(n, 0.f);
  std::vector<std::vector<float>> best(kws.size(), std::vector<float>(n, -INFINITY));
  std::vector<std::vector<int>> best_tok(kws.size(), std::vector<int>(n, -1));
  for (size_t k = 0; k < kws.size(); ++k) {
    for (int t : kws[k].tokens) {
      const auto& zt = z[std::find(all_tokens.begin(), all_tokens.end(), t) - all_tokens.begin()];
      for (int i = 0; i < n; ++i)
        if (zt[i] > best[k][i]) best[k][i] = zt[i], best_tok[k][i] = t;
    }
    for (int i = 0; i < n; ++i) total[i] += best[k][i];
  }
  std::vector<int> idx(limit);
  const int got = kernels::topk(total.data(), n, limit, idx.data());
  std::vector<SearchHit> hits;
  std::vector<ValueVectorRef> refs;
  for (int r = 0; r < got; ++r) {
    const int i = idx[r];
    SearchHit h;
    h.layer = i / c.d_mlp;
    h.index = i % c.d_mlp;
    h.score = total[i];
    for (size_t k = 0; k < kws.size(); ++k) h.matched.push_back({best_tok[k][i], best[k][i], NAN});
    hits.push_back(std::move(h));
    refs.push_back({hits.back().layer, hits.back().index});
  }
  if (top_k > 0) {
    const auto vt = value_vector_tokens(m, refs, top_k, 0);
    for (size_t r = 0; r < hits.size(); ++r) hits[r].top = vt[r].top;
  }
  return hits;
}

}  // namespace lmdbg
