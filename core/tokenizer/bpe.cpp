#include "core/tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <queue>

namespace lmdbg::tok_detail {

void MergeTable::reserve(std::size_t n) {
  std::size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  if (cap > slots_.size()) rehash(cap);
}

void MergeTable::rehash(std::size_t capacity) {
  std::vector<Entry> old = std::move(slots_);
  slots_.assign(capacity, Entry{kEmpty, 0, 0});
  mask_ = capacity - 1;
  shift_ = 64;
  for (std::size_t c = capacity; c > 1; c >>= 1) --shift_;
  for (const Entry& e : old) {
    if (e.key == kEmpty) continue;
    std::size_t i = slot(e.key);
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = e;
  }
}

bool MergeTable::insert(int left, int right, int rank, int merged) {
  if (2 * (size_ + 1) > slots_.size()) rehash(std::max<std::size_t>(16, 2 * slots_.size()));
  const std::uint64_t k = key(left, right);
  std::size_t i = slot(k);
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == k) return false;
    i = (i + 1) & mask_;
  }
  slots_[i] = Entry{k, rank, merged};
  ++size_;
  return true;
}

void bpe_quadratic(const MergeTable& merges, std::span<const int> symbols, std::vector<int>& out) {
  // Small words: a stack buffer avoids allocating.
  constexpr std::size_t kStack = 64;
  int stack_buf[kStack];
  std::vector<int> heap_buf;
  int* w = stack_buf;
  if (symbols.size() > kStack) {
    heap_buf.assign(symbols.begin(), symbols.end());
    w = heap_buf.data();
  } else {
    std::copy(symbols.begin(), symbols.end(), w);
  }
  std::size_t n = symbols.size();
  while (n > 1) {
    int best_rank = INT_MAX, a = -1, b = -1, merged = -1;
    for (std::size_t i = 0; i + 1 < n; ++i) {
      const MergeTable::Entry* e = merges.find(w[i], w[i + 1]);
      if (e && e->rank < best_rank) {
        best_rank = e->rank;
        a = w[i];
        b = w[i + 1];
        merged = e->merged;
      }
    }
    if (merged < 0) break;
    std::size_t k = 0;
    for (std::size_t i = 0; i < n;) {
      if (i + 1 < n && w[i] == a && w[i + 1] == b) {
        w[k++] = merged;
        i += 2;
      } else {
        w[k++] = w[i++];
      }
    }
    n = k;
  }
  out.insert(out.end(), w, w + n);
}

void bpe_heap(const MergeTable& merges, std::span<const int> symbols, std::vector<int>& out) {
  const int n = static_cast<int>(symbols.size());
  if (n == 0) return;
  struct Sym {
    int id, prev, next;  // id < 0: merged away
  };
  std::vector<Sym> s(n);
  for (int i = 0; i < n; ++i) s[i] = Sym{symbols[i], i - 1, i + 1 < n ? i + 1 : -1};

  // Candidates keyed (rank, left position): equal ranks come out left to right.
  using Cand = std::uint64_t;
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int left) {
    if (left < 0 || s[left].next < 0) return;
    const MergeTable::Entry* e = merges.find(s[left].id, s[s[left].next].id);
    if (e) heap.push((Cand(std::uint32_t(e->rank)) << 32) | std::uint32_t(left));
  };
  for (int i = 0; i + 1 < n; ++i) push(i);

  std::vector<int> merged_at;
  while (!heap.empty()) {
    // One rank = one pair: merge all its current occurrences, left to right, as encoder.py does,
    // before looking at the pairs those merges create.
    const std::uint32_t rank = std::uint32_t(heap.top() >> 32);
    merged_at.clear();
    int last_pos = -1;
    while (!heap.empty() && std::uint32_t(heap.top() >> 32) == rank) {
      const int pos = int(std::uint32_t(heap.top()));
      heap.pop();
      if (pos == last_pos) continue;  // duplicate candidate
      last_pos = pos;
      Sym& l = s[pos];
      if (l.id < 0 || l.next < 0) continue;
      const MergeTable::Entry* e = merges.find(l.id, s[l.next].id);
      if (!e || std::uint32_t(e->rank) != rank) continue;  // stale
      const int r = l.next;
      l.id = e->merged;
      l.next = s[r].next;
      if (l.next >= 0) s[l.next].prev = pos;
      s[r].id = -1;
      merged_at.push_back(pos);
    }
    for (int pos : merged_at) {
      if (s[pos].id < 0) continue;
      push(s[pos].prev);
      push(pos);
    }
  }
  for (int i = 0; i >= 0; i = s[i].next) out.push_back(s[i].id);
}

void bpe(const MergeTable& merges, std::span<const int> symbols, std::vector<int>& out) {
  if (symbols.size() == 1) {
    out.push_back(symbols[0]);
  } else if (symbols.size() <= 48) {
    bpe_quadratic(merges, symbols, out);
  } else {
    bpe_heap(merges, symbols, out);
  }
}

}  // namespace lmdbg::tok_detail
