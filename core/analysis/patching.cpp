#include "patching.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/analysis/analysis_json.h"
#include "core/analysis/tokens.h"
#include "core/error.h"
#include "core/kernels/gemm.h"

namespace lmdbg {

namespace {

constexpr Hook kPatchable[] = {Hook::kResidPre, Hook::kAttnOut, Hook::kResidMid, Hook::kMlpOut, Hook::kResidPost,
                                Hook::kResult};

std::string patchable_list() {
  std::string s;
  for (Hook h : kPatchable) s += std::string(s.empty() ? "" : ", ") + hook_short(h);
  return s;
}

const char* metric_name(PatchMetricKind k) {
  switch (k) {
    case PatchMetricKind::kLogit: return "logit";
    case PatchMetricKind::kProb: return "prob";
    case PatchMetricKind::kLogitDiff: return "logitDiff";
  }
  return "?";
}

io::ojson number_or_null(double x) { return std::isfinite(x) ? io::ojson(x) : io::ojson(nullptr); }

io::ojson tokens_json(const Model& m, std::span<const int> ids) {
  io::ojson a = io::ojson::array();
  for (int id : ids) a.push_back(token_json(m, id));
  return a;
}

}  // namespace

double patch_metric_at(const Model& m, const PatchMetric& metric, const float* x) {
  const Config& c = m.config();
  if (metric.kind == PatchMetricKind::kProb) {
    std::vector<float> logits(c.d_vocab);
    kernels::gemm(logits.data(), c.d_vocab, x, c.d_model, 1, m.weights().W_U);
    return std::exp(static_cast<double>(logits[metric.token]) - logsumexp(logits.data(), c.d_vocab));
  }
  std::vector<float> e(c.d_model);
  auto logit = [&](int id) {
    m.embedding(id, e.data());
    double s = 0;
    for (int i = 0; i < c.d_model; ++i) s += static_cast<double>(x[i]) * e[i];
    return s;
  };
  return metric.kind == PatchMetricKind::kLogit ? logit(metric.token) : logit(metric.token) - logit(metric.distractor);
}

bool patchable(Hook h) { return std::find(std::begin(kPatchable), std::end(kPatchable), h) != std::end(kPatchable); }

void validate_patch_metric(const Model& m, const PatchMetric& metric) {
  const int V = m.config().d_vocab;
  auto check = [&](int id, const char* what) {
    if (id < 0 || id >= V)
      invalid(std::string("patch: metric ") + what + " " + std::to_string(id) + " out of range [0, " + std::to_string(V) + ")");
  };
  check(metric.token, "token");
  if (metric.kind == PatchMetricKind::kLogitDiff) {
    check(metric.distractor, "distractor");
    if (metric.distractor == metric.token) invalid("patch: a logit difference needs two different tokens");
  }
}

std::vector<int> validate_patch(const Model& m, const PatchSpec& spec, int t_source, int t_target) {
  const Config& c = m.config();
  if (!patchable(spec.hook))
    invalid(std::string("patch: hook ") + hook_short(spec.hook) + " cannot be patched (one of " + patchable_list() + ")");
  if (spec.layer < 0 || spec.layer >= c.n_layers)
    invalid("patch: layer " + std::to_string(spec.layer) + " out of range [0, " + std::to_string(c.n_layers) + ")");
  if (spec.hook == Hook::kResult) {
    if (spec.head < 0 || spec.head >= c.n_heads)
      invalid(spec.head < 0 ? std::string("patch: hook result needs a head (0..") + std::to_string(c.n_heads - 1) + ")"
                            : "patch: head " + std::to_string(spec.head) + " out of range [0, " + std::to_string(c.n_heads) + ")");
  } else if (spec.head >= 0) {
    invalid(std::string("patch: a head belongs to hook result only, not ") + hook_short(spec.hook));
  }
  const int off = patch_offset(t_source, t_target);
  std::vector<int> ps;
  if (spec.positions.empty()) {
    for (int p = std::max(0, -off); p < t_target; ++p) ps.push_back(p);
  } else {
    for (int p : spec.positions) {
      if (p < 0 || p >= t_target)
        invalid("patch: position " + std::to_string(p) + " out of range [0, " + std::to_string(t_target) +
                ") (the target prompt has " + std::to_string(t_target) + " tokens)");
      if (p + off < 0)
        invalid("patch: target position " + std::to_string(p) + " has no source position: the prompts are aligned at "
                "their ends and the source is " + std::to_string(-off) + " token" + (off == -1 ? "" : "s") +
                " shorter (positions " + std::to_string(-off) + ".. can be patched)");
      ps.push_back(p);
    }
    std::sort(ps.begin(), ps.end());
    ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
  }
  return ps;
}

PatchEditor::PatchEditor(const State& source, const PatchSpec& spec, int offset)
    : source_(source), hook_(spec.hook), layer_(spec.layer), head_(spec.head), positions_(spec.positions), offset_(offset) {
  if (!source_.hook(hook_, layer_)) fail(ErrorCode::kState, "patch: the source run did not keep its activations");
}

void PatchEditor::edit(Hook h, int layer, int p0, int T, int width, float* x) const {
  if (h != hook_ || layer != layer_) return;
  const float* src = source_.hook(hook_, layer_);
  // One head's result is its d_model slice of the row [head, d_model]; other hooks are whole rows.
  const int n = h == Hook::kResult ? width / source_.model().config().n_heads : width;
  const int col = h == Hook::kResult ? head_ * n : 0;
  for (int p : positions_) {
    if (p < p0 || p >= p0 + T) continue;
    std::memcpy(x + static_cast<size_t>(p - p0) * width + col, src + static_cast<size_t>(p + offset_) * width + col,
                static_cast<size_t>(n) * 4);
  }
}

// ---------------------------------------------------------------- JSON

Hook patch_hook_from_json(const io::json& j, const char* what) {
  const std::string& name = io::json_string(j, std::string(what) + ": \"hook\"");
  for (Hook h : kPatchable)
    if (name == hook_short(h)) return h;
  invalid(std::string(what) + ": unknown hook \"" + name + "\" (one of " + patchable_list() + ")");
}

PatchMetric patch_metric_from_json(const io::json& j) {
  if (!j.is_object()) invalid("patch: \"metric\" must be an object {type, token, distractor?}");
  io::json_known_keys(j, {"type", "token", "distractor"}, "patch metric");
  PatchMetric m;
  const io::json* type = io::json_field(j, "type");
  if (!type) invalid("patch metric: \"type\" is required (\"logit\", \"prob\" or \"logitDiff\")");
  const std::string& t = io::json_string(*type, "patch metric: \"type\"");
  if (t == "logit") m.kind = PatchMetricKind::kLogit;
  else if (t == "prob") m.kind = PatchMetricKind::kProb;
  else if (t == "logitDiff") m.kind = PatchMetricKind::kLogitDiff;
  else invalid("patch metric: unknown type \"" + t + "\" (\"logit\", \"prob\" or \"logitDiff\")");
  const io::json* tok = io::json_field(j, "token");
  if (!tok) invalid("patch metric: \"token\" is required");
  m.token = io::json_int(*tok, "patch metric: \"token\"");
  const io::json* dis = io::json_field(j, "distractor");
  if (m.kind == PatchMetricKind::kLogitDiff) {
    if (!dis) invalid("patch metric: \"logitDiff\" needs a \"distractor\" token");
    m.distractor = io::json_int(*dis, "patch metric: \"distractor\"");
    if (m.distractor == m.token) invalid("patch metric: a logit difference needs two different tokens");
  } else if (dis) {
    invalid("patch metric: \"distractor\" belongs to \"logitDiff\" only");
  }
  return m;
}

PatchSpec patch_spec_from_json(const io::json& j, const char* what) {
  PatchSpec s;
  const io::json* hook = io::json_field(j, "hook");
  if (!hook) invalid(std::string(what) + ": \"hook\" is required (one of " + patchable_list() + ")");
  s.hook = patch_hook_from_json(*hook, what);
  const io::json* layer = io::json_field(j, "layer");
  if (!layer) invalid(std::string(what) + ": \"layer\" is required");
  s.layer = io::json_int(*layer, std::string(what) + ": \"layer\"");
  if (const io::json* h = io::json_field(j, "head")) s.head = io::json_int(*h, std::string(what) + ": \"head\"");
  if (const io::json* p = io::json_field(j, "positions")) {
    if (p->is_array()) {
      if (p->empty()) invalid(std::string(what) + ": \"positions\" is empty (leave it out, or \"all\", for every position)");
      for (const auto& x : *p) s.positions.push_back(io::json_int(x, std::string(what) + ": \"positions\" entry"));
    } else if (*p != "all") {
      invalid(std::string(what) + ": \"positions\" must be \"all\" or an array of target positions");
    }
  }
  return s;
}

TracePatch trace_patch_from_json(const io::json& j) {
  if (!j.is_object()) invalid("trace options: \"patch\" must be an object {source, hook, layer, head?, positions?}");
  io::json_known_keys(j, {"source", "hook", "layer", "head", "positions"}, "trace options: \"patch\"");
  TracePatch p;
  const io::json* src = io::json_field(j, "source");
  if (!src || !src->is_array()) invalid("trace options: \"patch\": \"source\" must be the source prompt's token ids");
  for (const auto& x : *src) p.source.push_back(io::json_int(x, "trace options: \"patch\": \"source\" token id"));
  p.spec = patch_spec_from_json(j, "trace options: \"patch\"");
  return p;
}

void patch_options_from_json(const io::json& j, PatchSpec& spec, PatchMetric& metric) {
  if (!j.is_object()) invalid("patch options: expected an object {hook, layer, head?, positions?, metric}");
  io::json_known_keys(j, {"hook", "layer", "head", "positions", "metric"}, "patch options");
  spec = patch_spec_from_json(j, "patch options");
  const io::json* m = io::json_field(j, "metric");
  if (!m) invalid("patch options: \"metric\" is required ({type, token, distractor?})");
  metric = patch_metric_from_json(*m);
}

void patch_sweep_options_from_json(const io::json& j, PatchSpec& spec, PatchMetric& metric) {
  if (!j.is_object()) invalid("patch sweep options: expected an object {hook, head?, metric}");
  io::json_known_keys(j, {"hook", "head", "metric"}, "patch sweep options");
  const io::json* h = io::json_field(j, "hook");
  if (!h) invalid("patch sweep options: \"hook\" is required (one of " + patchable_list() + ")");
  spec = PatchSpec{};
  spec.hook = patch_hook_from_json(*h, "patch sweep options");
  if (const io::json* hd = io::json_field(j, "head")) spec.head = io::json_int(*hd, "patch sweep options: \"head\"");
  const io::json* m = io::json_field(j, "metric");
  if (!m) invalid("patch sweep options: \"metric\" is required ({type, token, distractor?})");
  metric = patch_metric_from_json(*m);
}

io::ojson trace_patch_to_json(const Model& m, const TracePatch& p, int t_target) {
  io::ojson j = {{"source", tokens_json(m, p.source)},
                 {"hook", hook_short(p.spec.hook)},
                 {"layer", p.spec.layer},
                 {"positions", p.spec.positions},
                 {"offset", patch_offset(static_cast<int>(p.source.size()), t_target)}};
  if (p.spec.head >= 0) j["head"] = p.spec.head;
  return j;
}

io::ojson patch_metric_to_json(const PatchMetric& m) {
  io::ojson j = {{"type", metric_name(m.kind)}, {"token", m.token}};
  if (m.kind == PatchMetricKind::kLogitDiff) j["distractor"] = m.distractor;
  return j;
}

io::ojson patch_to_json(const Model& m, const PatchSpec& spec, const PatchMetric& metric, const PatchResult& r,
                        std::span<const int> source, std::span<const int> target) {
  io::ojson options = {{"hook", hook_short(spec.hook)}, {"layer", spec.layer}, {"positions", spec.positions},
                       {"metric", patch_metric_to_json(metric)}};
  if (spec.head >= 0) options["head"] = spec.head;
  return {{"schema", "lmdbg.patch/1"},
          {"options", std::move(options)},
          {"offset", patch_offset(static_cast<int>(source.size()), static_cast<int>(target.size()))},
          {"metric", r.metric},
          {"clean", r.clean},
          {"corrupt", r.corrupt},
          {"predicted", token_json(m, r.predicted)},
          {"source", {{"tokens", tokens_json(m, source)}}},
          {"target", {{"tokens", tokens_json(m, target)}}}};
}

io::ojson patch_sweep_to_json(const Model& m, const PatchSweep& s, const PatchMetric& metric,
                              std::span<const int> source, std::span<const int> target) {
  io::ojson rows = io::ojson::array();
  for (int l = 0; l < s.n_layers; ++l) {
    io::ojson row = io::ojson::array();
    for (int p = 0; p < s.t_target; ++p) row.push_back(number_or_null(s.metric[static_cast<size_t>(l) * s.t_target + p]));
    rows.push_back(std::move(row));
  }
  io::ojson options = {{"hook", hook_short(s.hook)}, {"metric", patch_metric_to_json(metric)}};
  if (s.head >= 0) options["head"] = s.head;
  return {{"schema", "lmdbg.patch-sweep/1"},
          {"options", std::move(options)},
          {"offset", s.offset},
          {"metric", std::move(rows)},
          {"clean", s.clean},
          {"corrupt", s.corrupt},
          {"source", {{"tokens", tokens_json(m, source)}}},
          {"target", {{"tokens", tokens_json(m, target)}}}};
}

}  // namespace lmdbg
