// The fork-join pool of parallel.h.
//
// One job at a time. A job is (fn, ctx, n) in one of two slots (by generation parity) plus one
// 64-bit word, state = generation << 32 | next task index. Every thread, the caller included,
// claims task indices by compare-and-swap on that word, so a thread still holding an old
// generation can never claim a task of a newer job, and the caller alone can always finish the
// job (no deadlock if a worker is slow to start or descheduled). The caller waits until `done`
// counts all n tasks, then returns: the next job starts only after every claimed task returned.
#include "parallel.h"

#include <algorithm>
#include <cstdlib>

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define LMDBG_NO_THREADS 1
#endif

#ifndef LMDBG_NO_THREADS
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>
#endif

namespace lmdbg::kernels {

#ifdef LMDBG_NO_THREADS

int num_threads() { return 1; }
void set_num_threads(int) {}
int max_threads() { return 1; }
PoolCounters pool_counters() { return {}; }
namespace detail {
void parallel_for_impl(int n, TaskFn fn, void* ctx, const Aside& aside) {
  if (aside) aside();
  for (int i = 0; i < n; ++i) fn(ctx, i);
}
}  // namespace detail

#else

namespace {

constexpr int kMaxThreads = 64;
// How long an idle worker polls for the next job before it sleeps. The GEMMs of a forward pass
// are separated by short serial steps (layernorm, attention, GELU): polling keeps the workers'
// wake-up off the critical path; a sleeping worker costs a futex wake (tens of microseconds).
constexpr auto kSpin = std::chrono::microseconds(1000);

thread_local bool t_in_task = false;

int env_threads() {
  const char* e = std::getenv("LMDBG_THREADS");
  if (!e || !*e) return 1;
  const int n = std::atoi(e);
  return std::clamp(n, 1, kMaxThreads);
}

class Pool {
 public:
  static Pool& get() {
    static Pool* pool = new Pool();  // never destroyed: workers sleep until the process exits
    return *pool;
  }

  int threads() const { return threads_.load(std::memory_order_relaxed); }

  void set_threads(int n) {
    std::lock_guard<std::mutex> run(run_mu_);
    threads_.store(std::clamp(n, 1, kMaxThreads), std::memory_order_relaxed);
  }

  void run(int n, detail::TaskFn fn, void* ctx, const Aside& aside) {
    std::unique_lock<std::mutex> run(run_mu_, std::try_to_lock);
    const int nt = threads();
    if (t_in_task || !run.owns_lock() || nt <= 1) {  // nested, concurrent or single: serial
      if (aside) aside();
      for (int i = 0; i < n; ++i) fn(ctx, i);
      return;
    }
    start_workers(nt - 1);
    const uint32_t gen = ++gen_;
    Job& job = jobs_[gen & 1];
    job.fn.store(fn, std::memory_order_relaxed);
    job.ctx.store(ctx, std::memory_order_relaxed);
    job.n.store(n, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    state_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      { std::lock_guard<std::mutex> lk(sleep_mu_); }
      sleep_cv_.notify_all();
    }
    if (aside) {
      try {
        aside();
      } catch (...) {  // rethrown after the join, like a task's
        std::lock_guard<std::mutex> lk(error_mu_);
        if (!error_) error_ = std::current_exception();
      }
    }
    const int mine = work(gen);
    // Wait for the tasks other threads claimed.
    const auto joined = std::chrono::steady_clock::now();
    for (unsigned spins = 0; done_.load(std::memory_order_acquire) < n; ++spins)
      if (spins > 4096) std::this_thread::yield();
    count_.jobs.fetch_add(1, std::memory_order_relaxed);
    count_.tasks.fetch_add(n, std::memory_order_relaxed);
    count_.caller_tasks.fetch_add(mine, std::memory_order_relaxed);
    count_.wait_ns.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - joined).count(),
                             std::memory_order_relaxed);
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

  // Lock-free: callable from inside a task (a lock would wait for the job that runs it).
  PoolCounters counters() const {
    PoolCounters c;
    c.jobs = count_.jobs.load(std::memory_order_relaxed);
    c.tasks = count_.tasks.load(std::memory_order_relaxed);
    c.caller_tasks = count_.caller_tasks.load(std::memory_order_relaxed);
    c.join_wait_seconds = 1e-9 * static_cast<double>(count_.wait_ns.load(std::memory_order_relaxed));
    return c;
  }

 private:
  struct Job {
    std::atomic<detail::TaskFn> fn{nullptr};
    std::atomic<void*> ctx{nullptr};
    std::atomic<int> n{0};
  };

  // Runs tasks of job `gen` until none is left (or a newer job has replaced it); returns how many.
  int work(uint32_t gen) {
    const Job& job = jobs_[gen & 1];
    // These may already belong to a job two generations on; the compare-and-swap below then fails.
    const detail::TaskFn fn = job.fn.load(std::memory_order_relaxed);
    void* const ctx = job.ctx.load(std::memory_order_relaxed);
    const uint64_t n = static_cast<uint64_t>(job.n.load(std::memory_order_relaxed));
    uint64_t s = state_.load(std::memory_order_acquire);
    int ran = 0;
    for (;;) {
      if ((s >> 32) != gen || (s & 0xffffffffu) >= n) return ran;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      ++ran;
      t_in_task = true;
      try {
        fn(ctx, static_cast<int>(s & 0xffffffffu));
      } catch (...) {
        std::lock_guard<std::mutex> lk(error_mu_);
        if (!error_) error_ = std::current_exception();
      }
      t_in_task = false;
      done_.fetch_add(1, std::memory_order_release);
      s = state_.load(std::memory_order_acquire);
    }
  }

  void start_workers(int want) {
    while (static_cast<int>(workers_.size()) < want) {
      const int id = static_cast<int>(workers_.size());
      workers_.emplace_back([this, id] { worker_main(id); });
      workers_.back().detach();
    }
  }

  void worker_main(int id) {
    uint32_t seen = static_cast<uint32_t>(state_.load(std::memory_order_acquire) >> 32);
    for (;;) {
      uint32_t gen = wait_for_job(seen);
      seen = gen;
      if (id + 1 < threads()) work(gen);
    }
  }

  uint32_t current_gen() const { return static_cast<uint32_t>(state_.load(std::memory_order_seq_cst) >> 32); }

  uint32_t wait_for_job(uint32_t seen) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (unsigned i = 1;; ++i) {
      const uint32_t g = static_cast<uint32_t>(state_.load(std::memory_order_acquire) >> 32);
      if (g != seen) return g;
      if (i % 256 == 0 && std::chrono::steady_clock::now() > until) break;
    }
    std::unique_lock<std::mutex> lk(sleep_mu_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    sleep_cv_.wait(lk, [&] { return current_gen() != seen; });
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return current_gen();
  }

  std::atomic<int> threads_{env_threads()};
  std::vector<std::thread> workers_;  // detached; guarded by run_mu_
  std::mutex run_mu_;                 // one job at a time
  uint32_t gen_ = 0;                  // guarded by run_mu_
  Job jobs_[2];
  std::atomic<uint64_t> state_{0};
  std::atomic<int> done_{0};
  std::mutex error_mu_;
  std::exception_ptr error_;
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::atomic<int> sleepers_{0};
  struct {
    std::atomic<long long> jobs{0}, tasks{0}, caller_tasks{0}, wait_ns{0};
  } count_;
};

}  // namespace

int num_threads() { return Pool::get().threads(); }
void set_num_threads(int n) { Pool::get().set_threads(n); }
int max_threads() { return kMaxThreads; }
PoolCounters pool_counters() { return Pool::get().counters(); }
namespace detail {
void parallel_for_impl(int n, TaskFn fn, void* ctx, const Aside& aside) { Pool::get().run(n, fn, ctx, aside); }
}  // namespace detail

#endif

}  // namespace lmdbg::kernels

extern "C" int lmdbg_set_num_threads(int n) {
  lmdbg::kernels::set_num_threads(n);
  return lmdbg::kernels::num_threads();
}
