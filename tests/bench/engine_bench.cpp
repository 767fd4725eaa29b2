// Engine benchmarks on a GPT-2-small-shaped checkpoint (random weights):
//   /usr/bin/python3 weights_tools/make_gpt2_shaped.py --out build/bench-models/gpt2-small
//   ./build/lmdbg_bench --benchmark_filter=Engine --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// The model folder can be changed with LMDBG_BENCH_MODEL.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include "core/analysis/search.h"
#include "core/io/files.h"
#include "core/session/session.h"

namespace {

std::string model_dir() {
  const char* e = std::getenv("LMDBG_BENCH_MODEL");
  return e ? e : std::string(LMDBG_SOURCE_DIR) + "/build/bench-models/gpt2-small";
}

lmdbg::Session* session(lmdbg::kernels::Storage s) {
  static std::unique_ptr<lmdbg::Session> s32, s16;
  auto& m = s == lmdbg::kernels::Storage::kF32 ? s32 : s16;
  if (!m) {
    lmdbg::LoadOptions opt;
    opt.storage = s;
    try {
      m = std::make_unique<lmdbg::Session>(lmdbg::Model::load_dir(model_dir(), opt));
    } catch (const std::exception&) {
      return nullptr;
    }
  }
  return m.get();
}

const lmdbg::Model* model(lmdbg::kernels::Storage s) {
  const auto* x = session(s);
  return x ? &x->model() : nullptr;
}

std::vector<int> prompt(const lmdbg::Model& m, int n) {
  std::vector<int> ids;
  const auto words = m.tokenizer().encode(
      "The quick brown fox jumps over the lazy dog while the capital of France is Paris and the river flows north "
      "through the old city where children played in the fields every summer afternoon before the long winter came");
  for (int i = 0; i < n; ++i) ids.push_back(words[i % words.size()]);
  return ids;
}

lmdbg::kernels::Storage storage_of(const benchmark::State& st) {
  return st.range(0) == 16 ? lmdbg::kernels::Storage::kF16 : lmdbg::kernels::Storage::kF32;
}

void Engine_Load(benchmark::State& st) {
  const auto dir = lmdbg::io::read_model_dir(model_dir());
  lmdbg::LoadOptions opt;
  opt.storage = storage_of(st);
  for (auto _ : st) benchmark::DoNotOptimize(lmdbg::Model::load(dir.files(), opt));
}

void Engine_Forward(benchmark::State& st) {
  const auto* m = model(storage_of(st));
  if (!m) return st.SkipWithError("no benchmark model: see the header of tests/bench/engine_bench.cpp");
  const auto ids = prompt(*m, static_cast<int>(st.range(1)));
  lmdbg::State s(*m);
  for (auto _ : st) {
    s.reset();
    s.forward(ids);
    benchmark::DoNotOptimize(s.logits());
  }
  st.counters["tokens"] = static_cast<double>(ids.size());
}

// A full trace: prediction, every layer's before/after lens, 10 sub-updates per layer with top-10 tokens.
void Engine_Trace(benchmark::State& st) {
  auto* s = session(storage_of(st));
  if (!s) return st.SkipWithError("no benchmark model");
  const auto ids = prompt(s->model(), static_cast<int>(st.range(1)));
  for (auto _ : st) benchmark::DoNotOptimize(s->trace(ids, {}));
}

// One generation step with 32 tokens of context in the KV cache.
void Engine_GenerateStep(benchmark::State& st) {
  const auto* m = model(storage_of(st));
  if (!m) return st.SkipWithError("no benchmark model");
  const auto ids = prompt(*m, 32);
  lmdbg::State s(*m);
  s.forward(ids);
  const std::vector<int> next = {ids[3]};
  for (auto _ : st) {
    s.truncate(32);
    s.forward(next);
    benchmark::DoNotOptimize(s.logits());
  }
}

void Engine_SearchStats(benchmark::State& st) {
  const auto* m = model(storage_of(st));
  if (!m) return st.SkipWithError("no benchmark model");
  for (auto _ : st) benchmark::DoNotOptimize(lmdbg::compute_search_stats(*m));
}

void Engine_Search(benchmark::State& st) {
  const auto* m = model(storage_of(st));
  if (!m) return st.SkipWithError("no benchmark model");
  static const auto stats = lmdbg::compute_search_stats(*m);
  for (auto _ : st) benchmark::DoNotOptimize(lmdbg::search_value_vectors(*m, stats, {"river", "water"}, {20}));
}

}  // namespace

BENCHMARK(Engine_Load)->Arg(32)->Arg(16)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(Engine_Forward)->Args({32, 1})->Args({32, 32})->Args({32, 128})->Args({16, 32})->Unit(benchmark::kMillisecond);
BENCHMARK(Engine_Trace)->Args({32, 32})->Args({16, 32})->Unit(benchmark::kMillisecond);
BENCHMARK(Engine_GenerateStep)->Arg(32)->Arg(16)->Unit(benchmark::kMillisecond);
BENCHMARK(Engine_SearchStats)->Arg(32)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(Engine_Search)->Arg(32)->Arg(16)->Unit(benchmark::kMillisecond);
