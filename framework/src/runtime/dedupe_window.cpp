#include "runtime/dedupe_window.hpp"

namespace brook::detail {

DedupeWindow::DedupeWindow(std::size_t size) : size_((size + 63) / 64 * 64), bits_(size_ / 64, 0) {}

bool DedupeWindow::in_window(std::uint64_t seq) const noexcept {
  return seq + size_ > top_;  // seq > top - size, without underflow
}

bool DedupeWindow::handled(std::uint64_t seq) const noexcept {
  if (seq > top_) return false;
  if (!in_window(seq)) return seq >= stale_from_ && seq < stale_to_;
  const std::size_t i = seq % size_;
  return (bits_[i / 64] >> (i % 64)) & 1u;
}

void DedupeWindow::clear_range(std::uint64_t from, std::uint64_t to) noexcept {
  if (to - from >= size_) {
    std::fill(bits_.begin(), bits_.end(), 0);
    return;
  }
  for (std::uint64_t s = from; s < to; ++s) {
    const std::size_t i = s % size_;
    bits_[i / 64] &= ~(std::uint64_t{1} << (i % 64));
  }
}

bool DedupeWindow::mark(std::uint64_t seq) noexcept {
  bool jumped = false;
  if (seq > top_) {
    jumped = seq - top_ > size_;
    const std::uint64_t bottom = seq >= size_ ? seq - size_ + 1 : 0;  // of the new window
    if (jumped) {
      // Numbers jumped over were never within reach of the producer's re-sends as far as this
      // window knows: nothing is concluded about them, nor about what came before.
      stale_from_ = stale_to_ = bottom;
    } else {
      // Numbers the window slides past were: they count as handled from now on.
      stale_to_ = std::max(stale_to_, bottom);
    }
    // Slots between the old top and seq now stand for newer numbers: forget what they held.
    clear_range(top_ + 1, seq + 1);
    jumped = jumped && top_ != 0;  // the first number seen starts the window: no news
    top_ = seq;
  } else if (!in_window(seq)) {
    return false;
  }
  const std::size_t i = seq % size_;
  bits_[i / 64] |= std::uint64_t{1} << (i % 64);
  return jumped;
}

void DedupeWindow::unmark(std::uint64_t seq) noexcept {
  if (seq > top_ || !in_window(seq)) return;
  const std::size_t i = seq % size_;
  bits_[i / 64] &= ~(std::uint64_t{1} << (i % 64));
}

}  // namespace brook::detail
