// A streaming 64-bit hash: XXH64 (xxHash's 64-bit variant, seed 0), written from its published
// specification. The digest depends only on the bytes, never on how they were split into update()
// calls, so a checkpoint hashed as it streams into the browser in chunks of any size gives the
// same digest as the same file hashed at once natively. A model's fingerprint (Model::fingerprint)
// is this hash of its model.safetensors data section.
//
//   lmdbg::io::Hash64 h;
//   h.update(bytes, n);                     // as often as needed
//   std::string fp = lmdbg::io::hex64(h.digest());   // "0123456789abcdef"
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace lmdbg::io {

class Hash64 {
 public:
  Hash64();
  void update(const uint8_t* p, size_t n);
  uint64_t digest() const;  // of everything so far; update() may continue afterwards
  uint64_t bytes() const { return total_; }

 private:
  uint64_t acc_[4];
  uint64_t total_ = 0;
  uint8_t buf_[32];   // a stripe begun in one update() and finished in a later one
  size_t buffered_ = 0;
};

// 16 lowercase hex digits.
std::string hex64(uint64_t v);

}  // namespace lmdbg::io
