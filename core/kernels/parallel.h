// A small fork-join thread pool for the kernels: parallel_for(n, fn) runs fn(0..n-1) on up to
// num_threads() threads, the calling thread being one of them, and returns when all are done.
//
// Builds:
//   - wasm without -pthread (the default lmdbg.wasm): no pool; parallel_for is a plain loop and
//     set_num_threads() is ignored (num_threads() stays 1).
//   - wasm with -pthread (lmdbg-threads.wasm): std::thread on Emscripten's pthreads. Every thread
//     must come from the Worker pool that the JS glue pre-spawns (PTHREAD_POOL_SIZE): the page's
//     main thread cannot wait for a new Worker to start. So the JS wrapper sizes that pool and then
//     calls lmdbg_set_num_threads(pool + 1) (js/src/module.ts); the default is 1.
//   - native: std::thread; default 1 thread, or the environment variable LMDBG_THREADS.
//
// Workers are started on first use, spin for about 1 ms after each job (the kernels of one
// forward pass follow each other within microseconds) and then sleep on a condition variable.
// parallel_for called from inside a task, or while another thread's parallel_for runs, runs its
// tasks serially on the caller. An exception thrown by a task is rethrown by parallel_for (the
// first one; the remaining tasks still run).
//
// An `aside` is serial work of the caller's own that can overlap a long job: the caller runs it
// first, once, while the other threads start on the tasks, then joins them; the tasks are claimed
// dynamically, so the others take what the caller could not. (The wasm binding first-touches the fresh
// JS arrays a forward's outputs are copied into: one thread only, ~12 us per 4 KiB page here.)
//
// Used by kernels::gemm (column ranges, gemm.cpp) and the ops between the GEMMs: attention (heads),
// layernorm (rows), GELU (chunks of whole vectors). Determinism: none of them depends on the split
// (gemm.h), so every thread count gives bitwise the same outputs.
#pragma once
#include <cstddef>
#include <functional>
#include <type_traits>

namespace lmdbg::kernels {

// Threads parallel_for uses (>= 1).
int num_threads();
// Sets the thread count, clamped to [1, max_threads()]; a build without threads ignores it.
// Not to be called while a parallel_for runs.
void set_num_threads(int n);
// The most threads this build can use: 1 without threads, else 64.
int max_threads();

// What the pool did since the process started, for profiling (ForwardProfile, forward.h): fork-joins
// run on more than one thread, their tasks, how many of those the calling thread ran itself, and the
// seconds it then waited at the join for the tasks other threads had claimed (imbalance + barrier).
// Serial fallbacks (one thread, n == 1, nested) are not counted.
struct PoolCounters {
  long long jobs = 0, tasks = 0, caller_tasks = 0;
  double join_wait_seconds = 0;
};
PoolCounters pool_counters();

// Serial work the caller does while a job starts (see above); empty = none.
using Aside = std::function<void()>;

namespace detail {
using TaskFn = void (*)(void* ctx, int i);
void parallel_for_impl(int n, TaskFn fn, void* ctx, const Aside& aside);
}  // namespace detail

// Runs fn(i) for i in [0, n), on up to num_threads() threads (one of them the caller), in any
// order; returns when every call has returned. `aside`, if any, runs once on the caller, first.
template <class F>
void parallel_for(int n, F&& fn, const Aside& aside = {}) {
  if (n <= 1 || num_threads() == 1) {
    if (aside) aside();
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  using Fn = std::remove_reference_t<F>;
  detail::parallel_for_impl(
      n, [](void* ctx, int i) { (*static_cast<Fn*>(ctx))(i); }, const_cast<void*>(static_cast<const void*>(&fn)), aside);
}

}  // namespace lmdbg::kernels

// For the JS wrapper of the threaded wasm build (exported as _lmdbg_set_num_threads); returns
// num_threads() after the call.
extern "C" int lmdbg_set_num_threads(int n);
