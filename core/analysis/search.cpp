#include "search.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/kernels/gemm.h"
#include "core/kernels/rows.h"
#include "core/kernels/topk.h"

namespace lmdbg {

namespace {

constexpr int kChunk = 256;      // tokens (covariance) or vectors (quadratic forms) per unit of work
constexpr int kMuChunk = 4096;   // tokens per unit while averaging wte
constexpr int kRowBlock = 96;    // rows of Σ per GEMM call (upper triangle: columns from the block on)
constexpr int kColBlockU = 64;   // columns of U per packed block (vᵀΣv)

}  // namespace

struct SearchStatsBuilder::Impl {
  const Model& m;
  int d, V, L, D;
  int phase = 0;  // 0: mean of wte, 1: covariance, 2: pack U, 3: per-vector moments, 4: done
  int pos = 0;    // token (phases 0-1) or layer * D + vector (phase 3)
  size_t units_done = 0, units_total = 0;
  std::vector<double> mu_acc, sigma;  // sigma: upper triangle of sum_t (w_t - mu)(w_t - mu)^T
  std::vector<float> mu, at, prod, a, y;
  struct UBlock {
    int i0, i1;
    kernels::PackedMatrix w;  // [d - i0, i1 - i0]: w[jj, ii] = U[i0 + ii, i0 + jj]
  };
  std::vector<UBlock> ublocks;
  SearchStats st;

  explicit Impl(const Model& model) : m(model) {
    const Config& c = m.config();
    d = c.d_model;
    V = c.d_vocab;
    L = c.n_layers;
    D = c.d_mlp;
    units_total = (V + kMuChunk - 1) / kMuChunk + (V + kChunk - 1) / kChunk + 1 +
                  static_cast<size_t>(L) * ((D + kChunk - 1) / kChunk);
    mu_acc.assign(d, 0.0);
    st.n_layers = L;
    st.d_mlp = D;
    st.mean.resize(static_cast<size_t>(L) * D);
    st.std.resize(st.mean.size());
  }

  void unit() {
    const kernels::PackedMatrix& U = m.weights().W_U;  // [d, V]: column t = wte[t]
    if (phase == 0) {  // mu, in double
      const int n = std::min(kMuChunk, V - pos);
      at.resize(static_cast<size_t>(d) * n);
      kernels::copy_cols(U, pos, pos + n, at.data(), n);
      for (int k = 0; k < d; ++k) {
        const float* r = at.data() + static_cast<size_t>(k) * n;
        double s = 0;
        for (int j = 0; j < n; ++j) s += r[j];
        mu_acc[k] += s;
      }
      pos += n;
      if (pos == V) {
        mu.resize(d);
        for (int k = 0; k < d; ++k) mu[k] = static_cast<float>(mu_acc[k] / V);
        sigma.assign(static_cast<size_t>(d) * d, 0.0);
        prod.resize(static_cast<size_t>(d) * d);
        phase = 1;
        pos = 0;
      }
    } else if (phase == 1) {  // Σ += Rᵀ R over the chunk, R = wte[t0:t1] - mu; upper triangle only
      const int n = std::min(kChunk, V - pos);
      at.resize(static_cast<size_t>(d) * n);  // Rᵀ [d, n]
      kernels::copy_cols(U, pos, pos + n, at.data(), n);
      for (int k = 0; k < d; ++k) {
        float* r = at.data() + static_cast<size_t>(k) * n;
        for (int j = 0; j < n; ++j) r[j] -= mu[k];
      }
      // W = R [n, d] (the transposed view of Rᵀ): prod[i, j] = sum_t Rᵀ[i, t] R[t, j].
      const auto w = kernels::PackedMatrix::pack({at.data(), kernels::DType::kF32, d, n, true}, nullptr,
                                                 kernels::Storage::kF32);
      for (int i0 = 0; i0 < d; i0 += kRowBlock) {
        const int i1 = std::min(d, i0 + kRowBlock);
        float* c0 = prod.data() + static_cast<size_t>(i0) * d + i0;
        kernels::gemm_cols(c0, d, at.data() + static_cast<size_t>(i0) * n, n, i1 - i0, w, i0, d);
        for (int i = i0; i < i1; ++i) {
          double* s = sigma.data() + static_cast<size_t>(i) * d;
          const float* p = prod.data() + static_cast<size_t>(i) * d;
          for (int j = i; j < d; ++j) s[j] += p[j];
        }
      }
      pos += n;
      if (pos == V) {
        phase = 2;
        pos = 0;
        std::vector<float>().swap(at);
        std::vector<float>().swap(prod);
      }
    } else if (phase == 2) {  // U = upper triangle of Σ / V, diagonal halved, as column blocks
      std::vector<float> blk;
      for (int i0 = 0; i0 < d; i0 += kColBlockU) {
        const int i1 = std::min(d, i0 + kColBlockU), nb = i1 - i0, kb = d - i0;
        blk.assign(static_cast<size_t>(kb) * nb, 0.f);
        for (int jj = 0; jj < kb; ++jj) {
          const int j = i0 + jj;
          for (int ii = 0; ii < nb; ++ii) {
            const int i = i0 + ii;
            if (j < i) continue;
            const double v = sigma[static_cast<size_t>(i) * d + j] / V;
            blk[static_cast<size_t>(jj) * nb + ii] = static_cast<float>(j == i ? 0.5 * v : v);
          }
        }
        ublocks.push_back({i0, i1, kernels::PackedMatrix::pack({blk.data(), kernels::DType::kF32, kb, nb}, nullptr,
                                                               kernels::Storage::kF32)});
      }
      std::vector<double>().swap(sigma);
      a.resize(static_cast<size_t>(kChunk) * d);
      y.resize(static_cast<size_t>(kChunk) * d);
      phase = 3;
      pos = 0;
    } else if (phase == 3) {  // per vector: mean = mu·v, var = vᵀΣv = 2 v·(U v)
      const int l = pos / D, i0 = pos % D, n = std::min(kChunk, D - i0);
      const kernels::PackedMatrix& P = m.weights().layers[l].W_out;
      if (i0 == 0) kernels::rows_dot(P, mu.data(), 1, d, st.mean.data() + static_cast<size_t>(l) * D, D, 0, D);
      kernels::copy_rows(P, i0, i0 + n, a.data(), d);
      for (const auto& b : ublocks)
        kernels::gemm(y.data() + b.i0, d, a.data() + b.i0, d, n, b.w);
      for (int j = 0; j < n; ++j) {
        const float* v = a.data() + static_cast<size_t>(j) * d;
        const float* uv = y.data() + static_cast<size_t>(j) * d;
        double q = 0;
        for (int k = 0; k < d; ++k) q += static_cast<double>(v[k]) * uv[k];
        st.std[static_cast<size_t>(l) * D + i0 + j] = static_cast<float>(std::sqrt(std::max(2 * q, 1e-30)));
      }
      pos += n;
      if (pos == L * D) phase = 4;
    }
    ++units_done;
  }
};

SearchStatsBuilder::SearchStatsBuilder(const Model& m) : impl_(std::make_unique<Impl>(m)) {}
SearchStatsBuilder::~SearchStatsBuilder() = default;

bool SearchStatsBuilder::step(int units) {
  for (int u = 0; u < units && impl_->phase < 4; ++u) impl_->unit();
  return impl_->phase == 4;
}

double SearchStatsBuilder::progress() const {
  return impl_->phase == 4 ? 1.0 : static_cast<double>(impl_->units_done) / impl_->units_total;
}

SearchStats SearchStatsBuilder::take() {
  if (impl_->phase != 4) fail(ErrorCode::kState, "search statistics: not complete");
  return std::move(impl_->st);
}

SearchStats compute_search_stats(const Model& m) {
  SearchStatsBuilder b(m);
  while (!b.step(1 << 20)) {
  }
  return b.take();
}

namespace {

// Simple case mapping of one code point: ASCII, Latin-1 (not × ÷ ß ÿ), Greek, Cyrillic.
char32_t map_case(char32_t c, bool upper) {
  auto shift = [&](char32_t lo0, char32_t lo1, char32_t delta) -> char32_t {
    if (upper && c >= lo0 && c <= lo1) return c - delta;
    if (!upper && c >= lo0 - delta && c <= lo1 - delta) return c + delta;
    return c;
  };
  if (c < 0x80) return shift(U'a', U'z', 0x20);
  if (c >= 0xC0 && c <= 0xFE && c != 0xD7 && c != 0xF7 && c != 0xDF) return shift(0xE0, 0xFE, 0x20);
  if (c >= 0x391 && c <= 0x3C9 && c != 0x3A2 && c != 0x3C2) return shift(0x3B1, 0x3C9, 0x20);
  if (c >= 0x400 && c <= 0x40F) return upper ? c : c + 0x50;
  if (c >= 0x450 && c <= 0x45F) return upper ? c - 0x50 : c;
  if (c >= 0x410 && c <= 0x44F) return shift(0x430, 0x44F, 0x20);
  return c;
}

// UTF-8 -> code points; false on malformed text (then it is matched as typed only).
bool decode_utf8(const std::string& s, std::u32string& out) {
  out.clear();
  for (size_t i = 0; i < s.size();) {
    const unsigned char b = s[i];
    const int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    char32_t c = n == 1 ? b : b & (0x7F >> n);
    for (int k = 1; k < n; ++k) {
      const unsigned char t = s[i + k];
      if ((t >> 6) != 2) return false;
      c = (c << 6) | (t & 0x3F);
    }
    out.push_back(c);
    i += n;
  }
  return true;
}

std::string encode_utf8(const std::u32string& cs) {
  std::string out;
  for (char32_t c : cs) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> case_variants(const std::string& kw) {
  std::vector<std::string> out = {kw};
  std::u32string cs;
  if (!decode_utf8(kw, cs) || cs.empty()) return out;
  std::u32string lower = cs, upper = cs;
  for (auto& c : lower) c = map_case(c, false);
  for (auto& c : upper) c = map_case(c, true);
  std::u32string title = lower;
  title[0] = map_case(title[0], true);
  for (const auto& v : {lower, title, upper}) {
    const std::string e = encode_utf8(v);
    if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
  }
  return out;
}

std::vector<KeywordTokens> keyword_tokens(const Model& m, const std::vector<std::string>& keywords) {
  std::vector<KeywordTokens> out;
  for (const auto& raw : keywords) {
    // Trim surrounding whitespace; the leading-space variant is added explicitly.
    const auto b = raw.find_first_not_of(" \t\n\r");
    if (b == std::string::npos) continue;
    const std::string kw = raw.substr(b, raw.find_last_not_of(" \t\n\r") - b + 1);
    KeywordTokens k{kw, {}, false, {}};
    std::vector<std::vector<int>> spellings;
    for (const auto& v : case_variants(kw)) {
      spellings.push_back(m.tokenizer().encode(v));
      spellings.push_back(m.tokenizer().encode(" " + v));
    }
    k.multi_token = std::none_of(spellings.begin(), spellings.end(), [](const auto& ids) { return ids.size() == 1; });
    for (const auto& ids : spellings)
      if (!ids.empty() && (ids.size() == 1 || k.multi_token) &&
          std::find(k.tokens.begin(), k.tokens.end(), ids[0]) == k.tokens.end())
        k.tokens.push_back(ids[0]);
    if (k.multi_token) k.pieces = spellings[1];
    out.push_back(std::move(k));
  }
  if (out.empty()) invalid("search: no keywords given");
  return out;
}

namespace {

// z[j][i] for tokens[j] and every value vector i: v·e_j for a whole layer at once (rows_dot reads
// the packed c_proj once for all tokens).
std::vector<std::vector<float>> zscores(const Model& m, const SearchStats& s, const std::vector<int>& tokens) {
  const Config& c = m.config();
  m.check_tokens(tokens.data(), tokens.size());
  if (s.n_layers != c.n_layers || s.d_mlp != c.d_mlp) invalid("search: statistics belong to another model");
  const int d = c.d_model, q = static_cast<int>(tokens.size()), D = c.d_mlp;
  std::vector<float> e(static_cast<size_t>(q) * d), dots(static_cast<size_t>(q) * D);
  for (int j = 0; j < q; ++j) m.embedding(tokens[j], e.data() + static_cast<size_t>(j) * d);
  std::vector<std::vector<float>> z(q, std::vector<float>(static_cast<size_t>(c.n_layers) * D));
  for (int l = 0; l < c.n_layers; ++l) {
    kernels::rows_dot(m.weights().layers[l].W_out, e.data(), q, d, dots.data(), D, 0, D);
    for (int j = 0; j < q; ++j)
      for (int i = 0; i < D; ++i) {
        const size_t idx = static_cast<size_t>(l) * D + i;
        z[j][idx] = (dots[static_cast<size_t>(j) * D + i] - s.mean[idx]) / s.std[idx];
      }
  }
  return z;
}

}  // namespace

std::vector<float> token_zscores(const Model& m, const SearchStats& s, int token) {
  return std::move(zscores(m, s, {token})[0]);
}

std::vector<SearchHit> search_value_vectors(const Model& m, const SearchStats& s, const std::vector<std::string>& keywords,
                                            const SearchOptions& opt, const ValueIndex* index) {
  const Config& c = m.config();
  const int n = c.n_layers * c.d_mlp, D = c.d_mlp;
  if (opt.limit < 1 || opt.limit > n) invalid("search: limit must be in [1, " + std::to_string(n) + "]");
  const bool lmd = opt.ranking == SearchRanking::kLmDebugger;
  if (lmd && (!index || index->filled() != index->total()))
    fail(ErrorCode::kState, "search: LM-Debugger's ranking needs every value vector's top 50 (the value index is not complete)");
  const auto kws = keyword_tokens(m, keywords);
  std::vector<int> all_tokens;
  for (const auto& k : kws)
    for (int t : k.tokens)
      if (std::find(all_tokens.begin(), all_tokens.end(), t) == all_tokens.end()) all_tokens.push_back(t);
  const auto z = zscores(m, s, all_tokens);
  // Per keyword: the best z over its tokens, and which token gave it; with LM-Debugger's ranking,
  // whether any of its tokens is among the vector's top 50 (wte[t]·v = z·std + mean above the cut).
  std::vector<float> total(n, 0.f), count(n, 0.f);
  std::vector<std::vector<float>> best(kws.size(), std::vector<float>(n, -INFINITY));
  std::vector<std::vector<int>> best_tok(kws.size(), std::vector<int>(n, -1));
  std::vector<std::vector<uint8_t>> in_top(kws.size(), std::vector<uint8_t>(lmd ? n : 0, 0));
  for (size_t k = 0; k < kws.size(); ++k) {
    for (int t : kws[k].tokens) {
      const auto& zt = z[std::find(all_tokens.begin(), all_tokens.end(), t) - all_tokens.begin()];
      for (int i = 0; i < n; ++i) {
        if (zt[i] > best[k][i]) best[k][i] = zt[i], best_tok[k][i] = t;
        if (lmd && zt[i] * s.std[i] + s.mean[i] > index->layer_cuts(i / D)[i % D]) in_top[k][i] = 1;
      }
    }
    for (int i = 0; i < n; ++i) {
      total[i] += best[k][i];
      if (lmd) count[i] += in_top[k][i];
    }
  }
  std::vector<int> idx(opt.limit);
  int got = 0;
  if (!lmd) {
    got = kernels::topk(total.data(), n, opt.limit, idx.data());
  } else {  // keywords present, then the z sum, then the lower index
    std::vector<int> all(n);
    for (int i = 0; i < n; ++i) all[i] = i;
    std::partial_sort(all.begin(), all.begin() + opt.limit, all.end(), [&](int a, int b) {
      return count[a] != count[b] ? count[a] > count[b] : total[a] != total[b] ? total[a] > total[b] : a < b;
    });
    std::copy_n(all.begin(), opt.limit, idx.begin());
    got = opt.limit;
  }
  std::vector<SearchHit> hits;
  for (int r = 0; r < got; ++r) {
    const int i = idx[r];
    if (lmd && count[i] == 0) break;  // no keyword among its top 50: not a hit
    SearchHit h;
    h.layer = i / D;
    h.index = i % D;
    h.z_sum = total[i];
    h.score = lmd ? count[i] : total[i];
    h.weak = true;
    for (size_t k = 0; k < kws.size(); ++k) {
      KeywordMatch mt{best_tok[k][i], best[k][i], best[k][i] < kWeakZ, lmd && in_top[k][i]};
      h.weak &= mt.weak;
      h.matched.push_back(mt);
    }
    hits.push_back(std::move(h));
  }
  return hits;
}

}  // namespace lmdbg
