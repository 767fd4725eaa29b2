// Base64 (RFC 4648, with padding) for binary data inside JSON: a snapshot's attention patterns are
// float32 little-endian bytes in base64, a third of the size of the same numbers as JSON text.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace lmdbg::io {

std::string base64_encode(const uint8_t* p, size_t n);

}  // namespace lmdbg::io
