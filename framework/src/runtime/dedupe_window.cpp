#include "runtime/dedupe_window.hpp"

namespace brook::detail {

DedupeWindow::DedupeWindow(std::size_t size) : size_((size + 63) / 64 * 64), bits_(size_ / 64, 0) {}

bool DedupeWindow::in_window(std::uint64_t seq) const noexcept {
  return seq + size_ > top_;  // seq > top - size, without underflow
}

bool DedupeWindow::handled(std::uint64_t seq) const noexcept {
  if (seq > top_) return false;
  if (!in_window(seq)) return true;
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

void DedupeWindow::mark(std::uint64_t seq) noexcept {
  if (seq > top_) {
    // Slots between the old top and seq now stand for newer numbers: forget what they held.
    clear_range(top_ + 1, seq + 1);
    top_ = seq;
  } else if (!in_window(seq)) {
    return;
  }
  const std::size_t i = seq % size_;
  bits_[i / 64] |= std::uint64_t{1} << (i % 64);
}

}  // namespace brook::detail
