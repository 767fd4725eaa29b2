// Shared by the libFuzzer targets in tests/fuzz/: fixture files, and a check that aborts (so the
// fuzzer reports a crash) when an invariant of the engine does not hold.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "core/io/files.h"

namespace lmdbg::fuzz {

inline std::string source_path(const std::string& rel) { return std::string(LMDBG_SOURCE_DIR) + "/" + rel; }

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "fuzz: cannot read %s\n", path.c_str());
    std::abort();
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The four files of a fixture checkpoint (tests/fixtures/models/<variant>).
struct Files {
  std::string config, weights, vocab, merges;
  io::ModelFiles view() const {
    return {config, reinterpret_cast<const uint8_t*>(weights.data()), weights.size(), vocab, merges};
  }
};

inline Files read_model(const std::string& variant) {
  const std::string d = source_path("tests/fixtures/models/" + variant + "/");
  return {read_file(d + "config.json"), read_file(d + "model.safetensors"), read_file(d + "vocab.json"),
          read_file(d + "merges.txt")};
}

inline uint64_t header_length(const std::string& st) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(st[i]);
  return n;
}

// The same file with its JSON header replaced (data section unchanged).
inline std::string with_header(const std::string& st, std::string_view header) {
  std::string out(8, '\0');
  const uint64_t m = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((m >> (8 * i)) & 0xff);
  out.append(header);
  out.append(st, 8 + header_length(st), std::string::npos);
  return out;
}

[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant violated: %s (%s:%d)\n", what, file, line);
  std::abort();
}

}  // namespace lmdbg::fuzz

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) ::lmdbg::fuzz::invariant_failed(#cond, __FILE__, __LINE__); \
  } while (0)
