// Decides when a topology has drained after its jobs finished: nothing pending anywhere and no
// counter moving across several heartbeats. Heartbeat counters lag by up to one heartbeat, so
// "stable" must span at least two of them. Plain logic, fed with directory samples.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "directory/directory_protocol.hpp"

namespace brook::launch {

class DrainDetector {
 public:
  using Clock = std::chrono::steady_clock;

  // `quiet_for`: how long totals must stay unchanged (use 2 heartbeats + margin). `channels`:
  // the channels whose counters matter (those downstream of the jobs, so a periodic source
  // elsewhere does not keep the topology "busy" forever); empty = every channel.
  explicit DrainDetector(std::chrono::milliseconds quiet_for, std::set<std::string> channels = {})
      : quiet_for_(quiet_for), channels_(std::move(channels)) {}

  // Feeds one `list` reply; returns true once drained.
  bool observe(const ListReply& list, Clock::time_point now);

  // What the last sample showed, for logs.
  std::uint64_t pending() const noexcept { return pending_; }
  std::uint64_t activity() const noexcept { return activity_; }

 private:
  std::chrono::milliseconds quiet_for_;
  std::set<std::string> channels_;
  struct State {
    std::uint64_t activity = 0;  // sum of the counters that move while messages flow
    std::uint64_t pending = 0;   // held plus unacknowledged
    std::size_t instances = 0;   // a restarting replica has no counters yet
    bool operator==(const State&) const = default;
  };
  std::optional<State> last_;
  Clock::time_point stable_since_{};
  std::uint64_t pending_ = 0;
  std::uint64_t activity_ = 0;
};

}  // namespace brook::launch
