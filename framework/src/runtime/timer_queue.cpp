#include "runtime/timer_queue.hpp"

#include <algorithm>

namespace brook::detail {

TimerId TimerQueue::add(Clock::time_point first, std::chrono::milliseconds period, bool periodic,
                        std::function<void()> fn) {
  const TimerId id = next_id_++;
  timers_.emplace(
      id, Timer{first, period, periodic, std::make_shared<std::function<void()>>(std::move(fn))});
  return id;
}

void TimerQueue::cancel(TimerId id) {
  timers_.erase(id);
}

TimerQueue::Clock::time_point TimerQueue::next_deadline() const {
  auto next = Clock::time_point::max();
  for (const auto& [id, t] : timers_)
    next = std::min(next, t.deadline);
  return next;
}

void TimerQueue::run_due(Clock::time_point now,
                         const std::function<void(const std::exception&)>& on_error) {
  // Collect first: callbacks may add or cancel timers, which would invalidate iteration. Into
  // the kept vector: a timer that emits every loop turn must not allocate every turn.
  std::vector<TimerId> due;
  due.swap(due_);
  due.clear();
  for (const auto& [id, t] : timers_) {
    if (t.deadline <= now) due.push_back(id);
  }
  for (TimerId id : due) {
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled by an earlier callback
    std::shared_ptr<std::function<void()>> fn = it->second.fn;
    if (it->second.periodic) {
      // Schedule from the previous deadline to keep the rate, but never fall behind by more
      // than one period (a slow callback skips ticks instead of bursting).
      it->second.deadline = std::max(it->second.deadline + it->second.period, now);
    } else {
      timers_.erase(it);
    }
    try {
      (*fn)();
    } catch (const std::exception& e) {
      on_error(e);
    }
  }
  due_.swap(due);
}

}  // namespace brook::detail
