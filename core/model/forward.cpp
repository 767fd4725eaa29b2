#include "forward.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/error.h"
#include "core/kernels/gemm.h"
#include "core/kernels/parallel.h"
#include "core/ops/attention.h"
#include "core/ops/gelu.h"
#include "core/ops/head_result.h"
#include "core/ops/layernorm.h"

namespace lmdbg {

HookSet HookEditors::edits() const {
  HookSet s;
  for (const HookEditor* e : editors_) s.bits |= e->edits().bits;
  return s;
}

void HookEditors::edit(Hook h, int layer, int p0, int T, int width, float* x) const {
  for (const HookEditor* e : editors_)
    if (e->edits().has(h)) e->edit(h, layer, p0, T, width, x);
}

const char* phase_name(Phase p) {
  static const char* const names[kPhaseCount] = {"layer norms",        "QKV projection", "attention",
                                                 "attention output",   "MLP in",         "GELU",
                                                 "MLP out",            "unembedding",    "serial: buffers, embeddings, residual adds, copies"};
  return names[static_cast<int>(p)];
}

namespace {

// Charges the time since the previous lap (and the pool's fork-joins in it) to a phase.
class Laps {
 public:
  explicit Laps(ForwardProfile* p) : p_(p) {
    if (p_) mark();
  }
  void operator()(Phase ph, int calls = 1) {
    if (!p_) return;
    const auto t0 = t_;
    const kernels::PoolCounters c0 = c_;
    mark();
    const int i = static_cast<int>(ph);
    p_->seconds[i] += std::chrono::duration<double>(t_ - t0).count();
    p_->calls[i] += calls;
    p_->jobs[i] += c_.jobs - c0.jobs;
    p_->tasks[i] += c_.tasks - c0.tasks;
    p_->caller_tasks[i] += c_.caller_tasks - c0.caller_tasks;
    p_->join_wait[i] += c_.join_wait_seconds - c0.join_wait_seconds;
  }

 private:
  void mark() {
    c_ = kernels::pool_counters();
    t_ = std::chrono::steady_clock::now();
  }
  ForwardProfile* p_;
  std::chrono::steady_clock::time_point t_;
  kernels::PoolCounters c_;
};

// dst[t, 0..n) = src[t, 0..n) for t < rows (row strides ldd, lds floats).
void copy_block(float* dst, size_t ldd, const float* src, size_t lds, int rows, int n) {
  for (int t = 0; t < rows; ++t) std::memcpy(dst + t * ldd, src + t * lds, n * sizeof(float));
}

}  // namespace

State::State(const Model& model) : model_(model) {
  kcache_.resize(model.config().n_layers);
  vcache_.resize(model.config().n_layers);
}

void State::truncate(int n) {
  if (n < 0 || n > n_past_)
    invalid("truncate(" + std::to_string(n) + "): the cache holds " + std::to_string(n_past_) + " positions");
  n_past_ = n;
}

void State::ensure_cache(int n) {
  if (n <= cache_cap_) return;
  const Config& c = model_.config();
  int cap = std::max(n, std::min(c.n_ctx, std::max(64, 2 * cache_cap_)));
  for (int l = 0; l < c.n_layers; ++l) {
    kcache_[l].resize(static_cast<size_t>(cap) * c.d_model);
    vcache_[l].resize(static_cast<size_t>(cap) * c.d_model);
  }
  cache_cap_ = cap;
}

int State::hook_width(Hook h) const {
  const Config& c = model_.config();
  switch (h) {
    case Hook::kAttnScores:
    case Hook::kPattern: return c.n_heads * (p0_ + T_);
    case Hook::kResult: return c.n_heads * c.d_model;
    case Hook::kMlpPre:
    case Hook::kMlpPost: return c.d_mlp;
    default: return c.d_model;
  }
}

float* State::slot(Hook h, int layer) {
  const int i = static_cast<int>(h);
  const size_t n = static_cast<size_t>(T_) * hook_width(h);
  if (kept_.has(h)) return kept_store_[i].data() + (hook_is_per_layer(h) ? layer * n : 0);
  return scratch_[i].data();
}

const float* State::hook(Hook h, int layer) const {
  if (!kept_.has(h)) return nullptr;
  const size_t n = static_cast<size_t>(T_) * hook_width(h);
  return kept_store_[static_cast<int>(h)].data() + (hook_is_per_layer(h) ? layer * n : 0);
}

void State::forward(std::span<const int> tokens, const ForwardOptions& opt) {
  const Config& c = model_.config();
  const Weights& w = model_.weights();
  const int T = static_cast<int>(tokens.size());
  if (T == 0) invalid("forward: no tokens (the prompt is empty)");
  if (n_past_ + T > c.n_ctx)
    invalid("sequence of " + std::to_string(n_past_ + T) + " tokens exceeds the model's context of " +
            std::to_string(c.n_ctx));
  model_.check_tokens(tokens.data(), tokens.size());
  if (opt.first_layer < 0 || opt.first_layer >= c.n_layers || (opt.first_layer > 0 && !opt.resid_in))
    invalid("forward: first_layer " + std::to_string(opt.first_layer) + " needs a layer in [0, " +
            std::to_string(c.n_layers) + ") and, above 0, its resid_pre");
  const HookSet edits = opt.editor ? opt.editor->edits() : HookSet::none();
  for (int i = 0; i < kHookCount; ++i)
    if (edits.has(static_cast<Hook>(i)) && !hook_editable(static_cast<Hook>(i)))
      fail(ErrorCode::kState, std::string("forward: hook ") + hook_suffix(static_cast<Hook>(i)) + " cannot be edited");

  const int d = c.d_model, H = c.n_heads, dh = c.d_head(), m = c.d_mlp, L = c.n_layers;
  const int P = n_past_;
  Laps lap(opt.profile);
  ensure_cache(P + T);
  T_ = T;
  p0_ = P;
  kept_ = opt.keep;
  for (int i = 0; i < kHookCount; ++i) {
    const Hook h = static_cast<Hook>(i);
    const size_t n = static_cast<size_t>(T) * hook_width(h);
    if (kept_.has(h)) {
      kept_store_[i].resize(n * (hook_is_per_layer(h) ? L : 1));
      scratch_[i].clear();
    } else if (!hook_on_demand(h) || edits.has(h)) {
      scratch_[i].resize(n);
    }
  }
  qkv_.resize(static_cast<size_t>(T) * 3 * d);
  x_.resize(static_cast<size_t>(T) * d);  // members: no allocation per call once warm
  Buffer& x = x_;
  // Lets the editor change hook h of layer l in place ([T, width] at p).
  auto edit = [&](Hook h, int l, float* p) {
    if (edits.has(h)) opt.editor->edit(h, l, P, T, hook_width(h), p);
  };
  // An on-demand hook (hooks.h) is computed only when it is kept or edited.
  auto wanted = [&](Hook h) { return kept_.has(h) || edits.has(h); };
  // The residual stream: edited in x itself, then copied out when kept.
  auto resid = [&](Hook h, int l) {
    edit(h, l, x.data());
    if (kept_.has(h)) std::memcpy(slot(h, l), x.data(), x.size() * 4);
  };

  if (opt.resid_in) {
    std::memcpy(x.data(), opt.resid_in, x.size() * 4);
  } else {  // Embeddings.
    float* emb = slot(Hook::kEmbed, 0);
    float* pos = slot(Hook::kPosEmbed, 0);
    for (int t = 0; t < T; ++t) {
      model_.embedding(tokens[t], emb + static_cast<size_t>(t) * d);
      std::memcpy(pos + static_cast<size_t>(t) * d, w.W_pos.data() + static_cast<size_t>(P + t) * d, d * 4);
    }
    edit(Hook::kEmbed, 0, emb);
    edit(Hook::kPosEmbed, 0, pos);
    for (size_t i = 0; i < x.size(); ++i) x[i] = emb[i] + pos[i];
  }
  lap(Phase::kOther, 0);

  for (int l = opt.first_layer; l < L; ++l) {
    const LayerWeights& lw = w.layers[l];
    resid(Hook::kResidPre, l);

    // Attention.
    float* ln1 = slot(Hook::kLn1, l);
    lap(Phase::kOther, 0);
    ops::layernorm(ln1, x.data(), lw.ln1_w.data(), lw.ln1_b.data(), T, d, c.ln_eps);
    lap(Phase::kLayerNorm);
    edit(Hook::kLn1, l, ln1);
    lap(Phase::kOther, 0);
    kernels::gemm(qkv_.data(), 3 * d, ln1, d, T, lw.W_QKV);
    lap(Phase::kQkv);
    // hook_q, hook_k, hook_v: column blocks of qkv, copied out when wanted; an edit goes back into
    // qkv before the cache and the attention read it.
    for (int j = 0; j < 3; ++j) {
      const Hook h = j == 0 ? Hook::kQ : j == 1 ? Hook::kK : Hook::kV;
      if (!wanted(h)) continue;
      float* s = slot(h, l);
      copy_block(s, d, qkv_.data() + j * d, 3 * d, T, d);
      if (!edits.has(h)) continue;
      edit(h, l, s);
      copy_block(qkv_.data() + j * d, 3 * d, s, d, T, d);
    }
    float* kc = kcache_[l].data();
    float* vc = vcache_[l].data();
    for (int t = 0; t < T; ++t) {
      std::memcpy(kc + static_cast<size_t>(P + t) * d, qkv_.data() + static_cast<size_t>(t) * 3 * d + d, d * 4);
      std::memcpy(vc + static_cast<size_t>(P + t) * d, qkv_.data() + static_cast<size_t>(t) * 3 * d + 2 * d, d * 4);
    }
    float* scores = kept_.has(Hook::kAttnScores) ? slot(Hook::kAttnScores, l) : nullptr;
    float* pattern = kept_.has(Hook::kPattern) ? slot(Hook::kPattern, l) : nullptr;
    float* z = slot(Hook::kZ, l);
    lap(Phase::kOther, 0);
    ops::attention_forward(z, scores, pattern, qkv_.data(), 3 * d, kc, vc, d, T, P, H, dh);
    lap(Phase::kAttention);
    edit(Hook::kZ, l, z);
    // attn_out = z · W_O + b_O; per head (hook_result) only when wanted, and from the heads when edited.
    float* attn_out = slot(Hook::kAttnOut, l);
    float* result = wanted(Hook::kResult) ? slot(Hook::kResult, l) : nullptr;
    if (result) ops::head_result(result, z, d, lw.W_O, T, H, dh);
    if (edits.has(Hook::kResult)) {
      edit(Hook::kResult, l, result);
      ops::sum_heads(attn_out, result, lw.W_O, T, H);
    } else {
      lap(Phase::kOther, 0);
      kernels::gemm(attn_out, d, z, d, T, lw.W_O);
    }
    lap(Phase::kAttnOut);
    edit(Hook::kAttnOut, l, attn_out);
    for (size_t i = 0; i < x.size(); ++i) x[i] += attn_out[i];
    resid(Hook::kResidMid, l);

    // MLP: u = ln2(x) · W_in (hook_pre), m = gelu(u) (hook_post), out = m · W_out.
    float* ln2 = slot(Hook::kLn2, l);
    lap(Phase::kOther, 0);
    ops::layernorm(ln2, x.data(), lw.ln2_w.data(), lw.ln2_b.data(), T, d, c.ln_eps);
    lap(Phase::kLayerNorm);
    edit(Hook::kLn2, l, ln2);
    float* u = slot(Hook::kMlpPre, l);
    lap(Phase::kOther, 0);
    kernels::gemm(u, m, ln2, d, T, lw.W_in);
    lap(Phase::kMlpIn);
    edit(Hook::kMlpPre, l, u);
    float* coef = slot(Hook::kMlpPost, l);
    lap(Phase::kOther, 0);
    ops::gelu_forward(coef, u, static_cast<size_t>(T) * m);
    lap(Phase::kGelu);
    edit(Hook::kMlpPost, l, coef);
    float* mlp_out = slot(Hook::kMlpOut, l);
    lap(Phase::kOther, 0);
    kernels::gemm(mlp_out, d, coef, m, T, lw.W_out);
    lap(Phase::kMlpOut);
    edit(Hook::kMlpOut, l, mlp_out);
    for (size_t i = 0; i < x.size(); ++i) x[i] += mlp_out[i];
    resid(Hook::kResidPost, l);
  }

  float* lnf = slot(Hook::kLnFinal, 0);
  lap(Phase::kOther, 0);
  ops::layernorm(lnf, x.data(), w.ln_final_w.data(), w.ln_final_b.data(), T, d, c.ln_eps);
  lap(Phase::kLayerNorm);
  edit(Hook::kLnFinal, 0, lnf);
  logits_rows_ = !opt.logits ? 0 : opt.all_logits ? T : 1;
  logits_.resize(static_cast<size_t>(logits_rows_) * c.d_vocab);
  const float* rows = opt.all_logits ? lnf : lnf + static_cast<size_t>(T - 1) * d;
  lap(Phase::kOther, 0);
  if (logits_rows_ > 0)
    kernels::gemm(logits_.data(), c.d_vocab, rows, d, logits_rows_, w.W_U, opt.aside);
  else if (opt.aside)
    opt.aside();
  lap(Phase::kUnembed, logits_rows_ > 0);
  n_past_ = P + T;
}

}  // namespace lmdbg
