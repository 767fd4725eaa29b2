// The forward pass over a KV cache. A State is one sequence: it owns the cache and the hook
// storage of its last forward() call, laid out per hook as [layer][T][width] so a trace only
// copies slabs out.
#pragma once
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "core/kernels/no_init.h"
#include "core/model/hooks.h"
#include "core/model/model.h"

namespace lmdbg {

// Edits activations in place as the forward pass computes them: interventions
// (core/interventions) and activation patching are editors. Scoped to one forward() call,
// like TransformerLens's run_with_hooks; positions are absolute (the KV cache's).
class HookEditor {
 public:
  virtual ~HookEditor() = default;
  // The hooks edit() is called at; hook_editable() must hold for each.
  virtual HookSet edits() const = 0;
  // x: the activation of `layer` at hook h for positions p0..p0+T-1, [T, width] row-major. The
  // forward pass continues from the edited values.
  virtual void edit(Hook h, int layer, int p0, int T, int width, float* x) const = 0;
};

// Several editors in one pass, applied in the order given (e.g. interventions and a patch).
class HookEditors final : public HookEditor {
 public:
  explicit HookEditors(std::vector<const HookEditor*> editors) : editors_(std::move(editors)) {}
  HookSet edits() const override;
  void edit(Hook h, int layer, int p0, int T, int width, float* x) const override;

 private:
  std::vector<const HookEditor*> editors_;
};

// Where forward() spends its time, summed over the calls that pass it (tests/bench/forward_phases.cpp):
// per phase, wall seconds and the thread pool's fork-joins (kernels::PoolCounters). kOther is what
// runs on the calling thread alone: buffers, embeddings, residual adds, KV-cache and hook copies, edits.
enum class Phase { kLayerNorm, kQkv, kAttention, kAttnOut, kMlpIn, kGelu, kMlpOut, kUnembed, kOther, kCount };
constexpr int kPhaseCount = static_cast<int>(Phase::kCount);
const char* phase_name(Phase p);
struct ForwardProfile {
  double seconds[kPhaseCount] = {};
  long long calls[kPhaseCount] = {};     // kernel calls (layer norms, GEMMs, ...)
  long long jobs[kPhaseCount] = {};      // of which fork-joins on more than one thread
  long long tasks[kPhaseCount] = {};     // their tasks
  long long caller_tasks[kPhaseCount] = {};  // ... run by the calling thread
  double join_wait[kPhaseCount] = {};    // seconds the caller waited at their joins
};

struct ForwardOptions {
  HookSet keep;                       // hooks stored for every layer and new position
  bool all_logits = false;            // logits for every new position (else the last only)
  bool logits = true;                 // false: no unembedding at all (logits_rows() = 0); a
                                      // trace projects ln_final itself, in its lens GEMM
  const HookEditor* editor = nullptr; // edits applied during this call
  // Resume inside the network: run layers first_layer.. only, starting from resid_in ([T, d], the
  // new positions' resid_pre of first_layer) instead of the embeddings. Exact when the cache of
  // layers >= first_layer holds the earlier positions of the same run (activation patching reruns
  // only what a patch can change: core/analysis/patching.h). Kept hooks of the layers skipped (and
  // the embeddings) are not written.
  int first_layer = 0;
  const float* resid_in = nullptr;
  ForwardProfile* profile = nullptr;  // adds this call's phase times (a few clock reads per layer)
  // The caller's own serial work, run once on the calling thread while the other threads start on
  // the unembedding (kernels::Aside; at the end when there are no logits). The wasm binding
  // first-touches the fresh JS arrays the results are copied into.
  kernels::Aside aside;
};

// A State's buffers are written before they are read, and zeroing them ran on one thread (~40 MB for
// a fresh State at 128 tokens: the KV cache, the hooks' scratch, the logits): not zeroed (no_init.h).
using Buffer = uninit_vector<float>;

class State {
 public:
  explicit State(const Model& model);

  const Model& model() const { return model_; }
  int n_past() const { return n_past_; }
  void reset() { n_past_ = 0; }
  // Forget everything after the first n positions (the cache keeps the prefix).
  void truncate(int n);

  // Runs tokens at positions n_past()..n_past()+T-1 and appends them to the cache.
  // Throws Error before touching the cache if the ids or the length are out of range.
  void forward(std::span<const int> tokens, const ForwardOptions& opt = {});

  // Results of the last forward().
  int last_T() const { return T_; }
  int last_p0() const { return p0_; }
  // [rows, d_vocab]; rows = T if all_logits, else 1 (the last position); 0 if !logits.
  const float* logits() const { return logits_.data(); }
  int logits_rows() const { return logits_rows_; }
  // Hook storage for a kept hook: [T, width] ([H, T, p0+T] for the scores and the pattern). Null if
  // not kept.
  const float* hook(Hook h, int layer = 0) const;
  int hook_width(Hook h) const;  // floats per position (scores, pattern: H * (p0+T); result: H * d)

 private:
  float* slot(Hook h, int layer);
  void ensure_cache(int n);

  const Model& model_;
  int n_past_ = 0;
  int cache_cap_ = 0;
  std::vector<Buffer> kcache_, vcache_;  // per layer [cap, d]
  int T_ = 0, p0_ = 0;
  HookSet kept_;
  std::vector<float> kept_store_[kHookCount];   // [L or 1][T][width]
  Buffer scratch_[kHookCount];                  // [T][width] for hooks not kept
  Buffer qkv_, x_;
  Buffer logits_;
  int logits_rows_ = 0;
};

}  // namespace lmdbg
