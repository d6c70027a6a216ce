#include "launch/drain_detector.hpp"

namespace brook::launch {

bool DrainDetector::observe(const ListReply& list, Clock::time_point now) {
  std::uint64_t pending = 0;
  std::uint64_t activity = 0;
  for (const auto& i : list.instances) {
    ChannelCounters t;
    for (const auto& [name, c] : i.counters.channels) {
      if (channels_.empty() || channels_.count(name) > 0) t += c;
    }
    // Unacknowledged at-least-once messages are work not done yet, like held ones.
    pending += t.pending + t.in_flight;
    // Anything that moves while messages are still in flight; instances that leave make the sum
    // drop, which also counts as movement.
    activity += t.received + t.emitted + t.sent + t.handler_errors + t.decode_errors + t.dropped;
  }
  pending_ = pending;
  activity_ = activity;
  // Any change restarts the quiet period, so it starts when the last held message left.
  const State state{activity, pending, list.instances.size()};
  if (!last_ || *last_ != state || pending > 0) {
    last_ = state;
    stable_since_ = now;
    return false;
  }
  return now - stable_since_ >= quiet_for_;
}

}  // namespace brook::launch
