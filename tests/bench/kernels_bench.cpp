// Native kernel benchmarks (Google Benchmark, part of lmdbg_bench): our gemm() with f32 and f16
// weight storage beside XNNPACK's f32 fully-connected operator (Debian's 2022 build, one thread,
// LMDBG_HAVE_XNNPACK) on GPT-2-small shapes, plus topk and the attention helpers.
//
//   ./build-kern/lmdbg_bench --benchmark_filter='Gemm|Xnn' --benchmark_repetitions=5 \
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//
// FLOPS counters (G/s = GFLOP/s) are per CPU second of the benchmark thread (2*M*K*N flops per iteration), so
// time lost to other processes on the shared cores does not count. Weights are N(0, 0.02)
// (GPT-2-like, so the f16 subnormal side list has its realistic ~0.24% of entries).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "core/kernels/attention_kernels.h"
#include "core/kernels/gemm.h"
#include "core/kernels/topk.h"

#if defined(LMDBG_HAVE_XNNPACK)
#include <xnnpack.h>
#endif

namespace {

using namespace lmdbg::kernels;

std::vector<float> normal_floats(size_t n, uint32_t seed, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// One packed weight matrix per (K, N, storage), shared by all M.
const PackedMatrix& packed(int K, int N, Storage st) {
  struct Entry {
    int K, N;
    Storage st;
    std::unique_ptr<PackedMatrix> W;
  };
  static std::vector<Entry> cache;
  for (auto& e : cache)
    if (e.K == K && e.N == N && e.st == st) return *e.W;
  const std::vector<float> w = normal_floats(static_cast<size_t>(K) * N, K + N, 0.02f);
  const std::vector<float> b = normal_floats(N, 1, 0.02f);
  cache.push_back({K, N, st, std::make_unique<PackedMatrix>(PackedMatrix::pack({w.data(), DType::kF32, K, N}, b.data(), st))});
  return *cache.back().W;
}

void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["FLOPS"] = benchmark::Counter(flops_per_iter, benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
}

template <Storage ST>
void BM_Gemm(benchmark::State& state) {
  const int M = state.range(0), K = state.range(1), N = state.range(2);
  const PackedMatrix& W = packed(K, N, ST);
  const std::vector<float> A = normal_floats(static_cast<size_t>(M) * K, 2, 1.f);
  std::vector<float> C(static_cast<size_t>(M) * N);
  for (auto _ : state) {
    gemm(C.data(), N, A.data(), K, M, W);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * M * K * N);
}

void gpt2_shapes(benchmark::internal::Benchmark* b) {
  for (int M : {1, 12, 32, 128})
    for (auto [K, N] : {std::pair{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {768, 50257}}) b->Args({M, K, N});
  b->ArgNames({"M", "K", "N"})->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_Gemm<Storage::kF32>)->Name("Gemm/f32")->Apply(gpt2_shapes);
BENCHMARK(BM_Gemm<Storage::kF16>)->Name("Gemm/f16")->Apply(gpt2_shapes);

#if defined(LMDBG_HAVE_XNNPACK)
void BM_Xnnpack(benchmark::State& state) {
  const int M = state.range(0), K = state.range(1), N = state.range(2);
  static const bool ok = xnn_initialize(nullptr) == xnn_status_success;
  if (!ok) {
    state.SkipWithError("xnn_initialize failed");
    return;
  }
  // XNNPACK wants W as [N, K] (output channels first).
  const std::vector<float> w = normal_floats(static_cast<size_t>(K) * N, K + N, 0.02f);
  std::vector<float> wt(static_cast<size_t>(N) * K);
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) wt[static_cast<size_t>(n) * K + k] = w[static_cast<size_t>(k) * N + n];
  const std::vector<float> b = normal_floats(N, 1, 0.02f);
  const std::vector<float> A = normal_floats(static_cast<size_t>(M) * K, 2, 1.f);
  std::vector<float> C(static_cast<size_t>(M) * N);
  xnn_operator_t op = nullptr;
  if (xnn_create_fully_connected_nc_f32(K, N, K, N, wt.data(), b.data(), -INFINITY, INFINITY, 0, &op) !=
          xnn_status_success ||
      xnn_setup_fully_connected_nc_f32(op, M, A.data(), C.data(), nullptr) != xnn_status_success) {
    state.SkipWithError("xnn fully_connected create/setup failed");
    return;
  }
  for (auto _ : state) {
    xnn_run_operator(op, nullptr);
    benchmark::ClobberMemory();
  }
  xnn_delete_operator(op);
  set_flops(state, 2.0 * M * K * N);
}
BENCHMARK(BM_Xnnpack)->Name("Xnnpack/f32")->Apply(gpt2_shapes);
#endif

void BM_Topk(benchmark::State& state) {
  const int n = 50257, k = state.range(0);
  std::vector<float> x = normal_floats(n, 3, 3.f);
  std::vector<int> idx(k);
  for (auto _ : state) benchmark::DoNotOptimize(topk(x.data(), n, k, idx.data()));
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Topk)->Arg(1)->Arg(10)->Arg(100)->ArgName("k");

void BM_TopkPartialSort(benchmark::State& state) {
  const int n = 50257, k = state.range(0);
  std::vector<float> x = normal_floats(n, 3, 3.f);
  std::vector<int> idx(n);
  for (auto _ : state) {
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
    benchmark::DoNotOptimize(idx.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_TopkPartialSort)->Arg(1)->Arg(10)->Arg(100)->ArgName("k");

// One head (d = 64) of one query against T keys in a [T, 3*768] qkv buffer.
void BM_AttnScores(benchmark::State& state) {
  const int T = state.range(0), d = 64, ld = 3 * 768;
  const std::vector<float> q = normal_floats(d, 4, 1.f), K = normal_floats(static_cast<size_t>(T) * ld, 5, 1.f);
  std::vector<float> s(T);
  for (auto _ : state) {
    attn_scores(s.data(), q.data(), K.data(), ld, T, d, 0.125f);
    benchmark::DoNotOptimize(s.data());
  }
  set_flops(state, 2.0 * T * d);
}
BENCHMARK(BM_AttnScores)->Arg(128)->Arg(1024)->ArgName("T");

void BM_AttnScoresNaive(benchmark::State& state) {
  const int T = state.range(0), d = 64, ld = 3 * 768;
  const std::vector<float> q = normal_floats(d, 4, 1.f), K = normal_floats(static_cast<size_t>(T) * ld, 5, 1.f);
  std::vector<float> s(T);
  for (auto _ : state) {
    for (int t = 0; t < T; ++t) {
      float acc = 0.f;
      for (int i = 0; i < d; ++i) acc += q[i] * K[static_cast<size_t>(t) * ld + i];
      s[t] = acc * 0.125f;
    }
    benchmark::DoNotOptimize(s.data());
  }
  set_flops(state, 2.0 * T * d);
}
BENCHMARK(BM_AttnScoresNaive)->Arg(128)->Arg(1024)->ArgName("T");

}  // namespace
