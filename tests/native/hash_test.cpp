// XXH64 (core/io/hash.h) against digests from the reference implementation (libxxhash 0.8.1,
// XXH64(data, n, 0)), whole and fed in pieces of every size.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/io/hash.h"

using lmdbg::io::Hash64;
using lmdbg::io::hex64;

namespace {

uint64_t hash_in_pieces(const std::vector<uint8_t>& v, size_t piece) {
  Hash64 h;
  for (size_t p = 0; p < v.size(); p += piece) h.update(v.data() + p, std::min(piece, v.size() - p));
  return h.digest();
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace

TEST(Hash64, MatchesTheReferenceDigests) {
  EXPECT_EQ(hex64(hash_in_pieces(bytes_of(""), 1)), "ef46db3751d8e999");
  EXPECT_EQ(hex64(hash_in_pieces(bytes_of("a"), 1)), "d24ec4f1a98c6e5b");
  EXPECT_EQ(hex64(hash_in_pieces(bytes_of("abc"), 3)), "44bc2cf5ad770999");
  EXPECT_EQ(hex64(hash_in_pieces(bytes_of("lmdbg"), 5)), "5e7c7b773c18d589");
  // 1000 bytes, byte i = (31 i + 7) mod 256: every path (stripes, 8-, 4- and 1-byte tails).
  std::vector<uint8_t> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 31 + 7);
  EXPECT_EQ(hex64(hash_in_pieces(v, v.size())), "99594f4828043d35");
}

TEST(Hash64, AnySplitGivesTheSameDigest) {
  std::vector<uint8_t> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 31 + 7);
  for (size_t n : {0, 1, 7, 31, 32, 33, 64, 100, 999, 1000}) {
    const std::vector<uint8_t> part(v.begin(), v.begin() + n);
    const uint64_t whole = hash_in_pieces(part, std::max<size_t>(n, 1));
    for (size_t piece : {1, 3, 8, 13, 31, 32, 33, 500}) EXPECT_EQ(hash_in_pieces(part, piece), whole) << n << " bytes in pieces of " << piece;
  }
  Hash64 h;  // digest() in between does not disturb the stream
  h.update(v.data(), 40);
  (void)h.digest();
  h.update(v.data() + 40, 960);
  EXPECT_EQ(hex64(h.digest()), "99594f4828043d35");
  EXPECT_EQ(h.bytes(), 1000u);
}
