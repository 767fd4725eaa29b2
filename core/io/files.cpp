#include "files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "core/error.h"

namespace lmdbg::io {

FileBytes FileBytes::read(const std::string& path) {
  FileBytes f;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(ErrorCode::kMissing, path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::kMissing, path + ": not a regular file");
  }
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ > 0) {
#ifndef __EMSCRIPTEN__
    void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      f.data_ = static_cast<const uint8_t*>(p);
      f.mapped_ = true;
    }
#endif
    if (!f.mapped_) {
      f.owned_.reset(new uint8_t[f.size_]);
      size_t got = 0;
      while (got < f.size_) {
        const ssize_t r = ::read(fd, f.owned_.get() + got, f.size_ - got);
        if (r <= 0) {
          ::close(fd);
          bad_file(path + ": read failed");
        }
        got += static_cast<size_t>(r);
      }
      f.data_ = f.owned_.get();
    }
  }
  ::close(fd);
  return f;
}

FileBytes FileBytes::copy(std::string_view bytes) {
  FileBytes f;
  f.size_ = bytes.size();
  f.owned_.reset(new uint8_t[f.size_ ? f.size_ : 1]);
  std::memcpy(f.owned_.get(), bytes.data(), bytes.size());
  f.data_ = f.owned_.get();
  return f;
}

FileBytes::FileBytes(FileBytes&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      mapped_(std::exchange(o.mapped_, false)),
      owned_(std::move(o.owned_)) {}

FileBytes& FileBytes::operator=(FileBytes&& o) noexcept {
  if (this != &o) {
    this->~FileBytes();
    new (this) FileBytes(std::move(o));
  }
  return *this;
}

FileBytes::~FileBytes() {
#ifndef __EMSCRIPTEN__
  if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
#endif
}

ModelDir read_model_dir(const std::string& dir) {
  const std::string d = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  ModelDir m;
  m.config = FileBytes::read(d + "config.json");
  m.weights = FileBytes::read(d + "model.safetensors");
  m.vocab = FileBytes::read(d + "vocab.json");
  m.merges = FileBytes::read(d + "merges.txt");
  return m;
}

}  // namespace lmdbg::io
