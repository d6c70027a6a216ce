// A FIFO queue over one array that grows by doubling and never shrinks.
//
// std::deque allocates a block every few elements pushed and frees one every few popped, so a
// queue that messages stream through (a sender's backlog while its consumers are slower)
// allocates per message forever. This one allocates only while it grows past its largest size
// so far, which the senders bound (max_pending, the in-flight window). Popping assigns a
// default-constructed T to the slot, so a zmq::message_t gives its content back at once.
//
// Cost: capacity stays at the high-water mark (64 bytes per zmq::message_t slot).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace brook::detail {

template <class T>
class RingQueue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  T& front() noexcept { return slots_[head_]; }
  const T& front() const noexcept { return slots_[head_]; }
  // i-th from the front, i < size().
  T& operator[](std::size_t i) noexcept { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  const T& operator[](std::size_t i) const noexcept {
    return slots_[(head_ + i) & (slots_.size() - 1)];
  }

  void push_back(T value) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) & (slots_.size() - 1)] = std::move(value);
    ++size_;
  }
  void pop_front() {
    slots_[head_] = T{};
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }
  void clear() {
    while (!empty())
      pop_front();
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 16 : 2 * slots_.size());  // a power of two
    for (std::size_t i = 0; i < size_; ++i)
      bigger[i] = std::move((*this)[i]);
    slots_.swap(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace brook::detail
