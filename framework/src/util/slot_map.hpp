// Values under keys the map hands out itself: a key is a slot's index and that slot's
// generation, so a key whose value was erased finds nothing, also once the slot holds another
// value. Insert, find and erase are an index and a compare (no hashing, no allocation once the
// array reached the most values held at once, which it keeps: it never shrinks). Key 0 is never
// handed out, so callers can use it for "none".
//
// For bookkeeping made and dropped per message whose keys travel elsewhere (the delivery
// tracker's chained acknowledgements: the key rides with each emitted message in the output's
// in-flight window and comes back with its acknowledgement).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace brook::detail {

template <class T>
class SlotMap {
 public:
  using Key = std::uint64_t;

  // A new value, T{}, and its key. References to values stay valid until the next emplace().
  std::pair<Key, T&> emplace() {
    std::uint32_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    Slot& s = slots_[index];
    s.value.emplace();
    ++size_;
    return {(Key{s.generation} << 32) | (Key{index} + 1), *s.value};
  }

  T* find(Key key) noexcept {
    const std::uint64_t index = (key & 0xffffffffu) - 1;  // key 0 wraps: out of range
    if (index >= slots_.size()) return nullptr;
    Slot& s = slots_[index];
    return s.value && s.generation == (key >> 32) ? &*s.value : nullptr;
  }

  // Erases the value under `key`, if any.
  void erase(Key key) {
    if (find(key) == nullptr) return;
    const auto index = static_cast<std::uint32_t>((key & 0xffffffffu) - 1);
    Slot& s = slots_[index];
    s.value.reset();
    ++s.generation;  // every key of this slot handed out so far is stale now
    free_.push_back(index);
    --size_;
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // f(const T&) for each value, in no particular order.
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.value) f(*s.value);
    }
  }

 private:
  struct Slot {
    std::optional<T> value;  // empty: free
    std::uint32_t generation = 0;
  };
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;  // indexes of unused slots, the last freed on top
  std::size_t size_ = 0;
};

}  // namespace brook::detail
