// A trace of one prompt: LM-Debugger's views in one structure.
//  - the prediction (top-k with logit and probability),
//  - per layer, the logit lens before the FFN (resid_mid) and after it (resid_post), and the
//    rank/probability of the predicted token through the layers,
//  - per layer, the dominant FFN sub-updates s_i = |m_i|·||v_i|| with their value-vector tokens,
//  - per layer, the attention heads' outputs (L{l}H{h}: norm, direct effect, vocabulary tokens),
//  - optionally the attention pattern of every head, a light lens over more positions, and the
//    clean run's layers beside the intervened ones,
// at the last position by default or at any positions, with interventions applied.
//
// The steps below work on States that have already run (the Session runs them:
// core/session/session.h); each is one view. trace_to_json() writes the versioned schema of
// docs/trace-schema.md.
#pragma once
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "core/analysis/patching.h"
#include "core/analysis/attribution.h"
#include "core/analysis/tokens.h"
#include "core/analysis/value_vectors.h"
#include "core/interventions/intervention.h"
#include "core/io/json.h"
#include "core/model/forward.h"

namespace lmdbg {

constexpr const char* kTraceSchema = "lmdbg.trace/1";
constexpr int kMaxTracked = 64;  // tokens a trace follows beside the predicted one (TraceOptions::track)

struct TraceOptions {
  int top_k = 10;                 // tokens per list
  std::vector<int> positions;     // empty: the last position
  bool all_positions = false;     // every position (overrides positions)
  int sub_updates = 10;           // dominant sub-updates per layer (0 = none)
  int value_top_k = 10;           // top tokens per sub-update's value vector (0 = none)
  bool raw_lens = false;          // also the lens without ln_f
  bool attention = false;         // copy every head's pattern
  std::vector<int> lens_positions;  // also the lens alone (no sub-updates) at these positions
  bool lens_all_positions = false;  // ... or at every position
  int lens_top_k = 1;               // tokens per list of that lens
  bool clean_layers = false;      // with interventions: the clean run's layers beside the intervened ones
  std::vector<int> track;         // token ids followed through the layers beside the predicted one (distinct)
  int heads = -1;                 // heads per layer, largest ||result_h|| first (0 = none; -1: trace_heads())
  std::optional<AttributionOptions> attribute;  // also the direct logit attribution of this run
  Interventions interventions;    // `on` is resolved against the clean run of the same prompt
  std::optional<TracePatch> patch;  // run the prompt with one activation patched in from a source prompt
};

// A tracked token under one layer's lens before and after the FFN (as predictedRank/predictedProb).
struct TrackedToken {
  int id = 0;
  int rank_before = 0, rank_after = 0;  // 0 = top-1
  float prob_before = 0.f, prob_after = 0.f;
};

struct SubUpdate {
  int layer = 0, index = 0;
  float coef = 0.f;    // signed m_i
  float norm = 0.f;    // ||v_i||
  float score = 0.f;   // |m_i| * ||v_i||
  float direct = 0.f;  // m_i * (wte[predicted] · v_i): the direct effect on the predicted token's logit
  std::vector<TokenScore> top;  // top tokens of wte·v_i
};

// An attention head's output at the traced position, hook_result's row for head h: like a sub-update
// m_i·v_i it is one additive term of the residual stream, so it ranks by its norm.
struct HeadUpdate {
  int layer = 0, head = 0;
  float norm = 0.f;     // ||result_h||
  float direct = 0.f;   // wte[predicted] · result_h: the direct effect on the predicted token's logit
  std::vector<TokenScore> top, bottom;  // largest / smallest logits of wte · result_h (no layer norm)
};

struct LayerTrace {
  int layer = 0;
  std::vector<TokenScore> before, after;          // normed lens of resid_mid / resid_post
  std::vector<TokenScore> raw_before, raw_after;  // raw lens (when asked)
  int rank_before = 0, rank_after = 0;            // of the predicted token (0 = top-1)
  float prob_before = 0.f, prob_after = 0.f;
  float max_score = 0.f;                          // S*_l = max_j |m_j|·||v_j||
  std::vector<SubUpdate> sub_updates;
  std::vector<TrackedToken> tracked;              // TraceOptions::track, in its order
  std::vector<HeadUpdate> heads;                  // largest norm first
};

struct PositionTrace {
  int position = 0;
  int predicted = 0;                     // argmax of the final logits
  std::vector<TokenScore> prediction;    // final top-k
  std::vector<LayerTrace> layers;
  // With interventions: the same position in the clean run (its layers only with clean_layers).
  int clean_predicted = -1;
  std::vector<TokenScore> clean_prediction;
  std::vector<LayerTrace> clean_layers;
};

struct Trace {
  std::vector<int> tokens;
  TraceOptions options;      // as run: positions filled in, `on` resolved to pre=V
  Interventions requested;   // as given
  std::vector<PositionTrace> positions;
  std::vector<PositionTrace> lens;  // options.lens_positions: prediction and lens only
  std::vector<float> attention;  // [L, H, T, T] when options.attention
  std::optional<Attribution> attribution;  // with options.attribute
};

// Checks the options against the model and the prompt length; throws naming the bad option.
void validate_trace(const Model& m, std::span<const int> tokens, const TraceOptions& opt);

// The traced positions (sorted, distinct): the last one by default.
std::vector<int> trace_positions(const TraceOptions& opt, int T);
std::vector<int> lens_positions(const TraceOptions& opt, int T);
// Heads per layer: opt.heads, or by default every head of a model with at most 64 heads in all
// (nLayers·nHeads), else the 3 largest of each layer (each costs a projection onto the vocabulary).
int trace_heads(const TraceOptions& opt, const Config& c);

// Step 1, the logit lens at position p of a state that kept resid_mid and resid_post: the
// prediction, and per layer the lens before/after the FFN with the rank and probability of the
// predicted token and of the `track`ed ones. One GEMM over the unembedding for all 2·nLayers rows.
PositionTrace lens_step(const State& st, int p, int top_k, bool raw_lens, std::span<const int> track = {});

// Step 2, the dominant sub-updates of every layer at p (the state kept mlp.hook_post), scored
// |m_i|·||v_i||, with their direct effect on `predicted`; fills layers[l].max_score/sub_updates.
void sub_update_step(const State& st, int p, int predicted, int n, std::vector<LayerTrace>& layers);

// Step 2b, the n largest heads of every layer at p (the state kept attn.hook_z): result_h from z,
// norm, direct effect on `predicted`, and the top/bottom top_k tokens of wte·result_h (all layers'
// heads projected in one batch); fills layers[l].heads.
void head_step(const State& st, int p, int predicted, int n, int top_k, std::vector<LayerTrace>& layers);

// Step 3, the top tokens of every distinct sub-update's value vector in `layers`, in one batch
// (served from and stored in the value index).
void value_tokens_step(const Model& m, ValueIndex& ix, int value_top_k, std::span<std::vector<LayerTrace>*> layers);

// Step 4, every head's attention pattern [L, H, T, T] (the state kept attn.hook_pattern).
std::vector<float> attention_step(const State& st);

// {"topK", "positions": "last"|"all"|[i,...], "subUpdates", "valueTopK", "rawLens", "attention",
//  "lensPositions": "all"|[i,...], "lensTopK", "cleanLayers", "track": [id,...], "heads", "attribute": {...},
//  "interventions": [...], "patch": {...}}; every key optional. Unknown keys are errors (they are usually typos).
// "attribute" is attribution_options_from_json's object; a token given as text needs the model.
TraceOptions trace_options_from_json(const io::json& j, const Model* m = nullptr);

io::ojson trace_to_json(const Model& m, const Trace& t, bool include_attention = false);

}  // namespace lmdbg
