// A vector whose resize(n) leaves trivial elements uninitialised, for buffers written before they
// are read: packed weights and a tensor staged across chunks (zeroing them was ~30% of a native
// load, with its page faults), a forward State's buffers (core/model/forward.h).
#pragma once
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace lmdbg {

template <class T>
struct NoInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = NoInitAllocator<U>;
  };
  NoInitAllocator() = default;
  template <class U>
  NoInitAllocator(const NoInitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;  // default-initialisation: no value for trivial U
  }
  template <class U, class... A>
  void construct(U* p, A&&... a) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
  }
};

template <class T>
using uninit_vector = std::vector<T, NoInitAllocator<T>>;

}  // namespace lmdbg
