// Top-k in one vectorised pass over blocks of 16:
//  (1) T = the k-th best block maximum, kept in a k-entry heap of block maxima. At least k
//      elements are >= T (one per block), so the top k all are. Once the heap is full, a block
//      with no element >= the heap's minimum (one SIMD compare) cannot hold any of them, as the
//      minimum only rises; the other blocks are remembered with their maximum.
//  (2) Collect the elements >= T from the remembered blocks whose maximum is >= T (typically
//      ~k of them) and nth_element + sort them.
// The cost hardly depends on k or on the order of x (measured against a threshold-heap over the
// elements themselves, which is O(n log k) on ascending input, and std::partial_sort).
#include "topk.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "simd.h"

namespace lmdbg::kernels {

namespace {

constexpr int kBlock = 16;
constexpr float kInf = std::numeric_limits<float>::infinity();

struct Entry {
  float key;  // value (largest) or -value (smallest); NaN -> -inf
  int idx;
};

// a ranks before b.
inline bool better(const Entry& a, const Entry& b) { return a.key > b.key || (a.key == b.key && a.idx < b.idx); }

template <bool Largest>
inline float key_of(float v) {
  if (std::isnan(v)) return -kInf;
  return Largest ? v : -v;
}

enum class Cmp { kGt, kLt, kGe, kLe };

// True if any of x[0..16) compares true against thr. NaN compares false.
template <Cmp C>
inline bool any16(const float* x, float thr) {
#if defined(__wasm_simd128__)
  const v128_t t = wasm_f32x4_splat(thr);
  auto cmp = [&](v128_t v) {
    if constexpr (C == Cmp::kGt) return wasm_f32x4_gt(v, t);
    if constexpr (C == Cmp::kLt) return wasm_f32x4_lt(v, t);
    if constexpr (C == Cmp::kGe) return wasm_f32x4_ge(v, t);
    return wasm_f32x4_le(v, t);
  };
  const v128_t m = wasm_v128_or(wasm_v128_or(cmp(wasm_v128_load(x)), cmp(wasm_v128_load(x + 4))),
                                wasm_v128_or(cmp(wasm_v128_load(x + 8)), cmp(wasm_v128_load(x + 12))));
  return wasm_v128_any_true(m);
#elif defined(LMDBG_KERNELS_AVX2)
  const __m256 t = _mm256_set1_ps(thr);
  constexpr int op = C == Cmp::kGt ? _CMP_GT_OQ : C == Cmp::kLt ? _CMP_LT_OQ : C == Cmp::kGe ? _CMP_GE_OQ : _CMP_LE_OQ;
  const __m256 m = _mm256_or_ps(_mm256_cmp_ps(_mm256_loadu_ps(x), t, op), _mm256_cmp_ps(_mm256_loadu_ps(x + 8), t, op));
  return _mm256_movemask_ps(m) != 0;
#else
  bool any = false;
  for (int j = 0; j < kBlock; ++j) {
    if constexpr (C == Cmp::kGt) any |= x[j] > thr;
    if constexpr (C == Cmp::kLt) any |= x[j] < thr;
    if constexpr (C == Cmp::kGe) any |= x[j] >= thr;
    if constexpr (C == Cmp::kLe) any |= x[j] <= thr;
  }
  return any;
#endif
}

// Best key of x[0..len): max (Largest) or -min, NaN ignored, -inf if all NaN.
template <bool Largest>
float block_best(const float* x, int len) {
  float r = -kInf;
  for (int j = 0; j < len; ++j) r = std::max(r, key_of<Largest>(x[j]));
  return r;
}

template <bool Largest>
int topk_impl(const float* x, int n, int k, int* idx_out) {
  thread_local std::vector<float> heap;
  thread_local std::vector<Entry> seen;  // {block maximum, block index}
  thread_local std::vector<Entry> cand;
  const int nb = (n + kBlock - 1) / kBlock;
  // Pass 1: min-heap of the k best block maxima (keys).
  heap.clear();
  seen.clear();
  float thr = 0.f;  // the heap's minimum as a value, once the heap is full
  for (int b = 0; b < nb; ++b) {
    const float* xb = x + b * kBlock;
    const int len = std::min(kBlock, n - b * kBlock);
    const bool full = static_cast<int>(heap.size()) == k;
    // Skipping is safe: the heap's k blocks come earlier and each holds an element ranking at
    // least as high as thr (NaN compares false and has key -inf: it loses ties by index).
    if (full && len == kBlock && !any16<Largest ? Cmp::kGe : Cmp::kLe>(xb, thr)) continue;
    const float v = block_best<Largest>(xb, len);
    seen.push_back({v, b});
    if (!full) {
      heap.push_back(v);
      std::push_heap(heap.begin(), heap.end(), std::greater<float>());
    } else if (v > heap.front()) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<float>());
      heap.back() = v;
      std::push_heap(heap.begin(), heap.end(), std::greater<float>());
    } else {
      continue;
    }
    if (static_cast<int>(heap.size()) == k) thr = Largest ? heap.front() : -heap.front();
  }
  // Pass 2: the elements with key >= t hold the top k.
  const float t = static_cast<int>(heap.size()) < k ? -kInf : heap.front();
  cand.clear();
  for (const Entry& e : seen) {
    if (e.key < t) continue;
    const int b = e.idx;
    const int end = std::min(n, (b + 1) * kBlock);
    for (int i = b * kBlock; i < end; ++i) {
      const float kv = key_of<Largest>(x[i]);
      if (kv >= t) cand.push_back({kv, i});
    }
  }
  std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end(), better);
  std::sort(cand.begin(), cand.begin() + k, better);
  for (int j = 0; j < k; ++j) idx_out[j] = cand[j].idx;
  return k;
}

}  // namespace

int topk(const float* x, int n, int k, int* idx_out, bool largest) {
  k = std::min(k, n);
  if (k <= 0) return 0;
  return largest ? topk_impl<true>(x, n, k, idx_out) : topk_impl<false>(x, n, k, idx_out);
}

}  // namespace lmdbg::kernels
