// Which handler calls of an input are timed for its latency histogram (docs/monitoring.md).
//
// Timing a call costs two steady_clock reads, ~25 ns each on the 2-core VM of docs/bench.md:
// as much as decoding the envelope, a seventh of a best-effort sink's loop thread per message.
// So while a burst is drained only one call in kEvery is timed; a call that is not counts in
// the histogram with the duration of the last timed one. The histogram's count stays exact
// (every call is in it) and its sum and buckets are estimates from the timed calls, which are
// the first call of every drained batch and every kEvery-th after: a node that gets one message
// per wake-up times them all. Cost untimed: an increment and a bucket add.
#pragma once

#include <brook/counters.hpp>
#include <chrono>

namespace brook::detail {

class HandlerTiming {
 public:
  static constexpr unsigned kEvery = 8;

  // Whether to time the next call: `first_of_batch` (or a retry) always, else every kEvery-th.
  [[nodiscard]] bool due(bool first_of_batch) noexcept {
    return first_of_batch || ++untimed_ >= kEvery;
  }
  void timed(LatencyHistogram& h, std::chrono::nanoseconds took) noexcept {
    untimed_ = 0;
    last_ = took;
    h.record(took);
  }
  void untimed(LatencyHistogram& h) const noexcept { h.record(last_); }

 private:
  unsigned untimed_ = kEvery - 1;  // calls since the last timed one: the first call is timed
  std::chrono::nanoseconds last_{0};
};

}  // namespace brook::detail
