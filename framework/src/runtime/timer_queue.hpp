// Timers for the event loop: one-shot and periodic callbacks ordered by deadline.
#pragma once

#include <brook/node.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace brook::detail {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;

  TimerId add(Clock::time_point first, std::chrono::milliseconds period, bool periodic,
              std::function<void()> fn);
  void cancel(TimerId id);
  // Deadline of the earliest timer, or time_point::max().
  Clock::time_point next_deadline() const;
  // Runs every timer due at `now` once (periodic ones are rescheduled after running). A callback
  // may add or cancel timers. Exceptions from callbacks go to on_error.
  void run_due(Clock::time_point now, const std::function<void(const std::exception&)>& on_error);
  bool empty() const noexcept { return timers_.empty(); }

 private:
  struct Timer {
    Clock::time_point deadline;
    std::chrono::milliseconds period;
    bool periodic;
    // Shared so a callback can cancel its own timer while it runs.
    std::shared_ptr<std::function<void()>> fn;
  };
  std::map<TimerId, Timer> timers_;
  std::vector<TimerId> due_;  // run_due()'s list, kept for its capacity
  TimerId next_id_ = 1;
};

}  // namespace brook::detail
