#include "value_vectors.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <numeric>

#include "core/analysis/search.h"
#include "core/error.h"
#include "core/kernels/gemm.h"
#include "core/kernels/topk.h"

namespace lmdbg {

namespace {

// Tokens per GEMM column block: the [n, 4096] block (1.9 MB for the 120 vectors of a trace)
// stays small while the GEMM runs with M = n rows, which keeps its 4-row tiles and the panel
// reuse of a large-M GEMM (a [32, V] batch ran at half the GFLOP/s in wasm).
constexpr int kColBlock = 4096;
// Vectors per projection batch (rows of one GEMM).
constexpr int kMaxRows = 128;

constexpr float kInf = std::numeric_limits<float>::infinity();

struct Ranked {
  float key;  // value (largest) or -value (smallest); NaN -> -inf, as in kernels::topk
  int id;
  float score;
};
inline bool better(const Ranked& a, const Ranked& b) { return a.key > b.key || (a.key == b.key && a.id < b.id); }
inline float key_of(float v, bool largest) { return std::isnan(v) ? -kInf : (largest ? v : -v); }

// Merges the block's top-k (ids relative to c0) into a running list (topk()'s total order).
void merge(std::vector<Ranked>& run, const float* row, const int* idx, int got, int c0, int k, bool largest) {
  for (int r = 0; r < got; ++r) run.push_back({key_of(row[idx[r]], largest), c0 + idx[r], row[idx[r]]});
  std::sort(run.begin(), run.end(), better);
  if (static_cast<int>(run.size()) > k) run.resize(k);
}

std::vector<TokenScore> to_scores(const std::vector<Ranked>& run) {
  std::vector<TokenScore> out;
  out.reserve(run.size());
  for (const auto& r : run) out.push_back({r.id, r.score, NAN});
  return out;
}

}  // namespace

void project_top_bottom(const Model& m, const float* a, int n, int top_k, int bottom_k,
                        std::vector<std::vector<TokenScore>>& top, std::vector<std::vector<TokenScore>>& bottom,
                        int col_block) {
  const Config& c = m.config();
  const int V = c.d_vocab, d = c.d_model;
  const int B = col_block > 0 ? col_block : kColBlock;
  top.assign(n, {});
  bottom.assign(n, {});
  if (n == 0) return;
  top_k = std::min(top_k, V);
  bottom_k = std::min(bottom_k, V);
  const kernels::PackedMatrix& U = m.weights().W_U;
  std::vector<float> buf(static_cast<size_t>(std::min(n, kMaxRows)) * std::min(B, V));
  std::vector<int> idx(std::max(1, std::max(top_k, bottom_k)));
  std::vector<std::vector<Ranked>> rt(n), rb(n);
  for (int r0 = 0; r0 < n; r0 += kMaxRows) {
    const int rows = std::min(kMaxRows, n - r0);
    for (int c0 = 0; c0 < V; c0 += B) {
      const int c1 = std::min(V, c0 + B), w = c1 - c0;
      const size_t ld = std::min(B, V);
      kernels::gemm_cols(buf.data(), ld, a + static_cast<size_t>(r0) * d, d, rows, U, c0, c1);
      for (int j = 0; j < rows; ++j) {
        const float* row = buf.data() + static_cast<size_t>(j) * ld;
        if (top_k > 0) {
          const int got = kernels::topk(row, w, top_k, idx.data(), true);
          merge(rt[r0 + j], row, idx.data(), got, c0, top_k, true);
        }
        if (bottom_k > 0) {
          const int got = kernels::topk(row, w, bottom_k, idx.data(), false);
          merge(rb[r0 + j], row, idx.data(), got, c0, bottom_k, false);
        }
      }
    }
  }
  for (int j = 0; j < n; ++j) {
    top[j] = to_scores(rt[j]);
    bottom[j] = to_scores(rb[j]);
  }
}

namespace {

// The cut of LM-Debugger's top-N in a list of at least N + 1 best scores (value_index.h).
float top_cut(const std::vector<TokenScore>& top, int n) {
  if (static_cast<int>(top.size()) <= n) return -kInf;  // a vocabulary of at most N tokens: all of them
  return 0.5f * (top[n - 1].logit + top[n].logit);
}

// Projects refs (distinct, not all indexed) and stores every one in the index; returns the lists
// with at least max(top_k, k, 51) / max(bottom_k, k) entries.
void project_and_store(const Model& m, ValueIndex& ix, const std::vector<ValueVectorRef>& refs, int top_k, int bottom_k,
                       std::vector<std::vector<TokenScore>>& top, std::vector<std::vector<TokenScore>>& bottom) {
  const Config& c = m.config();
  const int d = c.d_model;
  const int K = ix.k();
  const int n = static_cast<int>(refs.size());
  std::vector<float> a(static_cast<size_t>(n) * d);
  for (int j = 0; j < n; ++j) m.value_vector(refs[j].layer, refs[j].index, a.data() + static_cast<size_t>(j) * d);
  project_top_bottom(m, a.data(), n, std::max({top_k, K, ValueIndex::kTopCut + 1}), std::max(bottom_k, K), top, bottom);
  std::vector<int32_t> ti(K), bi(K);
  std::vector<float> ts(K), bs(K);
  for (int j = 0; j < n; ++j) {
    if (static_cast<int>(top[j].size()) < K || static_cast<int>(bottom[j].size()) < K) continue;
    for (int r = 0; r < K; ++r) {
      ti[r] = top[j][r].id;
      ts[r] = top[j][r].logit;
      bi[r] = bottom[j][r].id;
      bs[r] = bottom[j][r].logit;
    }
    ix.put(refs[j].layer, refs[j].index, ti.data(), ts.data(), bi.data(), bs.data(), top_cut(top[j], ValueIndex::kTopCut));
  }
}

}  // namespace

std::vector<ValueVectorTokens> value_vector_tokens(const Model& m, ValueIndex& ix, const std::vector<ValueVectorRef>& refs,
                                                   int top_k, int bottom_k) {
  const Config& c = m.config();
  for (const auto& r : refs) m.check_neuron(r.layer, r.index);
  if (top_k < 0 || bottom_k < 0 || top_k > c.d_vocab || bottom_k > c.d_vocab)
    invalid("value vectors: top-k must be in [0, " + std::to_string(c.d_vocab) + "]");
  std::vector<ValueVectorTokens> out(refs.size());
  std::vector<int32_t> ti(top_k), bi(bottom_k);
  std::vector<float> ts(top_k), bs(bottom_k);
  std::map<std::pair<int, int>, int> missing;  // distinct refs to project -> slot in `todo`
  std::vector<ValueVectorRef> todo;
  for (size_t i = 0; i < refs.size(); ++i) {
    const auto& r = refs[i];
    auto& o = out[i];
    o.layer = r.layer;
    o.index = r.index;
    o.norm = m.weights().layers[r.layer].W_out_norms[r.index];
    if (top_k == 0 && bottom_k == 0) continue;
    if (ix.get(r.layer, r.index, top_k, bottom_k, ti.data(), ts.data(), bi.data(), bs.data())) {
      for (int k = 0; k < top_k; ++k) o.top.push_back({ti[k], ts[k], NAN});
      for (int k = 0; k < bottom_k; ++k) o.bottom.push_back({bi[k], bs[k], NAN});
    } else if (!missing.count({r.layer, r.index})) {
      missing[{r.layer, r.index}] = static_cast<int>(todo.size());
      todo.push_back(r);
    }
  }
  if (todo.empty()) return out;
  std::vector<std::vector<TokenScore>> top, bottom;
  project_and_store(m, ix, todo, top_k, bottom_k, top, bottom);
  for (size_t i = 0; i < refs.size(); ++i) {
    auto it = missing.find({refs[i].layer, refs[i].index});
    if (it == missing.end()) continue;
    const auto& t = top[it->second];
    const auto& b = bottom[it->second];
    out[i].top.assign(t.begin(), t.begin() + std::min<size_t>(top_k, t.size()));
    out[i].bottom.assign(b.begin(), b.begin() + std::min<size_t>(bottom_k, b.size()));
  }
  return out;
}

int fill_value_index(const Model& m, ValueIndex& ix, int max_vectors) {
  const Config& c = m.config();
  std::vector<ValueVectorRef> todo;
  {
    std::lock_guard<std::mutex> lock(ix.mutex());
    auto& order = ix.fill_order();
    if (order.empty()) {  // largest norm first; ties by (layer, index)
      order.resize(static_cast<size_t>(c.n_layers) * c.d_mlp);
      std::iota(order.begin(), order.end(), 0);
      const auto& L = m.weights().layers;
      const int D = c.d_mlp;
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return L[a / D].W_out_norms[a % D] > L[b / D].W_out_norms[b % D];
      });
    }
  }
  size_t& cur = ix.fill_cursor();
  const auto& order = ix.fill_order();
  while (static_cast<int>(todo.size()) < max_vectors && cur < order.size()) {
    const int v = order[cur++];
    const int l = v / c.d_mlp, i = v % c.d_mlp;
    if (!ix.has(l, i)) todo.push_back({l, i});
  }
  if (todo.empty()) return 0;
  std::vector<std::vector<TokenScore>> top, bottom;
  project_and_store(m, ix, todo, 0, 0, top, bottom);
  return static_cast<int>(todo.size());
}

// ---------------------------------------------------------------- value_index.bin

namespace {

constexpr char kMagic[8] = {'L', 'M', 'D', 'B', 'G', 'V', 'I', 'X'};
constexpr uint32_t kVersion = 3;  // 2: each entry ends with its top-50 cut; 3: bound to the weights
constexpr size_t kHeader = 48;

// The scores depend on the weights as packed: the checkpoint's bytes (its fingerprint) and the
// storage they were packed to (f16 rounds them, q8 quantizes them).
uint32_t storage_code(const Model& m) { return std::string_view(m.dtype()) == "f32" ? 0 : std::string_view(m.dtype()) == "f16" ? 1 : 2; }
const char* storage_of_code(uint32_t c) { return c == 0 ? "f32" : c == 1 ? "f16" : c == 2 ? "q8" : "?"; }
uint64_t fingerprint_bits(const Model& m) {  // "xxh64:<16 hex digits>"; 0 if the model has none
  const std::string& f = m.fingerprint();
  return f.size() == 22 ? std::stoull(f.substr(6), nullptr, 16) : 0;
}
std::string fingerprint_text(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return "xxh64:" + std::string(b);
}

void put_u32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }

uint32_t get_u32(std::string_view b, size_t o) {
  uint32_t v;
  std::memcpy(&v, b.data() + o, 4);
  return v;
}

[[noreturn]] void bad_index(const std::string& why) { bad_file("value_index.bin: " + why); }

double dot_d(const float* a, const float* b, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace

std::string value_index_to_bytes(const Model& m, const ValueIndex& ix, const SearchStats* stats) {
  const Config& c = m.config();
  const int L = c.n_layers, D = c.d_mlp, K = ix.k();
  if (stats && (stats->n_layers != L || stats->d_mlp != D)) invalid("value index: statistics belong to another model");
  std::string s(kMagic, 8);
  for (uint32_t v : {kVersion, uint32_t(L), uint32_t(D), uint32_t(c.d_vocab), uint32_t(c.d_model), uint32_t(K),
                     uint32_t(stats ? 1 : 0), storage_code(m)})
    put_u32(s, v);
  const uint64_t fp = fingerprint_bits(m);
  s.append(reinterpret_cast<const char*>(&fp), 8);
  std::lock_guard<std::mutex> lock(ix.mutex());
  const auto& flags = ix.filled_flags();
  s.append(reinterpret_cast<const char*>(flags.data()), flags.size());
  s.append((4 - flags.size() % 4) % 4, '\0');
  const size_t per = static_cast<size_t>(2) * K;
  std::vector<char> zero(per * 8 + 4, 0);
  for (int l = 0; l < L; ++l) {
    const auto& ids = ix.layer_ids(l);
    const auto& sc = ix.layer_scores(l);
    for (int i = 0; i < D; ++i) {
      if (ids.empty()) {
        s.append(zero.data(), zero.size());
        continue;
      }
      s.append(reinterpret_cast<const char*>(ids.data() + i * per), per * 4);
      s.append(reinterpret_cast<const char*>(sc.data() + i * per), per * 4);
      s.append(reinterpret_cast<const char*>(ix.layer_cuts(l).data() + i), 4);
    }
  }
  if (stats) {
    s.append(reinterpret_cast<const char*>(stats->mean.data()), stats->mean.size() * 4);
    s.append(reinterpret_cast<const char*>(stats->std.data()), stats->std.size() * 4);
  }
  return s;
}

bool value_index_from_bytes(const Model& m, ValueIndex& ix, std::string_view b, SearchStats* stats_out) {
  const Config& c = m.config();
  const int L = c.n_layers, D = c.d_mlp, V = c.d_vocab, d = c.d_model;
  const int K = ix.k();
  if (b.size() < 12 || std::memcmp(b.data(), kMagic, 8) != 0) bad_index("not an lmdbg value index (bad magic)");
  if (get_u32(b, 8) == 1 || get_u32(b, 8) == 2)
    bad_index("written by an older lmdbg (version " + std::to_string(get_u32(b, 8)) +
              (get_u32(b, 8) == 1 ? ", without the top-50 cuts" : ", not bound to the weights' fingerprint") +
              "); rebuild it with `lmdbg index`");
  if (get_u32(b, 8) != kVersion) bad_index("unsupported version " + std::to_string(get_u32(b, 8)));
  if (b.size() < kHeader) bad_index("truncated header");
  // Bound to the weights first: another checkpoint's index would give wrong tokens.
  uint64_t fp;
  std::memcpy(&fp, b.data() + 40, 8);
  if (fp != fingerprint_bits(m))
    bad_index("written for other weights (" + fingerprint_text(fp) + ", but model.safetensors is " + m.fingerprint() +
              "); rebuild it with `lmdbg index`");
  if (get_u32(b, 36) != storage_code(m))
    bad_index(std::string("written for the weights loaded as ") + storage_of_code(get_u32(b, 36)) + ", but this model is " +
              m.dtype() + "; rebuild it with `lmdbg index MODEL --dtype " + m.dtype() + "` or load the model as " +
              storage_of_code(get_u32(b, 36)));
  const uint32_t fl = get_u32(b, 8 + 6 * 4);  // the word after k
  const uint32_t dims[5] = {get_u32(b, 12), get_u32(b, 16), get_u32(b, 20), get_u32(b, 24), get_u32(b, 28)};
  const uint32_t want[5] = {uint32_t(L), uint32_t(D), uint32_t(V), uint32_t(d), uint32_t(K)};
  const char* names[5] = {"n_layers", "d_mlp", "d_vocab", "d_model", "k"};
  for (int i = 0; i < 5; ++i)
    if (dims[i] != want[i])
      bad_index("written for " + std::string(names[i]) + " = " + std::to_string(dims[i]) + ", but this model has " +
                std::to_string(want[i]));
  if (fl > 1) bad_index("unknown flags " + std::to_string(fl));
  const bool has_stats = fl & 1;
  const size_t n = static_cast<size_t>(L) * D, per = static_cast<size_t>(2) * K;
  const size_t flags_bytes = (n + 3) / 4 * 4;
  const size_t entry_bytes = per * 8 + 4;
  const size_t need = kHeader + flags_bytes + n * entry_bytes + (has_stats ? n * 8 : 0);
  if (b.size() != need)
    bad_index("expected " + std::to_string(need) + " bytes for this model, got " + std::to_string(b.size()));
  const auto* flags = reinterpret_cast<const uint8_t*>(b.data() + kHeader);
  const char* entries = b.data() + kHeader + flags_bytes;
  auto entry = [&](size_t v, std::vector<int32_t>& ids, std::vector<float>& sc) {
    ids.resize(per);
    sc.resize(per);
    std::memcpy(ids.data(), entries + v * entry_bytes, per * 4);
    std::memcpy(sc.data(), entries + v * entry_bytes + per * 4, per * 4);
  };
  auto cut_of = [&](size_t v) {
    float c;
    std::memcpy(&c, entries + v * entry_bytes + per * 8, 4);
    return c;
  };
  // Structure: ids in range, lists sorted the way topk() sorts them.
  std::vector<int32_t> ids;
  std::vector<float> sc;
  std::vector<size_t> present;
  for (size_t v = 0; v < n; ++v) {
    if (flags[v] > 1) bad_index("bad flag for vector " + std::to_string(v));
    if (!flags[v]) continue;
    present.push_back(v);
    entry(v, ids, sc);
    for (size_t r = 0; r < per; ++r)
      if (ids[r] < 0 || ids[r] >= V) bad_index("token id " + std::to_string(ids[r]) + " out of range");
    for (int r = 1; r < K; ++r)
      if (!(sc[r - 1] >= sc[r]) || !(sc[K + r - 1] <= sc[K + r])) bad_index("unsorted token list for vector " + std::to_string(v));
    const float cut = cut_of(v);  // below the top-k (k <= 50), or -inf for a vocabulary of at most 50 tokens
    if (std::isnan(cut) || cut > sc[K - 1] || (V > ValueIndex::kTopCut && !std::isfinite(cut)))
      bad_index("bad top-50 cut for vector " + std::to_string(v));
  }
  SearchStats st;
  if (has_stats) {
    st.n_layers = L;
    st.d_mlp = D;
    st.mean.resize(n);
    st.std.resize(n);
    const char* p = entries + n * entry_bytes;
    std::memcpy(st.mean.data(), p, n * 4);
    std::memcpy(st.std.data(), p + n * 4, n * 4);
    for (size_t v = 0; v < n; ++v)
      if (!std::isfinite(st.mean[v]) || !(st.std[v] > 0.f) || !std::isfinite(st.std[v]))
        bad_index("bad search statistics for vector " + std::to_string(v));
  }
  // Against the weights: the scores of a sample of vectors recomputed (a mismatch means the file was
  // written for other weights); one vector projected in full: its lists must be the true top/bottom
  // (within f32 rounding: an index written natively, with FMA, may differ from wasm in the last bits).
  std::vector<float> v(d), e(d);
  auto tol = [](double s) { return 1e-3 * std::max(1.0, std::fabs(s)); };
  const size_t step = std::max<size_t>(1, present.size() / 32);
  for (size_t q = 0; q < present.size(); q += step) {
    const size_t vi = present[q];
    entry(vi, ids, sc);
    m.value_vector(static_cast<int>(vi / D), static_cast<int>(vi % D), v.data());
    for (size_t r : {size_t(0), size_t(K)}) {
      m.embedding(ids[r], e.data());
      const double s = dot_d(v.data(), e.data(), d);
      if (std::fabs(s - sc[r]) > tol(s))
        bad_index("does not match these weights (vector L" + std::to_string(vi / D) + "D" + std::to_string(vi % D) +
                  ": stored score " + std::to_string(sc[r]) + ", computed " + std::to_string(s) +
                  "); rebuild it with `lmdbg index`");
    }
  }
  const size_t full = present.empty() ? (has_stats ? 0 : n) : present[present.size() / 2];
  if (full < n) {
    const int l = static_cast<int>(full / D), i = static_cast<int>(full % D);
    const auto r = value_projection(m, l, i);
    std::vector<float> sorted(r);
    std::sort(sorted.begin(), sorted.end());
    if (flags[full]) {
      entry(full, ids, sc);
      const double kth_top = sorted[V - K], kth_bottom = sorted[K - 1];
      for (int q = 0; q < K; ++q) {
        if (std::fabs(r[ids[q]] - sc[q]) > tol(sc[q]) || std::fabs(r[ids[K + q]] - sc[K + q]) > tol(sc[K + q]))
          bad_index("does not match these weights (scores of L" + std::to_string(l) + "D" + std::to_string(i) + ")");
      }
      if (sc[K - 1] < kth_top - tol(kth_top) || sc[2 * K - 1] > kth_bottom + tol(kth_bottom))
        bad_index("does not match these weights (token lists of L" + std::to_string(l) + "D" + std::to_string(i) + ")");
      const int N = ValueIndex::kTopCut;
      if (V > N && std::fabs(cut_of(full) - 0.5 * (sorted[V - N] + sorted[V - N - 1])) > tol(cut_of(full)))
        bad_index("does not match these weights (top-50 cut of L" + std::to_string(l) + "D" + std::to_string(i) + ")");
    }
    if (has_stats) {
      double mean = 0, var = 0;
      for (float x : r) mean += x;
      mean /= V;
      for (float x : r) var += (x - mean) * (x - mean);
      const double sd = std::sqrt(var / V);
      if (std::fabs(mean - st.mean[full]) > 1e-3 * std::max(1.0, sd) || std::fabs(sd - st.std[full]) > 1e-3 * sd)
        bad_index("search statistics do not match these weights (L" + std::to_string(l) + "D" + std::to_string(i) + ")");
    }
  }
  // Accepted: store everything.
  for (size_t vi : present) {
    entry(vi, ids, sc);
    ix.put(static_cast<int>(vi / D), static_cast<int>(vi % D), ids.data(), sc.data(), ids.data() + K, sc.data() + K,
           cut_of(vi));
  }
  if (has_stats && stats_out) *stats_out = std::move(st);
  return has_stats;
}

std::vector<float> value_projection(const Model& m, int layer, int index) {
  m.check_neuron(layer, index);
  const Config& c = m.config();
  std::vector<float> v(c.d_model), r(c.d_vocab);
  m.value_vector(layer, index, v.data());
  kernels::gemm(r.data(), c.d_vocab, v.data(), c.d_model, 1, m.weights().W_U);
  return r;
}

std::string value_vector_name(int layer, int index) { return "L" + std::to_string(layer) + "D" + std::to_string(index); }
std::string head_name(int layer, int head) { return "L" + std::to_string(layer) + "H" + std::to_string(head); }

ValueVectorRef parse_value_vector_name(const std::string& s) {
  ValueVectorRef r;
  const char* p = s.data();
  const char* end = s.data() + s.size();
  auto fail_parse = [&] { invalid("\"" + s + "\" is not a value-vector name like L12D34"); };
  if (p == end || (*p != 'L' && *p != 'l')) fail_parse();
  auto [q, ec] = std::from_chars(p + 1, end, r.layer);
  if (ec != std::errc() || q == end || (*q != 'D' && *q != 'd')) fail_parse();
  auto [e, ec2] = std::from_chars(q + 1, end, r.index);
  if (ec2 != std::errc() || e != end) fail_parse();
  return r;
}

std::vector<ValueVectorRef> value_vector_refs_from_json(const io::json& j) {
  if (!j.is_array()) invalid("value vectors: expected [layer, index] pairs");
  std::vector<ValueVectorRef> refs;
  for (const auto& r : j) {
    if (!r.is_array() || r.size() != 2) invalid("value vectors: expected [layer, index] pairs");
    refs.push_back({io::json_int(r[0], "value vectors: layer"), io::json_int(r[1], "value vectors: index")});
  }
  return refs;
}

}  // namespace lmdbg
