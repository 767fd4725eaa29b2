// Internal to the tokenizer: the merge table and the BPE merge loop (GPT-2 semantics).
// Not part of the public API; included by tokenizer.cpp and the tokenizer tests.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lmdbg::tok_detail {

// (left id, right id) -> (rank, merged id). Open addressing, linear probing; built once, then read-only.
class MergeTable {
 public:
  struct Entry {
    std::uint64_t key;
    std::int32_t rank;
    std::int32_t merged;
  };

  void reserve(std::size_t n);
  // Returns false (and changes nothing) when the pair is already present.
  bool insert(int left, int right, int rank, int merged);
  const Entry* find(int left, int right) const {
    if (slots_.empty()) return nullptr;
    const std::uint64_t k = key(left, right);
    for (std::size_t i = slot(k);; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (e.key == k) return &e;
      if (e.key == kEmpty) return nullptr;
    }
  }
  std::size_t size() const { return size_; }

 private:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  static std::uint64_t key(int l, int r) {
    return (std::uint64_t(std::uint32_t(l)) << 32) | std::uint32_t(r);
  }
  std::size_t slot(std::uint64_t k) const {
    return std::size_t((k * 0x9E3779B97F4A7C15ull) >> shift_) & mask_;
  }
  void rehash(std::size_t capacity);

  std::vector<Entry> slots_;
  std::size_t mask_ = 0;
  int shift_ = 64;
  std::size_t size_ = 0;
};

// Byte-pair merging exactly as OpenAI's GPT-2 encoder.py: repeatedly take the adjacent pair of lowest
// rank and merge all its non-overlapping occurrences, left to right, until no adjacent pair has a rank.
// `symbols` holds the initial ids (one per byte); the result is appended to `out`.
// bpe_quadratic is O(n^2) and fastest for short words; bpe_heap is O(n log n) for long ones.
// bpe() picks one; both give identical results (tested).
void bpe_quadratic(const MergeTable& merges, std::span<const int> symbols, std::vector<int>& out);
void bpe_heap(const MergeTable& merges, std::span<const int> symbols, std::vector<int>& out);
void bpe(const MergeTable& merges, std::span<const int> symbols, std::vector<int>& out);

}  // namespace lmdbg::tok_detail
