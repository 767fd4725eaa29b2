// Where a forward pass spends its time, per phase, at 1 and 2 threads (docs/BENCHMARKS.md, "Where
// the time goes at 128 tokens"). Native only (the wasm kernels differ, the structure does not):
//   cmake --build build --target lmdbg_phases
//   build/lmdbg_phases build/bench-models/gpt2-small [--tokens 128] [--rounds 7] [--threads 1,2]
// Each round runs what runWithCache does (a fresh State, every position's logits) once per thread
// count, alternating; figures are medians over rounds. Besides wall time it reports what holds on a
// loaded machine: the work of each phase (GFLOP), its fork-joins and their tasks, the share of the
// tasks the calling thread ran, and the caller's wait at the joins.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/parallel.h"
#include "core/model/forward.h"
#include "core/model/model.h"

using namespace lmdbg;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Multiply-adds x 2 of each phase for a T-token prompt (no cache); 0 where not a product.
double gflop(Phase p, const Config& c, int T) {
  const double d = c.d_model, m = c.d_mlp, L = c.n_layers, t = T;
  switch (p) {
    case Phase::kQkv: return 2 * t * d * 3 * d * L * 1e-9;
    case Phase::kAttention: return 2 * 2 * (t * (t + 1) / 2) * d * L * 1e-9;  // scores + weighted sum, causal
    case Phase::kAttnOut: return 2 * t * d * d * L * 1e-9;
    case Phase::kMlpIn:
    case Phase::kMlpOut: return 2 * t * d * m * L * 1e-9;
    case Phase::kUnembed: return 2 * t * d * c.d_vocab * 1e-9;
    default: return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: lmdbg_phases MODEL_DIR [--tokens 128] [--rounds 7] [--threads 1,2]\n");
    return 2;
  }
  int T = 128, rounds = 7;
  std::vector<int> threads{1, 2};
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--tokens") T = std::atoi(argv[i + 1]);
    else if (k == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (k == "--threads") {
      threads.clear();
      for (const char* s = argv[i + 1]; *s;) {
        threads.push_back(std::atoi(s));
        while (*s && *s != ',') ++s;
        if (*s) ++s;
      }
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  const auto model = Model::load_dir(argv[1]);
  const Config& c = model->config();
  std::mt19937 rng(12);
  std::vector<int> ids(T);
  for (int& t : ids) t = static_cast<int>(rng() % c.d_vocab);

  const int nt = static_cast<int>(threads.size());
  std::vector<std::vector<ForwardProfile>> prof(nt);
  std::vector<std::vector<double>> total(nt);
  auto run = [&](int ti, bool keep) {
    kernels::set_num_threads(threads[ti]);
    ForwardProfile p;
    ForwardOptions opt;
    opt.all_logits = true;
    opt.profile = &p;
    const auto t0 = std::chrono::steady_clock::now();
    State st(*model);
    st.forward(ids, opt);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (keep) {
      prof[ti].push_back(p);
      total[ti].push_back(s);
    }
  };
  for (int ti = 0; ti < nt; ++ti) run(ti, false);  // warm-up: workers started, scratch grown
  for (int r = 0; r < rounds; ++r)
    for (int k = 0; k < nt; ++k) run((r + k) % nt, true);

  auto med = [&](int ti, auto get) {
    std::vector<double> v;
    for (const auto& p : prof[ti]) v.push_back(get(p));
    return median(v);
  };
  std::printf("%d tokens, every position's logits; medians of %d rounds, wall ms\n\n", T, rounds);
  std::printf("| phase | GFLOP | calls |");
  for (int t : threads) std::printf(" %d thread%s ms |", t, t > 1 ? "s" : "");
  for (int ti = 1; ti < nt; ++ti)
    std::printf(" fork-joins (%dt) | tasks per join | run by caller | caller's wait at joins, ms |", threads[ti]);
  std::printf("\n|---|---|---|");
  for (int ti = 0; ti < nt; ++ti) std::printf("---|");
  for (int ti = 1; ti < nt; ++ti) std::printf("---|---|---|---|");
  std::printf("\n");
  std::vector<double> sum(nt, 0);
  double serial1 = 0;
  for (int i = 0; i < kPhaseCount; ++i) {
    const Phase ph = static_cast<Phase>(i);
    const double g = gflop(ph, c, T);
    char gs[16] = "-";
    if (g > 0) std::snprintf(gs, sizeof gs, "%.2f", g);
    std::printf("| %s | %s | %lld |", phase_name(ph), gs, prof[0].empty() ? 0 : prof[0][0].calls[i]);
    for (int ti = 0; ti < nt; ++ti) {
      const double ms = 1e3 * med(ti, [&](const ForwardProfile& p) { return p.seconds[i]; });
      sum[ti] += ms;
      std::printf(" %.1f |", ms);
    }
    for (int ti = 1; ti < nt; ++ti) {
      const ForwardProfile& p = prof[ti][0];
      const double share = med(ti, [&](const ForwardProfile& q) {
        return q.tasks[i] ? static_cast<double>(q.caller_tasks[i]) / q.tasks[i] : 0.0;
      });
      const double wait = 1e3 * med(ti, [&](const ForwardProfile& q) { return q.join_wait[i]; });
      if (p.jobs[i] == 0)
        std::printf(" 0 (serial) | - | - | - |");
      else
        std::printf(" %lld | %.1f | %.0f%% | %.2f |", p.jobs[i], static_cast<double>(p.tasks[i]) / p.jobs[i], 100 * share, wait);
    }
    if (nt > 1 && prof[1][0].jobs[i] == 0)
      serial1 += 1e3 * med(0, [&](const ForwardProfile& p) { return p.seconds[i]; });
    std::printf("\n");
  }
  std::printf("| **sum of phases** | | |");
  for (int ti = 0; ti < nt; ++ti) std::printf(" %.1f |", sum[ti]);
  std::printf("\n| **State + forward** | | |");
  for (int ti = 0; ti < nt; ++ti) std::printf(" %.1f |", 1e3 * median(total[ti]));
  std::printf("\n");
  if (nt > 1) {
    const double s = serial1 / sum[0];
    std::printf("\nSerial (no fork-join at %d threads): %.1f ms of %.1f at 1 thread = %.2f%%; Amdahl bound at %d threads: x%.2f.\n",
                threads[1], serial1, sum[0], 100 * s, threads[1], 1 / (s + (1 - s) / threads[1]));
    std::printf("Measured (State + forward): x%.2f.\n", median(total[0]) / median(total[1]));
  }
  return 0;
}
