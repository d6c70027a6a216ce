// steady_clock's time as of the kernel's last timer tick (CLOCK_MONOTONIC_COARSE): the same
// clock as std::chrono::steady_clock on Linux, up to a tick (1-10 ms, 4 ms here) behind it,
// never ahead. A read costs ~7 ns on the VM of docs/bench.md against ~24 ns for
// steady_clock::now(), which matters for stamps taken per message. Only for stamps whose
// deadlines are much longer than a tick (an in-flight message's send time, against an
// ack_timeout of seconds): a stamp up to a tick early makes a deadline come up to a tick early.
#pragma once

#include <time.h>

#include <chrono>

namespace brook::detail {

inline std::chrono::steady_clock::time_point coarse_now() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

}  // namespace brook::detail
