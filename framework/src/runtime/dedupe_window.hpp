// Which sequence numbers of one producer a consumer replica has already handled, over a sliding
// window of the most recent `size` numbers (a bitmap: no allocation per message). A replica
// sees only its share of a producer's numbers, so "handled" is a set, not a high-water mark.
//
// Numbers the window slid past count as handled: a producer that sent number n never re-sends
// one older than n - window (its in-flight window is smaller; docs/reliability.md), so one
// arriving is a stale duplicate. That holds only for numbers the window moved over step by step.
// A jump more than `size` beyond the highest marked number (a replica skipped for long, or a
// forged envelope) starts a new window and assumes nothing about the numbers below it: they are
// not handled, so a forged huge number cannot make a producer's later messages look like
// duplicates. (A real producer never re-sends those: at worst one is handled twice.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace brook::detail {

class DedupeWindow {
 public:
  explicit DedupeWindow(std::size_t size);

  bool handled(std::uint64_t seq) const noexcept;
  // Records `seq` as handled. Returns true when it jumped more than the window beyond the
  // highest number marked so far (worth a log line: a long-skipped replica, or a forgery).
  bool mark(std::uint64_t seq) noexcept;
  // Forgets that `seq` was handled (its handling was undone: a state store's commit failed).
  // The window does not move back.
  void unmark(std::uint64_t seq) noexcept;

 private:
  bool in_window(std::uint64_t seq) const noexcept;
  void clear_range(std::uint64_t from, std::uint64_t to) noexcept;  // [from, to)

  std::size_t size_;  // a multiple of 64
  std::vector<std::uint64_t> bits_;
  std::uint64_t top_ = 0;  // highest marked sequence number; window is (top - size, top]
  // Numbers the window slid past since its last jump: they count as handled.
  std::uint64_t stale_from_ = 0;
  std::uint64_t stale_to_ = 0;  // exclusive
};

}  // namespace brook::detail
