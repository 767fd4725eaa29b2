// Kernel benchmark for wasm (node) and native: a plain program, no Google Benchmark, so the same
// source runs everywhere. Build and run (see docs/BENCHMARKS.md, "Kernels"):
//   wasm:   ninja -C build-kern-wasm lmdbg_kernels_bench_wasm
//           node build-kern-wasm/kernels/lmdbg_kernels_bench_wasm.js [tiles|gemm|gemv|smallm|prompt|topk|attn|stream|all]
//           node --no-liftoff build-kern-wasm/lmdbg_kernels_bench_wasm.js ...   (cross-check)
//   native: g++ -std=c++20 -O3 -mavx2 -mfma -mf16c -DLMDBG_KERNELS_STANDALONE_BENCH -I. \
//               tests/bench/kernels_wasm_bench.cpp core/kernels/*.cpp core/error.cpp
// The native lmdbg_bench globs tests/bench/*_bench.cpp: without __EMSCRIPTEN__ or
// LMDBG_KERNELS_STANDALONE_BENCH this file compiles to nothing (it has its own main()).
//
// Timing: CPU time of this thread (native) or of the node process (wasm, process.cpuUsage), so
// time spent descheduled on the shared cores does not count. Every candidate is warmed up (V8
// compiles wasm with Liftoff first and swaps in TurboFan code between calls), then candidates run
// alternately, one batch of >= 10 ms each per round, and the median (and best) over rounds is
// reported. Ratios are taken between candidates measured in the same rounds.
#if defined(__EMSCRIPTEN__) || defined(LMDBG_KERNELS_STANDALONE_BENCH)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/attention_kernels.h"
#include "core/kernels/gemm.h"
#include "core/kernels/topk.h"
#include "core/kernels/ukernel_impl.h"
#include "core/kernels/ukernels.h"

#if defined(__EMSCRIPTEN__)
#include <emscripten.h>
EM_JS(double, lmdbg_cpu_seconds, (), {
  if (typeof process !== "undefined" && process.cpuUsage) {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1e-6;
  }
  return performance.now() * 1e-3;
});
#else
#include <ctime>
#endif

namespace {

using namespace lmdbg::kernels;

double cpu_seconds() {
#if defined(__EMSCRIPTEN__)
  return lmdbg_cpu_seconds();
#else
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
#endif
}

struct Candidate {
  std::string name;
  double work;  // flops (or elements) per call
  std::function<void()> fn;
  std::vector<double> secs;
  double median() const {
    auto v = secs;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
  double best() const { return *std::min_element(secs.begin(), secs.end()); }
};

// Runs the candidates alternately; returns them with their per-call times.
void run_rounds(std::vector<Candidate>& cs, int rounds = 11, double batch_s = 0.01) {
  for (auto& c : cs)
    for (int i = 0; i < 4; ++i) c.fn();  // warm-up: tier-up happens between calls
  for (int r = 0; r < rounds; ++r)
    for (auto& c : cs) {
      int n = 0;
      const double t0 = cpu_seconds();
      double t;
      do {
        c.fn();
        ++n;
        t = cpu_seconds() - t0;
      } while (t < batch_s);
      c.secs.push_back(t / n);
    }
}

void print_rate(const std::vector<Candidate>& cs, const char* unit, double scale, const Candidate* base = nullptr) {
  for (const auto& c : cs) {
    std::printf("  %-34s %9.2f %s (best %8.2f)", c.name.c_str(), c.work / c.median() * scale, unit,
                c.work / c.best() * scale);
    if (base != nullptr) std::printf("  x%.2f vs %s", base->median() / c.median() * (c.work / base->work), base->name.c_str());
    std::printf("\n");
  }
  std::fflush(stdout);
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// GPT-2-like weights: N(0, 0.02), so about 0.24% of them are f16 subnormals (side list).
std::vector<float> gpt2_weights(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 0.02f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

#if defined(__wasm_simd128__)
using SV = simd::WasmSimd;
#elif defined(__AVX2__) && defined(__FMA__)
using SV = simd::Avx2;
#else
using SV = simd::Scalar;
#endif

// ---------------------------------------------------------------- tile sweep (candidates)
// Raw panels of width NR with random contents; the driver loop is the production one
// (panels outer, row tiles inner) with every tile of the candidate's MR.
struct TileProblem {
  int M, K, N;
  std::vector<float> A, C, w32, bias, scale, as, panel;
  std::vector<uint16_t> w16;
  TileProblem(int M_, int K_, int N_) : M(M_), K(K_), N(N_) {
    A = random_floats(static_cast<size_t>(M) * K, 1);
    C.resize(static_cast<size_t>(M) * N);
    const size_t cols = (N + 63) / 64 * 64;
    w32 = random_floats(cols * (K + 1), 2);
    w16.resize(cols * K);
    std::mt19937 rng(3);  // normal halves in [2^-7, 2^-1): no f16 subnormals (as after packing)
    for (auto& h : w16) h = static_cast<uint16_t>(0x2000 + (rng() & 0x17ff) + ((rng() & 1) << 15));
    bias = random_floats(cols, 4);
    scale.resize(M);
    as.resize(A.size());
    f16w_prescale_rows(M, K, A.data(), K, as.data(), scale.data());
    panel.resize((K + 1) * 64);
  }
};

template <int MR, int NV>
void tile_f32(TileProblem& p) {
  constexpr int NR = NV * SV::W;
  const size_t ps = static_cast<size_t>(p.K + 1) * NR;
  for (int n = 0; n < p.N; n += NR)
    for (int m = 0; m < p.M; m += MR)
      detail::f32_gemm_tile<SV, MR, NV, 1>(std::min(MR, p.M - m), std::min(NR, p.N - n), p.K, p.A.data() + m * p.K,
                                           p.K, p.w32.data() + n / NR * ps, p.C.data() + m * p.N + n, p.N);
}

template <int MR, int NV>
void tile_f16_inkernel(TileProblem& p) {
  constexpr int NR = NV * SV::W;
  const size_t ps = static_cast<size_t>(p.K) * NR;
  for (int n = 0; n < p.N; n += NR)
    for (int m = 0; m < p.M; m += MR)
      detail::f16w_gemm_tile<SV, MR, NV, 1>(std::min(MR, p.M - m), std::min(NR, p.N - n), p.K, p.as.data() + m * p.K,
                                            p.K, p.w16.data() + n / NR * ps, p.bias.data() + n,
                                            p.C.data() + m * p.N + n, p.N, p.scale.data() + m);
}

template <int MR, int NV>
void tile_f16_decode(TileProblem& p) {
  constexpr int NR = NV * SV::W;
  const size_t ps = static_cast<size_t>(p.K) * NR;
  for (int n = 0; n < p.N; n += NR) {
    detail::f16w_decode_panel<SV>(NR, p.K, p.w16.data() + n / NR * ps, p.bias.data() + n, p.panel.data());
    for (int m = 0; m < p.M; m += MR)
      detail::f32_gemm_tile<SV, MR, NV, 1>(std::min(MR, p.M - m), std::min(NR, p.N - n), p.K, p.A.data() + m * p.K,
                                           p.K, p.panel.data(), p.C.data() + m * p.N + n, p.N);
  }
}

template <int NV, int P>
void gemv_f32(TileProblem& p) {
  detail::f32_gemv<SV, NV, P>(1, p.N, p.K, p.A.data(), p.K, p.w32.data(), p.C.data(), p.N);
}
template <int NV, int P>
void gemv_f16(TileProblem& p) {
  detail::f16w_gemv<SV, NV, P>(1, p.N, p.K, p.as.data(), p.K, p.w16.data(), p.bias.data(), p.C.data(), p.N,
                               p.scale.data());
}

template <int NV, int KU>
void tile_gemv_f32(TileProblem& p) {
  detail::f32_gemm_tile<SV, 1, NV, KU>(1, p.N, p.K, p.A.data(), p.K, p.w32.data(), p.C.data(), p.N);
}
template <int NV, int KU>
void tile_gemv_f16(TileProblem& p) {
  detail::f16w_gemm_tile<SV, 1, NV, KU>(1, p.N, p.K, p.as.data(), p.K, p.w16.data(), p.bias.data(), p.C.data(), p.N,
                                        p.scale.data());
}

void bench_tiles() {
  std::printf("== tiles (%s, W=%d): candidate microkernels, GFLOP/s\n", SV::W == 4 ? "wasm simd128" : "native", SV::W);
  const int shapes[][3] = {{128, 768, 3072}, {32, 768, 2304}, {12, 768, 768}};
  for (auto& s : shapes) {
    TileProblem p(s[0], s[1], s[2]);
    const double fl = 2.0 * s[0] * s[1] * s[2];
    std::vector<Candidate> cs;
    auto add = [&](const char* name, void (*f)(TileProblem&)) { cs.push_back({name, fl, [&p, f] { f(p); }, {}}); };
#if defined(__wasm_simd128__)
    add("f32 4x8 (kept)", tile_f32<4, 2>);
    add("f32 2x8", tile_f32<2, 2>);
    add("f32 3x8", tile_f32<3, 2>);
    add("f32 5x8", tile_f32<5, 2>);
    add("f32 6x8", tile_f32<6, 2>);
    add("f32 2x16", tile_f32<2, 4>);
    add("f32 3x16", tile_f32<3, 4>);
    add("f32 4x16", tile_f32<4, 4>);
    add("f16w in-kernel 4x8 (kept, M<=8)", tile_f16_inkernel<4, 2>);
    add("f16w in-kernel 2x16", tile_f16_inkernel<2, 4>);
    add("f16w decode+f32 4x8 (kept, M>8)", tile_f16_decode<4, 2>);
    add("f16w decode+f32 2x16", tile_f16_decode<2, 4>);
#else
    add("f32 6x16 (kept)", tile_f32<6, 2>);
    add("f32 4x16", tile_f32<4, 2>);
    add("f32 5x16", tile_f32<5, 2>);
    add("f32 8x8", tile_f32<8, 1>);
    add("f32 3x32", tile_f32<3, 4>);
    add("f16w in-kernel 6x16 (kept, F16C)", tile_f16_inkernel<6, 2>);
    add("f16w in-kernel 4x16", tile_f16_inkernel<4, 2>);
    add("f16w decode+f32 6x16", tile_f16_decode<6, 2>);
#endif
    std::printf("M=%d K=%d N=%d\n", s[0], s[1], s[2]);
    run_rounds(cs);
    print_rate(cs, "GFLOP/s", 1e-9, &cs[0]);
  }
  std::printf("GEMV tiles (M=1), GFLOP/s\n");
  for (auto& s : {std::pair{768, 3072}, {3072, 768}}) {
    TileProblem p(1, s.first, s.second);
    const double fl = 2.0 * s.first * s.second;
    std::vector<Candidate> cs;
    auto add = [&](const char* name, void (*f)(TileProblem&)) { cs.push_back({name, fl, [&p, f] { f(p); }, {}}); };
    add("f32 1xNR", tile_gemv_f32<2, 1>);
    add("f32 1xNR ku2 (k split in 2 sums)", tile_gemv_f32<2, 2>);
    add("f32 gemv 2 panels", gemv_f32<2, 2>);
    add("f32 gemv 4 panels", gemv_f32<2, 4>);
    add("f32 gemv 6 panels (kept)", gemv_f32<2, 6>);
    add("f16w 1xNR", tile_gemv_f16<2, 1>);
    add("f16w 1xNR ku2 (k split in 2 sums)", tile_gemv_f16<2, 2>);
    add("f16w gemv 2 panels", gemv_f16<2, 2>);
    add("f16w gemv 4 panels (kept)", gemv_f16<2, 4>);
    std::printf("M=1 K=%d N=%d\n", s.first, s.second);
    run_rounds(cs);
    print_rate(cs, "GFLOP/s", 1e-9, &cs[0]);
  }
}

// ---------------------------------------------------------------- production gemm()

struct GemmShape {
  int K, N;
  const char* what;
};
constexpr GemmShape kShapes[] = {{768, 2304, "c_attn"},
                                 {768, 768, "attn c_proj"},
                                 {768, 3072, "c_fc"},
                                 {3072, 768, "mlp c_proj"},
                                 {768, 50257, "unembed (wte^T)"}};

void bench_gemm(const std::vector<int>& Ms, bool unembed = true) {
  std::printf("== gemm(): production driver, f32 vs f16 storage, GFLOP/s (ratio = f16 time / f32 time)\n");
  for (const auto& sh : kShapes) {
    if (!unembed && sh.N > 10000) continue;
    const std::vector<float> w = gpt2_weights(static_cast<size_t>(sh.K) * sh.N, 5);
    const std::vector<float> b = random_floats(sh.N, 6);
    const PackedMatrix W32 = PackedMatrix::pack({w.data(), DType::kF32, sh.K, sh.N}, b.data(), Storage::kF32);
    const PackedMatrix W16 = PackedMatrix::pack({w.data(), DType::kF32, sh.K, sh.N}, b.data(), Storage::kF16);
    for (int M : Ms) {
      const std::vector<float> A = random_floats(static_cast<size_t>(M) * sh.K, 7);
      std::vector<float> C(static_cast<size_t>(M) * sh.N);
      const double fl = 2.0 * M * sh.K * sh.N;
      std::vector<Candidate> cs;
      cs.push_back({"f32", fl, [&] { gemm(C.data(), sh.N, A.data(), sh.K, M, W32); }, {}});
      cs.push_back({"f16", fl, [&] { gemm(C.data(), sh.N, A.data(), sh.K, M, W16); }, {}});
      const bool big = fl > 2e9;
      run_rounds(cs, big ? 5 : 11, big ? 0.0 : 0.01);
      std::printf("M=%-4d K=%-5d N=%-6d %-16s f32 %7.2f (best %7.2f)  f16 %7.2f (best %7.2f) GFLOP/s  f16/f32 time x%.2f\n",
                  M, sh.K, sh.N, sh.what, fl / cs[0].median() * 1e-9, fl / cs[0].best() * 1e-9,
                  fl / cs[1].median() * 1e-9, fl / cs[1].best() * 1e-9, cs[1].median() / cs[0].median());
      std::fflush(stdout);
    }
  }
}

// ---------------------------------------------------------------- topk and attention helpers

void bench_topk() {
  std::printf("== topk over n = 50257 (logits-like), M elements/s\n");
  const int n = 50257;
  std::vector<float> x = random_floats(n, 8);
  for (auto& v : x) v = 4.f * v * v * v;  // a few large values, like logits
  std::vector<int> idx(n), out(128);
  for (int k : {1, 10, 100}) {
    std::vector<Candidate> cs;
    cs.push_back({"partial_sort", double(n), [&, k] {
                    for (int i = 0; i < n; ++i) idx[i] = i;
                    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                                      [&](int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
                  }, {}});
    cs.push_back({"topk", double(n), [&, k] { topk(x.data(), n, k, out.data()); }, {}});
    std::printf("k=%d\n", k);
    run_rounds(cs);
    print_rate(cs, "Melem/s", 1e-6, &cs[0]);
  }
}

void bench_attn() {
  std::printf("== attention helpers (head dim 64, T keys), GFLOP/s\n");
  const int d = 64, ld = 3 * 768;
  for (int T : {128, 1024}) {
    const std::vector<float> q = random_floats(d, 9);
    const std::vector<float> K = random_floats(static_cast<size_t>(T) * ld, 10);
    std::vector<float> s(T), o(d);
    std::vector<Candidate> cs;
    const double fl = 2.0 * T * d;
    cs.push_back({"scores naive loop", fl, [&] {
                    for (int t = 0; t < T; ++t) {
                      float acc = 0.f;
                      for (int i = 0; i < d; ++i) acc += q[i] * K[static_cast<size_t>(t) * ld + i];
                      s[t] = acc * 0.125f;
                    }
                  }, {}});
    cs.push_back({"attn_scores", fl, [&] { attn_scores(s.data(), q.data(), K.data(), ld, T, d, 0.125f); }, {}});
    cs.push_back({"weighted-sum naive loop", fl, [&] {
                    std::fill(o.begin(), o.end(), 0.f);
                    for (int t = 0; t < T; ++t)
                      for (int i = 0; i < d; ++i) o[i] += s[t] * K[static_cast<size_t>(t) * ld + i];
                  }, {}});
    cs.push_back({"attn_weighted_sum", fl, [&] { attn_weighted_sum(o.data(), s.data(), K.data(), ld, T, d); }, {}});
    std::printf("T=%d\n", T);
    run_rounds(cs);
    print_rate(cs, "GFLOP/s", 1e-9);
  }
}

// ---------------------------------------------------------------- memory read bandwidth

// How fast one thread can read memory, against a GEMV that reads the same bytes: a generation
// step streams every f32 weight once (~498 MB for GPT-2 small), so no engine's step can beat
// bytes / bandwidth. The buffer (512 MB) is far larger than any cache.
void bench_stream() {
  std::printf("== stream: one thread reading memory (GB/s; ms per 498 MB = GPT-2 small's f32 weights)\n");
  const size_t n = size_t{128} << 20;  // floats: 512 MB
  std::vector<float> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = static_cast<float>(i & 1023) * 1e-3f;
  volatile float sink = 0.f;
  const float* p = buf.data();
  std::vector<Candidate> cs;
  cs.push_back({"simd sum, 8 accumulators", double(n) * 4, [&] {
                  typename SV::V acc[8];
                  for (auto& a : acc) a = SV::zero();
                  for (size_t i = 0; i + 8 * SV::W <= n; i += 8 * SV::W)
                    LMDBG_UNROLL for (int u = 0; u < 8; ++u) acc[u] = SV::add(acc[u], SV::load(p + i + u * SV::W));
                  float t[SV::W];
                  SV::store(t, SV::add(SV::add(SV::add(acc[0], acc[1]), SV::add(acc[2], acc[3])),
                                        SV::add(SV::add(acc[4], acc[5]), SV::add(acc[6], acc[7]))));
                  sink = sink + t[0];
                }, {}});
  // The production GEMV over the unembedding (768 x 50257 f32, 154 MB), as a generation step runs it.
  const int K = 768, N = 50257;
  const std::vector<float> w = gpt2_weights(static_cast<size_t>(K) * N, 5);
  const std::vector<float> b = random_floats(N, 6);
  const PackedMatrix W = PackedMatrix::pack({w.data(), DType::kF32, K, N}, b.data(), Storage::kF32);
  const std::vector<float> a = random_floats(K, 7);
  std::vector<float> c(N);
  cs.push_back({"gemv 768x50257 f32 (bytes of W)", double(K) * N * 4, [&] { gemm(c.data(), N, a.data(), K, 1, W); }, {}});
  // The f32 GEMV's panel count (ukernels.h kGemvPanels): the same bytes walked 4 and 8 panels at a time.
  cs.push_back({"  its kernel over 4 panels", double(K) * N * 4,
                [&] { detail::f32_gemv<SV, 2, 4>(1, N, K, a.data(), K, W.f32(), c.data(), N); }, {}});
  cs.push_back({"  its kernel over 8 panels", double(K) * N * 4,
                [&] { detail::f32_gemv<SV, 2, 8>(1, N, K, a.data(), K, W.f32(), c.data(), N); }, {}});
  run_rounds(cs, 9, 0.0);
  for (const auto& x : cs)
    std::printf("  %-34s %6.1f GB/s (best %6.1f)  %6.1f ms per 498 MB\n", x.name.c_str(), x.work / x.median() * 1e-9,
                x.work / x.best() * 1e-9, 498e6 / (x.work / x.median()) * 1e3);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "all";
  std::printf("lmdbg kernels bench: panel NR=%d\n", PackedMatrix::NR);
  if (what == "tiles" || what == "all") bench_tiles();
  if (what == "gemm" || what == "all") bench_gemm({1, 12, 32, 128});
  if (what == "gemv") bench_gemm({1});
  if (what == "smallm") bench_gemm({2, 3, 4, 5, 6, 8}, false);
  if (what == "prompt") bench_gemm({8, 12, 32, 128}, false);
  if (what == "topk" || what == "all") bench_topk();
  if (what == "attn" || what == "all") bench_attn();
  if (what == "stream") bench_stream();
  return 0;
}

#endif  // __EMSCRIPTEN__ || LMDBG_KERNELS_STANDALONE_BENCH
