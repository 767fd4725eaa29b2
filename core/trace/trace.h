// A trace of one prompt: LM-Debugger's three views in one structure.
//  - the prediction (top-k with logit and probability),
//  - per layer, the logit lens before the FFN (resid_mid) and after it (resid_post), and the
//    rank/probability of the predicted token through the layers,
//  - per layer, the dominant FFN sub-updates s_i = |m_i|·||v_i|| with their value-vector tokens,
//  - optionally the attention pattern of every head,
// at the last position by default or at any positions, with interventions applied.
// trace_to_json() writes the versioned schema of docs/trace-schema.md.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/analysis/tokens.h"
#include "core/analysis/value_vectors.h"
#include "core/interventions/intervention.h"
#include "core/model/model.h"

namespace lmdbg {

constexpr const char* kTraceSchema = "lmdbg.trace/1";

struct TraceOptions {
  int top_k = 10;                 // tokens per list
  std::vector<int> positions;     // empty: the last position
  bool all_positions = false;     // every position (overrides positions)
  int sub_updates = 10;           // dominant sub-updates per layer (0 = none)
  int value_top_k = 10;           // top tokens per sub-update's value vector (0 = none)
  bool raw_lens = false;          // also the lens without ln_f
  bool attention = false;         // copy every head's pattern
  Interventions interventions;    // `on` is resolved against the clean run of the same prompt
};

struct SubUpdate {
  int layer = 0, index = 0;
  float coef = 0.f;    // signed m_i
  float norm = 0.f;    // ||v_i||
  float score = 0.f;   // |m_i| * ||v_i||
  float direct = 0.f;  // m_i * (wte[predicted] · v_i): the direct effect on the predicted token's logit
  std::vector<TokenScore> top;  // top tokens of wte·v_i
};

struct LayerTrace {
  int layer = 0;
  std::vector<TokenScore> before, after;          // normed lens of resid_mid / resid_post
  std::vector<TokenScore> raw_before, raw_after;  // raw lens (when asked)
  int rank_before = 0, rank_after = 0;            // of the predicted token (0 = top-1)
  float prob_before = 0.f, prob_after = 0.f;
  float max_score = 0.f;                          // S*_l = max_j |m_j|·||v_j||
  std::vector<SubUpdate> sub_updates;
};

struct PositionTrace {
  int position = 0;
  int predicted = 0;                     // argmax of the final logits
  std::vector<TokenScore> prediction;    // final top-k
  std::vector<LayerTrace> layers;
  // With interventions: the same position in the clean run.
  int clean_predicted = -1;
  std::vector<TokenScore> clean_prediction;
};

struct Trace {
  std::vector<int> tokens;
  TraceOptions options;      // as run: positions filled in, `on` resolved to pre=V
  Interventions requested;   // as given
  std::vector<PositionTrace> positions;
  std::vector<float> attention;  // [L, H, T, T] when options.attention
};

Trace run_trace(const Model& m, std::span<const int> tokens, const TraceOptions& opt);

// {"topK", "positions": "last"|"all"|[i,...], "subUpdates", "valueTopK", "rawLens", "attention",
//  "interventions": [...]}; every key optional. Unknown keys are errors (they are usually typos).
TraceOptions trace_options_from_json(std::string_view json_text);

std::string trace_to_json(const Model& m, const Trace& t, bool include_attention = false, int indent = -1);

}  // namespace lmdbg
