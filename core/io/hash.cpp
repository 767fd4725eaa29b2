#include "hash.h"

#include <bit>
#include <cstring>

namespace lmdbg::io {

namespace {

constexpr uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full, P3 = 0x165667B19E3779F9ull,
                   P4 = 0x85EBCA77C2B2AE63ull, P5 = 0x27D4EB2F165667C5ull;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Little-endian loads: one instruction on little-endian hosts (wasm, x86, arm64), bytes elsewhere.
template <typename T>
inline T load(const uint8_t* p) {
  T v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, sizeof v);
  } else {
    for (int i = sizeof(T) - 1; i >= 0; --i) v = static_cast<T>((v << 8) | p[i]);
  }
  return v;
}
inline uint64_t load64(const uint8_t* p) { return load<uint64_t>(p); }
inline uint32_t load32(const uint8_t* p) { return load<uint32_t>(p); }

inline uint64_t round(uint64_t acc, uint64_t lane) { return rotl(acc + lane * P2, 31) * P1; }
inline uint64_t merge(uint64_t h, uint64_t acc) { return (h ^ round(0, acc)) * P1 + P4; }

inline void stripe(uint64_t* acc, const uint8_t* p) {
  acc[0] = round(acc[0], load64(p));
  acc[1] = round(acc[1], load64(p + 8));
  acc[2] = round(acc[2], load64(p + 16));
  acc[3] = round(acc[3], load64(p + 24));
}

}  // namespace

Hash64::Hash64() : acc_{P1 + P2, P2, 0, 0 - P1}, buf_{} {}

void Hash64::update(const uint8_t* p, size_t n) {
  total_ += n;
  if (buffered_) {
    const size_t take = n < 32 - buffered_ ? n : 32 - buffered_;
    std::memcpy(buf_ + buffered_, p, take);
    buffered_ += take;
    p += take;
    n -= take;
    if (buffered_ < 32) return;
    stripe(acc_, buf_);
    buffered_ = 0;
  }
  uint64_t a[4] = {acc_[0], acc_[1], acc_[2], acc_[3]};  // in registers for the long loop
  for (; n >= 32; p += 32, n -= 32) stripe(a, p);
  std::memcpy(acc_, a, sizeof a);
  if (n) {
    std::memcpy(buf_, p, n);
    buffered_ = n;
  }
}

uint64_t Hash64::digest() const {
  uint64_t h;
  if (total_ >= 32) {
    h = rotl(acc_[0], 1) + rotl(acc_[1], 7) + rotl(acc_[2], 12) + rotl(acc_[3], 18);
    for (uint64_t a : acc_) h = merge(h, a);
  } else {
    h = P5;
  }
  h += total_;
  const uint8_t* p = buf_;
  size_t n = buffered_;
  for (; n >= 8; p += 8, n -= 8) h = rotl(h ^ round(0, load64(p)), 27) * P1 + P4;
  if (n >= 4) {
    h = rotl(h ^ (static_cast<uint64_t>(load32(p)) * P1), 23) * P2 + P3;
    p += 4;
    n -= 4;
  }
  for (; n; ++p, --n) h = rotl(h ^ (*p * P5), 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

std::string hex64(uint64_t v) {
  static const char* d = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = d[v & 15];
  return s;
}

}  // namespace lmdbg::io
