// A Session is a loaded model and everything computed for it: the value index, the search
// statistics (and their step-wise builder), the clusters, and a count of forward passes. It is the
// one object the front ends drive; wasm/bindings.cpp and weights_tools/lmdbg_cli.cpp only
// translate arguments into its calls and its results into JSON or typed arrays.
//
//   lmdbg::Session s(lmdbg::Model::load_dir("path/to/gpt2"));
//   auto ids = s.model().tokenizer().encode("The capital of France is");
//   lmdbg::TraceOptions o;
//   o.interventions = {lmdbg::parse_intervention("9:1234:off")};
//   lmdbg::Trace t = s.trace(ids, o);          // two forward passes: clean and intervened
//   std::string text = lmdbg::trace_to_json(s.model(), t).dump();
//
// Passes: a trace, a cache run or a generation costs one forward pass without interventions and
// two with any (the clean run also resolves `on`); a generation's steps extend its pass. A trace
// with an activation patch adds the source's pass. A patch costs three passes (source, clean
// target, patched), a sweep two plus one per cell; the patched passes rerun only the positions and
// layers a patch can change (core/analysis/patching.h).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/analysis/attribution.h"
#include "core/analysis/clusters.h"
#include "core/analysis/patching.h"
#include "core/analysis/search.h"
#include "core/analysis/value_index.h"
#include "core/analysis/value_vectors.h"
#include "core/interventions/intervention.h"
#include "core/model/forward.h"
#include "core/model/sampler.h"
#include "core/session/snapshot.h"
#include "core/trace/trace.h"

namespace lmdbg {

// Activations of one run, TransformerLens's run_with_cache: the state holds every kept hook.
struct ActivationCache {
  std::vector<HookRef> hooks;   // as asked, in order
  std::unique_ptr<State> state; // hook(h, layer) for each; logits of every position
};

// Token-by-token generation over the KV cache, interventions active at every step.
class Generation {
 public:
  Generation(const Generation&) = delete;  // editor_ refers to ivs_
  Generation& operator=(const Generation&) = delete;
  // Runs one step and returns the new token. Throws Error(kState) once the context is full.
  int next();
  int remaining() const;                                      // positions left in the context
  const std::vector<int>& tokens() const { return tokens_; }  // prompt + generated
  const Interventions& interventions() const { return ivs_; } // resolved

 private:
  friend class Session;
  Generation(const Model& m, std::vector<int> prompt, Interventions resolved, const Sampling& s);
  const Model& model_;
  State state_;
  Interventions ivs_;
  InterventionEditor editor_;
  Sampler sampler_;
  std::vector<int> tokens_;
  size_t fed_ = 0;  // tokens already in the cache
};

class Session {
 public:
  explicit Session(std::unique_ptr<Model> model);
  ~Session();
  const Model& model() const { return *model_; }

  // ---- runs of the model
  Trace trace(std::span<const int> tokens, const TraceOptions& opt);
  // hooks empty: every hook. Logits of every position. `aside`, given the hooks as they will be
  // returned, runs on the calling thread while the other threads compute the unembedding
  // (ForwardOptions::aside): the wasm binding allocates and first-touches the arrays it copies into.
  using CacheAside = std::function<void(const std::vector<HookRef>& hooks)>;
  ActivationCache run_with_cache(std::span<const int> tokens, std::vector<HookRef> hooks, const Interventions& ivs,
                                 const CacheAside& aside = {});
  // Logits [rows, d_vocab] of the last position, or of every position.
  std::vector<float> logits(std::span<const int> tokens, bool all_positions);
  // Validates everything up front; `on` is resolved against a clean run of the prompt. The
  // Generation must not outlive the session.
  std::unique_ptr<Generation> generate(std::span<const int> prompt, const Interventions& ivs, const Sampling& s);
  // A saved view (core/session/snapshot.h): the trace of the active interventions, the value
  // vectors asked for, and the generation when asked; as many passes as those calls.
  Snapshot snapshot(const SnapshotOptions& o);
  // Activation patching (core/analysis/patching.h): target with spec's activation taken from
  // source. spec.positions is filled in (empty: every aligned position).
  PatchResult patch(std::span<const int> source, std::span<const int> target, PatchSpec& spec, const PatchMetric& metric);
  // Every layer × target position of one hook, one position at a time.
  // `what`: hook and head (its layer and positions are ignored: the sweep covers every cell).
  PatchSweep patch_sweep(std::span<const int> source, std::span<const int> target, const PatchSpec& what,
                         const PatchMetric& metric);
  // Direct logit attribution (core/analysis/attribution.h) of the run with interventions: one pass
  // (and a clean one to resolve `on`), as run_with_cache.
  Attribution attribute(std::span<const int> tokens, const AttributionOptions& opt, const Interventions& ivs);

  // ---- value vectors, search, clusters
  std::vector<ValueVectorTokens> value_vectors(const std::vector<ValueVectorRef>& refs, int top_k, int bottom_k);
  // Computes the search statistics first if they are not ready (and, for LM-Debugger's ranking, the
  // rest of the value index). top_k > 0: the hits' top tokens.
  std::vector<SearchHit> search(const std::vector<std::string>& keywords, const SearchOptions& opt, int top_k);
  void load_clusters(const io::json& value_clusters);
  const Clusters* clusters() const { return clusters_.get(); }
  // Without loaded clusters: computes them (ClusterBuilder, default options) by `units` blocks per
  // call, for idle time; true once the session has clusters (loaded or computed).
  bool cluster_step(int units);
  double cluster_progress() const;  // 0..1; 1 once the session has clusters

  // ---- precomputation (idle time, or value_index.bin)
  bool search_ready() const { return stats_ != nullptr; }
  void prepare_search();
  // Advances the search statistics by `units` steps (~10^8 multiply-adds each); true once ready.
  bool search_stats_step(int units);
  // Up to max_vectors more value vectors into the index; 0 once it is complete.
  int fill_value_index(int max_vectors);
  const ValueIndex& value_index() const { return index_; }
  // value_index.bin (`lmdbg index`): the index, and the search statistics when the file has them.
  void load_value_index(std::string_view bytes);
  std::string value_index_bytes();

  // Forward passes run so far (see the top of this file).
  uint64_t forward_passes() const { return passes_; }

 private:
  // A forward pass over a whole prompt, counted.
  void run(State& st, std::span<const int> tokens, const ForwardOptions& opt);
  // A whole-prompt pass keeping `keep` and ln_final: the patch metric at its last position.
  double metric_pass(State& st, std::span<const int> tokens, HookSet keep, const PatchMetric& metric);
  // A clean pass for `on` interventions: their resolved form (ivs itself when there is none).
  Interventions resolve(std::span<const int> tokens, const Interventions& ivs);

  std::unique_ptr<Model> model_;
  ValueIndex index_;
  std::unique_ptr<SearchStats> stats_;
  std::unique_ptr<SearchStatsBuilder> stats_builder_;
  std::unique_ptr<Clusters> clusters_;
  std::unique_ptr<ClusterBuilder> cluster_builder_;
  uint64_t passes_ = 0;
};

}  // namespace lmdbg
