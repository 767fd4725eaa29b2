// The four files of a Hugging Face GPT-2 checkpoint, as bytes. The browser has no filesystem,
// so everything downstream takes bytes; read_model_dir() is the native convenience.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace lmdbg::io {

// Owns a file's bytes (memory-mapped natively when possible).
class FileBytes {
 public:
  static FileBytes read(const std::string& path);  // throws Error(kMissing) naming the path
  static FileBytes copy(std::string_view bytes);
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

  FileBytes() = default;
  FileBytes(FileBytes&&) noexcept;
  FileBytes& operator=(FileBytes&&) noexcept;
  ~FileBytes();

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::unique_ptr<uint8_t[]> owned_;
};

struct ModelFiles {
  std::string_view config_json;
  const uint8_t* safetensors = nullptr;
  size_t safetensors_size = 0;
  std::string_view vocab_json;
  std::string_view merges_txt;
};

struct ModelDir {
  FileBytes config, weights, vocab, merges;
  ModelFiles files() const {
    return {config.view(), weights.data(), weights.size(), vocab.view(), merges.view()};
  }
};

ModelDir read_model_dir(const std::string& dir);

}  // namespace lmdbg::io
