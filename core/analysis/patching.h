// Activation patching (TransformerLens's patching module, as one engine call): run a target prompt
// with the activation at one hook replaced by a source prompt's, and measure what it does to the
// target's final prediction.
//
//   hooks:     resid_pre, resid_mid, resid_post, attn_out, mlp_out of one layer, or one head's result
//              (attn.hook_result, the head's d_model slice; the other heads keep the target's), at
//              chosen positions
//   metric:    at the last position of the run: the logit or probability of a token, or the logit
//              difference token − distractor
//   alignment: the prompts are aligned at their ends: target position p takes source position
//              p + (T_source − T_target), so the last positions (where the metric is read) meet.
//              A target position with no source counterpart (p + offset < 0, when the target is the
//              longer prompt) cannot be patched: an explicit request for it is an error, a sweep
//              leaves its cells empty (NaN, null in JSON). Source positions before the offset are
//              never read.
//
// The PatchEditor (a HookEditor, core/model/forward.h) writes the source's kept activation into the
// target's pass. The Session (core/session/session.h) runs the passes and counts them: a patch is
// the source pass, the clean target pass and the patched pass; a sweep is the source pass, the clean
// target pass and one patched pass per cell. A patched pass reruns only what a patch at (layer l,
// first position p) can change: positions p.. (the target's KV cache holds the earlier ones) from
// layer l on (resuming from the clean target's resid_pre[l]), which is exact.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "core/io/json.h"
#include "core/model/forward.h"

namespace lmdbg {

enum class PatchMetricKind { kLogit, kProb, kLogitDiff };

struct PatchMetric {
  PatchMetricKind kind = PatchMetricKind::kLogit;
  int token = 0;
  int distractor = -1;  // kLogitDiff: logit(token) − logit(distractor)
};

struct PatchSpec {
  Hook hook = Hook::kResidPost;
  int layer = 0;
  std::vector<int> positions;  // target positions; empty = every position with a source counterpart
  int head = -1;               // Hook::kResult only: the head whose output is patched
};

// The hooks a patch can replace (the residual stream, the blocks' outputs and one head's result).
bool patchable(Hook h);

// Target position p reads source position p + offset; offset = T_source − T_target.
inline int patch_offset(int t_source, int t_target) { return t_source - t_target; }

// A patch applied inside a trace (TraceOptions::patch): the traced prompt is the target.
struct TracePatch {
  std::vector<int> source;
  PatchSpec spec;
};

// Checks hook, layer and head against the model, positions against the aligned prompts. Throws
// Error(kInvalidArgument) naming the problem. Returns the positions to patch, sorted and distinct.
std::vector<int> validate_patch(const Model& m, const PatchSpec& spec, int t_source, int t_target);
void validate_patch_metric(const Model& m, const PatchMetric& metric);

// The metric from the final residual after ln_f at the last position (ln_final.hook_normalized,
// [d_model]): one dot product per token for logits, the whole unembedding for a probability.
double patch_metric_at(const Model& m, const PatchMetric& metric, const float* ln_final_row);

// Writes the source's activation at (spec.hook, spec.layer) into the target's pass at `positions`
// (absolute target positions). `source` ran the whole source prompt keeping spec.hook.
class PatchEditor final : public HookEditor {
 public:
  PatchEditor(const State& source, const PatchSpec& spec, int offset);
  HookSet edits() const override { return HookSet().add(hook_); }
  void edit(Hook h, int layer, int p0, int T, int width, float* x) const override;

 private:
  const State& source_;
  Hook hook_;
  int layer_;
  int head_;
  std::vector<int> positions_;
  int offset_;
};

struct PatchResult {
  double metric = 0;   // the patched target
  double clean = 0;    // the source, unpatched
  double corrupt = 0;  // the target, unpatched
  int predicted = 0;   // argmax of the patched target's final logits
};

struct PatchSweep {
  Hook hook = Hook::kResidPost;
  int head = -1;  // Hook::kResult
  int n_layers = 0, t_target = 0, offset = 0;
  std::vector<double> metric;  // [n_layers, t_target]; NaN where the position has no source counterpart
  double clean = 0, corrupt = 0;
};

// JSON at the edge. Metric: {"type": "logit"|"prob"|"logitDiff", "token", "distractor"?}.
// Patch: {"hook", "layer", "head"?, "positions"?: "all"|[p, ...], "metric"}; sweep: {"hook", "head"?,
// "metric"}; the trace's "patch" option: {"source": [ids], "hook", "layer", "head"?, "positions"?}.
// "head" is required with hook "result" and refused with the others. Unknown keys are errors.
PatchMetric patch_metric_from_json(const io::json& j);
// Reads hook, layer, head and positions of `j` (the caller checks the other keys).
PatchSpec patch_spec_from_json(const io::json& j, const char* what);
Hook patch_hook_from_json(const io::json& j, const char* what);
TracePatch trace_patch_from_json(const io::json& j);
// The options of patch() and patchSweep() as the package sends them.
void patch_options_from_json(const io::json& j, PatchSpec& spec, PatchMetric& metric);
// The sweep's spec has hook and head (layer and positions are the sweep's cells).
void patch_sweep_options_from_json(const io::json& j, PatchSpec& spec, PatchMetric& metric);
io::ojson patch_metric_to_json(const PatchMetric& m);
io::ojson trace_patch_to_json(const Model& m, const TracePatch& p, int t_target);
io::ojson patch_to_json(const Model& m, const PatchSpec& spec, const PatchMetric& metric, const PatchResult& r,
                        std::span<const int> source, std::span<const int> target);
io::ojson patch_sweep_to_json(const Model& m, const PatchSweep& s, const PatchMetric& metric,
                              std::span<const int> source, std::span<const int> target);

}  // namespace lmdbg
