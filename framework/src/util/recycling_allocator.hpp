// An allocator for node-based containers (std::unordered_map, std::map) on the message path that
// keeps freed nodes for the next insert instead of returning them to the heap.
//
// A set with one entry per message in flight (a receiver's deferred acknowledgements) allocates
// a node per message and frees it a moment later; with this allocator it reaches its
// largest size once and then reuses those nodes. Only single-object allocations (nodes) are
// recycled; arrays (bucket tables) go to the heap as usual and are not freed by erase anyway.
//
// The free list is per thread and per node type, and keeps at most kKept nodes: memory stays at
// the high-water mark of the containers of that thread (a few hundred bytes per entry), bounded
// by what bounds them (windows, max_pending). A node freed on another thread than the one that
// allocated it just joins that thread's list.
#pragma once

#include <cstddef>
#include <new>

namespace brook::detail {

template <class T>
class RecyclingAllocator {
 public:
  using value_type = T;
  static constexpr std::size_t kKept = 1 << 16;

  RecyclingAllocator() noexcept = default;
  template <class U>
  RecyclingAllocator(const RecyclingAllocator<U>&) noexcept {}  // NOLINT: rebinding

  T* allocate(std::size_t n) {
    if (n == 1) {
      FreeList& list = free_list();
      if (list.head != nullptr) {
        Free* f = list.head;
        list.head = f->next;
        --list.count;
        return reinterpret_cast<T*>(f);
      }
    }
    return static_cast<T*>(::operator new(n* kSize, std::align_val_t(kAlign)));
  }

  void deallocate(T* p, std::size_t n) noexcept {
    if (n == 1) {
      FreeList& list = free_list();
      if (list.count < kKept) {
        list.head = ::new (static_cast<void*>(p)) Free{list.head};
        ++list.count;
        return;
      }
    }
    ::operator delete(p, std::align_val_t(kAlign));
  }

  template <class U>
  bool operator==(const RecyclingAllocator<U>&) const noexcept {
    return true;
  }

 private:
  struct Free {
    Free* next;
  };
  // Room for a free-list link in every slot.
  static constexpr std::size_t kSize = sizeof(T) < sizeof(Free) ? sizeof(Free) : sizeof(T);
  static constexpr std::size_t kAlign = alignof(T) < alignof(Free) ? alignof(Free) : alignof(T);

  struct FreeList {
    Free* head = nullptr;
    std::size_t count = 0;
    FreeList() = default;
    FreeList(const FreeList&) = delete;
    FreeList& operator=(const FreeList&) = delete;
    ~FreeList() {
      while (head != nullptr) {
        Free* next = head->next;
        ::operator delete(static_cast<void*>(head), std::align_val_t(kAlign));
        head = next;
      }
    }
  };
  static FreeList& free_list() noexcept {
    thread_local FreeList list;
    return list;
  }
};

}  // namespace brook::detail
