// core/kernels/parallel.h and the threaded gemm: every task runs once, nesting and concurrent
// callers fall back to serial, exceptions reach the caller, and gemm/gemm_cols give bitwise the
// single-thread result for every thread count (their results do not depend on the column split).
// Built natively (std::thread) and into the threaded wasm build's node test (CMakeLists.txt).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/kernels/gemm.h"
#include "core/kernels/parallel.h"
#include "test_util.h"

using namespace lmdbg::kernels;

namespace {

// Restores the thread count when a test ends.
struct Threads {
  int saved = num_threads();
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(saved); }
};


bool threads_available() { return max_threads() > 1; }

}  // namespace

TEST(Parallel, EveryTaskOnce) {
  for (int nt : {1, 2, 3, 4, 8}) {
    Threads t(nt);
    EXPECT_EQ(num_threads(), threads_available() ? nt : 1);
    for (int n : {0, 1, 2, 3, 7, 64, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      for (int rep = 0; rep < 20; ++rep) parallel_for(n, [&](int i) { hits[i].fetch_add(1); });
      for (int i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 20) << "threads " << nt << ", n " << n << ", task " << i;
    }
  }
}

TEST(Parallel, UsesSeveralThreads) {
  if (!threads_available()) GTEST_SKIP() << "single-threaded build";
  Threads t(2);
  // Tasks that wait for each other can only finish if two threads run them.
  std::atomic<int> arrived{0};
  std::atomic<bool> other_thread{false};
  const auto caller = std::this_thread::get_id();
  parallel_for(2, [&](int) {
    if (std::this_thread::get_id() != caller) other_thread = true;
    arrived.fetch_add(1);
    // The caller may run both tasks if the worker is slow to wake: bounded wait, no deadlock.
    for (int spin = 0; arrived.load() < 2 && spin < 50'000'000; ++spin) {
    }
  });
  EXPECT_EQ(arrived.load(), 2);
  // Not guaranteed on a loaded machine in one job; over many jobs a worker takes part.
  for (int rep = 0; rep < 2000 && !other_thread; ++rep)
    parallel_for(8, [&](int) {
      if (std::this_thread::get_id() != caller) other_thread = true;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    });
  EXPECT_TRUE(other_thread.load());
}

TEST(Parallel, NestedAndConcurrentCallsRunSerially) {
  Threads t(3);
  std::atomic<int> sum{0};
  parallel_for(4, [&](int i) { parallel_for(5, [&](int j) { sum.fetch_add(i * 10 + j); }); });
  int want = 0;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j) want += i * 10 + j;
  EXPECT_EQ(sum.load(), want);

  // Two outside threads at once: one gets the pool, the other runs serially; both complete.
  std::atomic<long> total{0};
  auto job = [&] {
    for (int rep = 0; rep < 200; ++rep) parallel_for(16, [&](int i) { total.fetch_add(i); });
  };
  std::thread a(job), b(job);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2L * 200 * (15 * 16 / 2));
}

TEST(Parallel, ExceptionReachesTheCaller) {
  Threads t(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(parallel_for(10,
                            [&](int i) {
                              ran.fetch_add(1);
                              if (i == 3) throw std::runtime_error("task 3");
                            }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 10);  // the other tasks still ran
  // The pool still works afterwards.
  std::atomic<int> n{0};
  parallel_for(10, [&](int) { n.fetch_add(1); });
  EXPECT_EQ(n.load(), 10);
}

TEST(Parallel, AsideRunsOnceOnTheCallerFirst) {
  const auto caller = std::this_thread::get_id();
  for (int nt : {1, 2, 4}) {
    Threads t(nt);
    for (int n : {0, 1, 2, 8, 100}) {
      int asides = 0;
      bool on_caller = true;
      std::atomic<int> ran{0};
      int ran_before_aside = -1;
      parallel_for(
          n, [&](int) { ran.fetch_add(1); },
          [&] {
            ++asides;
            on_caller = on_caller && std::this_thread::get_id() == caller;
            if (nt == 1) ran_before_aside = ran.load();
          });
      EXPECT_EQ(asides, 1) << nt << " threads, n " << n;
      EXPECT_TRUE(on_caller);
      EXPECT_EQ(ran.load(), n);
      if (nt == 1) EXPECT_EQ(ran_before_aside, 0) << "serially, the aside comes first";
    }
  }
}

TEST(Parallel, OtherThreadsWorkWhileTheCallerIsAside) {
  if (!threads_available()) GTEST_SKIP() << "single-threaded build";
  Threads t(2);
  // The aside waits (bounded) for a task to finish: only another thread can run one meanwhile.
  // Not guaranteed in one job on a loaded machine; over a few jobs a worker takes part.
  bool overlapped = false;
  for (int rep = 0; rep < 200 && !overlapped; ++rep) {
    std::atomic<int> ran{0};
    parallel_for(
        16, [&](int) { ran.fetch_add(1); },
        [&] {
          for (int spin = 0; ran.load() == 0 && spin < 20'000'000; ++spin) {
          }
          overlapped = ran.load() > 0;
        });
    ASSERT_EQ(ran.load(), 16);
  }
  EXPECT_TRUE(overlapped);
}

TEST(Parallel, AsideExceptionReachesTheCallerAfterTheTasks) {
  for (int nt : {1, 2}) {
    Threads t(nt);
    std::atomic<int> ran{0};
    EXPECT_THROW(parallel_for(
                     10, [&](int) { ran.fetch_add(1); }, [] { throw std::runtime_error("aside"); }),
                 std::runtime_error);
    if (nt > 1 && threads_available()) EXPECT_EQ(ran.load(), 10) << "the job still ran";
  }
}

TEST(Parallel, SetNumThreadsClamps) {
  Threads t(1);
  set_num_threads(0);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(-5);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(1 << 20);
  EXPECT_EQ(num_threads(), max_threads());
  EXPECT_EQ(lmdbg_set_num_threads(2), threads_available() ? 2 : 1);
}

// GPT-2-small shapes (and odd ones): the threaded gemm equals the single-threaded one bitwise, for
// f32, f16 and q8 storage (f16 with subnormal weights, added per column range), any M and column range.
TEST(Parallel, CountersCountForkJoinsAndTheCallersTasks) {
  const PoolCounters c0 = pool_counters();
  {
    Threads one(1);
    parallel_for(64, [](int) {});
  }
  const PoolCounters c1 = pool_counters();
  EXPECT_EQ(c1.jobs, c0.jobs);  // serial: not a fork-join
  EXPECT_EQ(c1.tasks, c0.tasks);
  if (!threads_available()) return;
  Threads two(2);
  std::atomic<int> ran{0};
  parallel_for(64, [&](int) { ran.fetch_add(1); });
  const PoolCounters c2 = pool_counters();
  EXPECT_EQ(ran.load(), 64);
  EXPECT_EQ(c2.jobs, c1.jobs + 1);
  EXPECT_EQ(c2.tasks, c1.tasks + 64);
  EXPECT_GE(c2.caller_tasks - c1.caller_tasks, 0);
  EXPECT_LE(c2.caller_tasks - c1.caller_tasks, 64);
  EXPECT_GE(c2.join_wait_seconds, c1.join_wait_seconds);
}

TEST(Parallel, GemmBitwiseEqualAcrossThreadCounts) {
  struct Shape {
    int M, K, N;
  };
  const Shape shapes[] = {{1, 768, 2304}, {1, 3072, 768}, {1, 768, 5000}, {3, 768, 768},
                          {9, 256, 1031}, {32, 768, 2304}, {33, 200, 777}};
  for (const Shape& s : shapes) {
    std::vector<float> Wf = lmdbg::test::randn(static_cast<size_t>(s.K) * s.N, 1 + s.N, 0.02f);
    // A few f16 subnormals (GPT-2 has ~0.2%): exercise the side list per column range.
    for (size_t i = 0; i < Wf.size(); i += 97) Wf[i] = 3e-6f;
    const std::vector<float> bias = lmdbg::test::randn(s.N, 2 + s.N);
    const std::vector<float> A = lmdbg::test::randn(static_cast<size_t>(s.M) * s.K, 3 + s.M);
    for (Storage st : {Storage::kF32, Storage::kF16, Storage::kQ8}) {
      const PackedMatrix W = PackedMatrix::pack({Wf.data(), DType::kF32, s.K, s.N}, bias.data(), st);
      std::vector<float> ref(static_cast<size_t>(s.M) * s.N);
      {
        Threads one(1);
        gemm(ref.data(), s.N, A.data(), s.K, s.M, W);
      }
      for (int nt : {2, 3, 4}) {
        Threads t(nt);
        std::vector<float> C(ref.size(), -1.f);
        gemm(C.data(), s.N, A.data(), s.K, s.M, W);
        ASSERT_EQ(std::memcmp(C.data(), ref.data(), C.size() * 4), 0)
            << "M=" << s.M << " K=" << s.K << " N=" << s.N << " storage " << static_cast<int>(st) << ", " << nt
            << " threads";
        // With an aside (more, finer column ranges): the same bits, the aside once.
        int asides = 0;
        std::fill(C.begin(), C.end(), -1.f);
        gemm(C.data(), s.N, A.data(), s.K, s.M, W, [&] { ++asides; });
        EXPECT_EQ(asides, 1);
        ASSERT_EQ(std::memcmp(C.data(), ref.data(), C.size() * 4), 0) << "with an aside, M=" << s.M << ", " << nt << " threads";
        // A column range that starts inside a panel.
        const int n0 = 5, n1 = s.N - 3;
        std::vector<float> Cc(static_cast<size_t>(s.M) * (n1 - n0));
        gemm_cols(Cc.data(), n1 - n0, A.data(), s.K, s.M, W, n0, n1);
        for (int m = 0; m < s.M; ++m)
          ASSERT_EQ(std::memcmp(Cc.data() + static_cast<size_t>(m) * (n1 - n0),
                                ref.data() + static_cast<size_t>(m) * s.N + n0, (n1 - n0) * 4),
                    0)
              << "gemm_cols [" << n0 << "," << n1 << "), M=" << s.M << ", " << nt << " threads";
      }
    }
  }
}
