#include "session.h"

#include <algorithm>

#include "core/analysis/lens.h"
#include "core/error.h"

namespace lmdbg {

namespace {

void check_prompt(const Model& m, std::span<const int> tokens, const char* what) {
  const Config& c = m.config();
  if (tokens.empty()) invalid(std::string(what) + ": the prompt is empty");
  if (static_cast<int>(tokens.size()) > c.n_ctx)
    invalid(std::string(what) + ": prompt of " + std::to_string(tokens.size()) +
            " tokens exceeds the model's context of " + std::to_string(c.n_ctx));
  m.check_tokens(tokens.data(), tokens.size());
}

}  // namespace

// ---------------------------------------------------------------- Generation

Generation::Generation(const Model& m, std::vector<int> prompt, Interventions resolved, const Sampling& s)
    : model_(m), state_(m), ivs_(std::move(resolved)), editor_(ivs_, m.config().n_heads), sampler_(s), tokens_(std::move(prompt)) {}

int Generation::remaining() const { return model_.config().n_ctx - static_cast<int>(tokens_.size()); }

int Generation::next() {
  if (remaining() <= 0)
    fail(ErrorCode::kState, "generate: the context of " + std::to_string(model_.config().n_ctx) +
                                " tokens is full; no more tokens can be generated");
  ForwardOptions opt;
  opt.editor = &editor_;
  state_.forward(std::span<const int>(tokens_).subspan(fed_), opt);
  fed_ = tokens_.size();
  const int tok = sampler_.pick(state_.logits(), model_.config().d_vocab);
  tokens_.push_back(tok);
  return tok;
}

// ---------------------------------------------------------------- Session

Session::Session(std::unique_ptr<Model> model) : model_(std::move(model)) {
  const Config& c = model_->config();
  index_.init(c.n_layers, c.d_mlp, c.d_vocab);
}

Session::~Session() = default;

void Session::run(State& st, std::span<const int> tokens, const ForwardOptions& opt) {
  st.forward(tokens, opt);
  ++passes_;
}

Interventions Session::resolve(std::span<const int> tokens, const Interventions& ivs) {
  if (!has_unresolved_on(ivs)) return ivs;
  State clean(*model_);
  ForwardOptions opt;
  opt.keep.add(Hook::kMlpPost);
  opt.logits = false;
  run(clean, tokens, opt);
  return resolve_on(ivs, clean);
}

Trace Session::trace(std::span<const int> tokens, const TraceOptions& opt) {
  const Model& m = *model_;
  validate_trace(m, tokens, opt);
  const int T = static_cast<int>(tokens.size()), L = m.config().n_layers, V = m.config().d_vocab;
  Trace tr;
  tr.tokens.assign(tokens.begin(), tokens.end());
  tr.requested = opt.interventions;
  tr.options = opt;
  tr.options.positions = trace_positions(opt, T);
  tr.options.all_positions = false;
  tr.options.lens_positions = lens_positions(opt, T);
  tr.options.lens_all_positions = false;
  tr.options.heads = trace_heads(opt, m.config());
  const int heads = tr.options.heads;
  const auto& ps = tr.options.positions;
  const bool intervened = !opt.interventions.empty() || opt.patch;

  // A patch: the source's pass keeps the activation the patched run takes from it.
  std::unique_ptr<State> source;
  std::unique_ptr<PatchEditor> patcher;
  if (opt.patch) {
    auto& pp = *tr.options.patch;
    pp.spec.positions = validate_patch(m, pp.spec, static_cast<int>(pp.source.size()), T);
    source = std::make_unique<State>(m);
    ForwardOptions so;
    so.keep.add(pp.spec.hook);
    so.logits = false;
    run(*source, pp.source, so);
    patcher = std::make_unique<PatchEditor>(*source, pp.spec, patch_offset(static_cast<int>(pp.source.size()), T));
  }

  // The clean run, with interventions or a patch: it resolves `on` and gives the clean prediction
  // (or layers).
  std::unique_ptr<State> clean;
  if (intervened) {
    clean = std::make_unique<State>(m);
    ForwardOptions co;
    co.keep.add(Hook::kResidPost).add(Hook::kMlpPost);
    if (opt.clean_layers) co.keep.add(Hook::kResidMid);
    if (opt.clean_layers && heads > 0) co.keep.add(Hook::kZ);
    co.logits = false;
    run(*clean, tokens, co);
    tr.options.interventions = resolve_on(opt.interventions, *clean);
  }

  State st(m);
  InterventionEditor editor(tr.options.interventions, m.config().n_heads);
  std::vector<const HookEditor*> applied = {&editor};
  if (patcher) applied.push_back(patcher.get());
  const HookEditors editors(applied);
  ForwardOptions fo;
  fo.keep.add(Hook::kResidMid).add(Hook::kResidPost).add(Hook::kMlpPost);
  if (opt.attention) fo.keep.add(Hook::kPattern);
  if (heads > 0) fo.keep.add(Hook::kZ);
  if (opt.attribute) fo.keep.bits |= attribution_hooks().bits;
  fo.logits = false;  // the lens step projects ln_f(resid_post[L-1]) itself
  if (intervened) fo.editor = &editors;
  run(st, tokens, fo);

  std::vector<std::vector<LayerTrace>*> with_sub_updates;
  for (int p : ps) {
    PositionTrace pt = lens_step(st, p, opt.top_k, opt.raw_lens, opt.track);
    sub_update_step(st, p, pt.predicted, opt.sub_updates, pt.layers);
    head_step(st, p, pt.predicted, heads, opt.value_top_k, pt.layers);
    tr.positions.push_back(std::move(pt));
  }
  if (intervened) {
    std::vector<float> rows(ps.size() * m.config().d_model), logits(ps.size() * V);
    const int d = m.config().d_model;
    for (size_t j = 0; j < ps.size(); ++j) {
      auto& pt = tr.positions[j];
      if (opt.clean_layers) {
        PositionTrace cp = lens_step(*clean, ps[j], opt.top_k, opt.raw_lens, opt.track);
        sub_update_step(*clean, ps[j], cp.predicted, opt.sub_updates, cp.layers);
        head_step(*clean, ps[j], cp.predicted, heads, opt.value_top_k, cp.layers);
        pt.clean_predicted = cp.predicted;
        pt.clean_prediction = std::move(cp.prediction);
        pt.clean_layers = std::move(cp.layers);
      } else {
        std::copy_n(clean->hook(Hook::kResidPost, L - 1) + static_cast<size_t>(ps[j]) * d, d, rows.data() + j * d);
      }
    }
    if (!opt.clean_layers) {
      lens_logits(m, rows.data(), static_cast<int>(ps.size()), true, logits.data());
      for (size_t j = 0; j < ps.size(); ++j) {
        tr.positions[j].clean_prediction = top_tokens(logits.data() + j * V, V, opt.top_k, true);
        tr.positions[j].clean_predicted = tr.positions[j].clean_prediction[0].id;
      }
    }
  }
  for (auto& pt : tr.positions) {
    with_sub_updates.push_back(&pt.layers);
    if (!pt.clean_layers.empty()) with_sub_updates.push_back(&pt.clean_layers);
  }
  value_tokens_step(m, index_, opt.value_top_k, with_sub_updates);
  for (int p : tr.options.lens_positions) tr.lens.push_back(lens_step(st, p, opt.lens_top_k, opt.raw_lens));
  if (opt.attention) tr.attention = attention_step(st);
  if (opt.attribute) tr.attribution = attribute_logit(st, check_attribution(m, T, *opt.attribute));
  return tr;
}

ActivationCache Session::run_with_cache(std::span<const int> tokens, std::vector<HookRef> hooks, const Interventions& ivs,
                                        const CacheAside& aside) {
  const Model& m = *model_;
  check_prompt(m, tokens, "run with cache");
  validate_interventions(ivs, m.config(), static_cast<int>(tokens.size()));
  if (hooks.empty())
    for (const auto& n : all_hook_names(m.config().n_layers)) hooks.push_back(*parse_hook_name(n, m.config().n_layers));
  const Interventions resolved = resolve(tokens, ivs);
  const InterventionEditor editor(resolved, m.config().n_heads);
  ActivationCache out;
  out.hooks = std::move(hooks);
  out.state = std::make_unique<State>(m);
  ForwardOptions opt;
  for (const auto& r : out.hooks) opt.keep.add(r.hook);
  opt.all_logits = true;
  opt.editor = &editor;
  if (aside) opt.aside = [&] { aside(out.hooks); };
  run(*out.state, tokens, opt);
  return out;
}

Attribution Session::attribute(std::span<const int> tokens, const AttributionOptions& opt, const Interventions& ivs) {
  const Model& m = *model_;
  check_prompt(m, tokens, "attribute");
  const int T = static_cast<int>(tokens.size());
  const AttributionOptions checked = check_attribution(m, T, opt);
  validate_interventions(ivs, m.config(), T);
  const Interventions resolved = resolve(tokens, ivs);
  const InterventionEditor editor(resolved, m.config().n_heads);
  State st(m);
  ForwardOptions fo;
  fo.keep = attribution_hooks();
  fo.logits = false;
  fo.editor = &editor;
  run(st, tokens, fo);
  return attribute_logit(st, checked);
}

std::vector<float> Session::logits(std::span<const int> tokens, bool all_positions) {
  check_prompt(*model_, tokens, "logits");
  State st(*model_);
  ForwardOptions opt;
  opt.all_logits = all_positions;
  run(st, tokens, opt);
  return {st.logits(), st.logits() + static_cast<size_t>(st.logits_rows()) * model_->config().d_vocab};
}

std::unique_ptr<Generation> Session::generate(std::span<const int> prompt, const Interventions& ivs, const Sampling& s) {
  const Model& m = *model_;
  check_prompt(m, prompt, "generate");
  validate_interventions(ivs, m.config());  // positions may lie beyond the prompt: generated ones
  Sampler check(s);                         // validates the sampling options before any pass
  (void)check;
  std::unique_ptr<Generation> g(new Generation(m, {prompt.begin(), prompt.end()}, resolve(prompt, ivs), s));
  ++passes_;  // the generation's own pass: the prompt, then one step at a time
  return g;
}

Snapshot Session::snapshot(const SnapshotOptions& o) {
  const Model& m = *model_;
  validate_snapshot_options(m, o);
  Snapshot s;
  s.tokens = m.tokenizer().encode(o.prompt, o.allow_special);
  check_prompt(m, s.tokens, "snapshot");
  Interventions active;
  for (const auto& si : o.interventions)
    if (si.active) active.push_back(si.iv);
  // The inactive ones must fit the model and the prompt too: the reader may switch them on.
  Interventions all;
  for (const auto& si : o.interventions) all.push_back(si.iv);
  validate_interventions(all, m.config(), static_cast<int>(s.tokens.size()));
  TraceOptions to = o.trace ? *o.trace : figure_trace_options(m.config(), static_cast<int>(s.tokens.size()), !active.empty());
  to.interventions = active;
  s.trace = trace(s.tokens, to);
  s.value_vectors = value_vectors(o.value_vectors, o.value_top_k, o.value_top_k);
  if (o.generation) {
    const auto g = generate(s.tokens, active, o.generation->sampling);
    const int eot = m.tokenizer().eot_id();
    for (int i = 0; i < o.generation->max_new_tokens && g->remaining() > 0; ++i) {
      const int t = g->next();
      s.generated.push_back(t);
      if (o.generation->stop_at_end_of_text && t == eot) break;
    }
  }
  return s;
}

double Session::metric_pass(State& st, std::span<const int> tokens, HookSet keep, const PatchMetric& metric) {
  ForwardOptions o;
  o.keep = keep.add(Hook::kLnFinal);
  o.logits = false;
  run(st, tokens, o);
  const int d = model_->config().d_model;
  return patch_metric_at(*model_, metric, st.hook(Hook::kLnFinal) + (tokens.size() - 1) * d);
}

PatchResult Session::patch(std::span<const int> source, std::span<const int> target, PatchSpec& spec,
                           const PatchMetric& metric) {
  const Model& m = *model_;
  check_prompt(m, source, "patch: source");
  check_prompt(m, target, "patch: target");
  const int Ts = static_cast<int>(source.size()), Tt = static_cast<int>(target.size()), d = m.config().d_model;
  spec.positions = validate_patch(m, spec, Ts, Tt);
  validate_patch_metric(m, metric);
  PatchResult r;
  // The source, keeping the hook the patch reads; the clean target, keeping its KV cache and
  // resid_pre, from which the patched pass resumes.
  State src(m), tgt(m);
  r.clean = metric_pass(src, source, HookSet().add(spec.hook), metric);
  r.corrupt = metric_pass(tgt, target, HookSet().add(Hook::kResidPre), metric);
  const int p0 = spec.positions.front();
  const float* rp = tgt.hook(Hook::kResidPre, spec.layer);
  const std::vector<float> resume(rp + static_cast<size_t>(p0) * d, rp + static_cast<size_t>(Tt) * d);
  tgt.truncate(p0);
  const PatchEditor editor(src, spec, patch_offset(Ts, Tt));
  ForwardOptions po;
  po.editor = &editor;
  po.first_layer = spec.layer;
  po.resid_in = resume.data();
  po.keep.add(Hook::kLnFinal);
  run(tgt, target.subspan(p0), po);
  r.metric = patch_metric_at(m, metric, tgt.hook(Hook::kLnFinal) + static_cast<size_t>(Tt - p0 - 1) * d);
  r.predicted = argmax(tgt.logits(), m.config().d_vocab);
  return r;
}

PatchSweep Session::patch_sweep(std::span<const int> source, std::span<const int> target, const PatchSpec& what,
                                const PatchMetric& metric) {
  const Model& m = *model_;
  check_prompt(m, source, "patch sweep: source");
  check_prompt(m, target, "patch sweep: target");
  const int Ts = static_cast<int>(source.size()), Tt = static_cast<int>(target.size());
  const int L = m.config().n_layers, d = m.config().d_model, off = patch_offset(Ts, Tt);
  const Hook hook = what.hook;
  PatchSpec probe;
  probe.hook = hook;
  probe.head = what.head;
  validate_patch(m, probe, Ts, Tt);
  validate_patch_metric(m, metric);
  PatchSweep out;
  out.hook = hook;
  out.head = what.head;
  out.n_layers = L;
  out.t_target = Tt;
  out.offset = off;
  out.metric.assign(static_cast<size_t>(L) * Tt, NAN);
  State src(m), tgt(m);
  out.clean = metric_pass(src, source, HookSet().add(hook), metric);
  out.corrupt = metric_pass(tgt, target, HookSet().add(Hook::kResidPre), metric);
  const size_t per_layer = static_cast<size_t>(Tt) * d;
  std::vector<float> resid_pre(static_cast<size_t>(L) * per_layer);
  for (int l = 0; l < L; ++l) std::copy_n(tgt.hook(Hook::kResidPre, l), per_layer, resid_pre.data() + l * per_layer);
  // Last position first: a pass from position p rewrites the cache from p on, and every later cell
  // (p' <= p) reads the cache only before p', which is still the clean target's.
  for (int p = Tt - 1; p >= std::max(0, -off); --p)
    for (int l = 0; l < L; ++l) {
      tgt.truncate(p);
      PatchSpec cell = probe;
      cell.layer = l;
      cell.positions = {p};
      const PatchEditor editor(src, cell, off);
      ForwardOptions po;
      po.editor = &editor;
      po.first_layer = l;
      po.resid_in = resid_pre.data() + l * per_layer + static_cast<size_t>(p) * d;
      po.keep.add(Hook::kLnFinal);
      po.logits = false;
      run(tgt, target.subspan(p), po);
      out.metric[static_cast<size_t>(l) * Tt + p] =
          patch_metric_at(m, metric, tgt.hook(Hook::kLnFinal) + static_cast<size_t>(Tt - p - 1) * d);
    }
  return out;
}

std::vector<ValueVectorTokens> Session::value_vectors(const std::vector<ValueVectorRef>& refs, int top_k, int bottom_k) {
  return value_vector_tokens(*model_, index_, refs, top_k, bottom_k);
}

void Session::prepare_search() {
  if (stats_) return;
  if (!stats_builder_) stats_builder_ = std::make_unique<SearchStatsBuilder>(*model_);
  while (!search_stats_step(1 << 20)) {
  }
}

bool Session::search_stats_step(int units) {
  if (stats_) return true;
  if (!stats_builder_) stats_builder_ = std::make_unique<SearchStatsBuilder>(*model_);
  if (!stats_builder_->step(units)) return false;
  stats_ = std::make_unique<SearchStats>(stats_builder_->take());
  stats_builder_.reset();
  return true;
}

std::vector<SearchHit> Session::search(const std::vector<std::string>& keywords, const SearchOptions& opt, int top_k) {
  prepare_search();
  if (opt.ranking == SearchRanking::kLmDebugger) {
    keyword_tokens(*model_, keywords);  // bad keywords fail before the index is completed
    while (fill_value_index(128) > 0) {
    }
  }
  auto hits = search_value_vectors(*model_, *stats_, keywords, opt, &index_);
  if (top_k > 0) {
    std::vector<ValueVectorRef> refs;
    for (const auto& h : hits) refs.push_back({h.layer, h.index});
    const auto vt = value_vectors(refs, top_k, 0);
    for (size_t r = 0; r < hits.size(); ++r) hits[r].top = vt[r].top;
  }
  return hits;
}

void Session::load_clusters(const io::json& j) {
  clusters_ = std::make_unique<Clusters>(clusters_from_json(j, *model_));
  cluster_builder_.reset();
}

bool Session::cluster_step(int units) {
  if (clusters_) return true;
  if (!cluster_builder_) cluster_builder_ = std::make_unique<ClusterBuilder>(*model_, ClusterOptions{});
  if (!cluster_builder_->step(units)) return false;
  clusters_ = std::make_unique<Clusters>(cluster_builder_->take());
  cluster_builder_.reset();
  return true;
}

double Session::cluster_progress() const {
  if (clusters_) return 1.0;
  return cluster_builder_ ? cluster_builder_->progress() : 0.0;
}

int Session::fill_value_index(int max_vectors) { return lmdbg::fill_value_index(*model_, index_, max_vectors); }

void Session::load_value_index(std::string_view bytes) {
  auto st = std::make_unique<SearchStats>();
  if (value_index_from_bytes(*model_, index_, bytes, st.get())) {
    stats_ = std::move(st);
    stats_builder_.reset();
  }
}

std::string Session::value_index_bytes() { return value_index_to_bytes(*model_, index_, stats_.get()); }

}  // namespace lmdbg
