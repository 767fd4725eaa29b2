// A snapshot is a saved view (docs/snapshot-schema.md, "lmdbg.snapshot/1"): the model's identity
// (name, source, config, weights fingerprint), the prompt and its tokens, the interventions (active
// and inactive), value-vector names, the open view, and the results already computed (the trace
// with the clean run's layers, the lens over the positions and the attention; the value vectors
// shown; a generation). A page, an embed or <lm-debugger> draws it with no model and no wasm.
//
// One writer: Session::snapshot computes the results, snapshot_to_json assembles the file with the
// caller's view state passed through (checked against the model). The CLI (`lmdbg snapshot`) and
// the package (`Debugger.snapshot`, through one binding) both call these two.
//
//   lmdbg::SnapshotOptions o = lmdbg::snapshot_options_from_json(io::parse_json(text, "snapshot options"));
//   lmdbg::Snapshot s = session.snapshot(o);
//   std::string file = lmdbg::snapshot_to_json(session.model(), o, s).dump();
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/analysis/value_vectors.h"
#include "core/io/json.h"
#include "core/model/sampler.h"
#include "core/trace/trace.h"

namespace lmdbg {

constexpr const char* kSnapshotSchema = "lmdbg.snapshot/1";

// The views a snapshot can open: the one table of them (the page's, the embed's and <lm-debugger>'s
// `view`; js/src/tables.ts is generated from it by `npm run gen:tables`).
struct ViewInfo {
  const char* name;
  const char* shows;  // for documentation and help text
};
inline constexpr ViewInfo kViews[] = {
    {"prediction", "the top predictions, clean beside intervened"},
    {"layers", "every layer: the lens before and after the FFN and the dominant sub-updates"},
    {"lens", "the logit lens over layers and positions"},
    {"rank", "the predicted token's rank and probability through the layers"},
    {"attention", "every head's attention pattern"},
    {"compare", "clean against intervened, layer by layer"},
};
const ViewInfo* find_view(std::string_view name);
// [{"name", "shows"}] (`lmdbg tables`).
io::ojson view_table_json();

struct SnapshotIntervention {
  Intervention iv;
  bool active = true;  // inactive ones are listed (switched off) but not applied
};

struct SnapshotGeneration {
  int max_new_tokens = 20;
  Sampling sampling;
  bool stop_at_end_of_text = true;
};

struct SnapshotOptions {
  std::string prompt;
  bool allow_special = false;  // "<|endoftext|>" in the prompt is the special token
  std::vector<SnapshotIntervention> interventions;
  std::optional<TraceOptions> trace;  // without interventions; absent: figure_trace_options()
  std::vector<ValueVectorRef> value_vectors;  // shown beside the figure (the open sub-update)
  int value_top_k = 15;
  std::optional<SnapshotGeneration> generation;
  // Passed through, checked: {"name", "source"}; {"L3D12": "a name"}; {"open", "layer", "detail"}.
  io::json model = io::json::object();
  io::json names = io::json::object();
  io::json view = io::json::object();
};

struct Snapshot {
  std::vector<int> tokens;
  Trace trace;
  std::vector<ValueVectorTokens> value_vectors;
  std::vector<int> generated;  // new tokens
};

// What a figure needs when the caller names no trace options: the page's live trace (top 10, ten
// sub-updates with 8 tokens each, the clean layers when intervened), the lens at every position up to
// a budget (the last positions first), and attention while it stays small (L·H·T² <= 2^18 floats).
TraceOptions figure_trace_options(const Config& c, int T, bool intervened);

// {"prompt" (required), "allowSpecial", "interventions": [{..., "active"}], "trace": {...},
//  "valueVectors": [[l, i], ...], "valueTopK", "generate": {"maxNewTokens", "sampling",
//  "stopAtEndOfText"}, "model": {"name", "source"}, "names": {...}, "view": {...}}. Unknown keys are errors.
SnapshotOptions snapshot_options_from_json(const io::json& j);

// Checks the passed-through parts against the model (view layer, names' ranges); throws naming the field.
void validate_snapshot_options(const Model& m, const SnapshotOptions& o);

// The file (docs/snapshot-schema.md).
io::ojson snapshot_to_json(const Model& m, const SnapshotOptions& o, const Snapshot& s);

}  // namespace lmdbg
