// Which sequence numbers of one producer a consumer replica has already handled, over a sliding
// window of the most recent `size` numbers (a bitmap: no allocation per message). A replica
// sees only its share of a producer's numbers, so "handled" is a set, not a high-water mark.
//
// Numbers older than the window count as handled: a producer never re-sends a message that old
// (its in-flight window is smaller; docs/reliability.md), so one arriving is a stale duplicate.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace brook::detail {

class DedupeWindow {
 public:
  explicit DedupeWindow(std::size_t size);

  bool handled(std::uint64_t seq) const noexcept;
  void mark(std::uint64_t seq) noexcept;

 private:
  bool in_window(std::uint64_t seq) const noexcept;
  void clear_range(std::uint64_t from, std::uint64_t to) noexcept;  // [from, to)

  std::size_t size_;  // a multiple of 64
  std::vector<std::uint64_t> bits_;
  std::uint64_t top_ = 0;  // highest marked sequence number; window is (top - size, top]
};

}  // namespace brook::detail
