// systemd's readiness protocol (sd_notify(3)), and the liveness a supervisor watches: the
// systemd watchdog and, for Kubernetes probes, a health file kept fresh by the process's loop.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace brook {

// Variables systemd sets for a Type=notify service (sd_notify(3), sd_watchdog_enabled(3)).
inline constexpr const char* kNotifySocketEnv = "NOTIFY_SOCKET";
inline constexpr const char* kWatchdogUsecEnv = "WATCHDOG_USEC";
inline constexpr const char* kWatchdogPidEnv = "WATCHDOG_PID";
// A file the process rewrites with "<state> <unix seconds>\n" on each heartbeat (state: starting,
// ready, stopping), for probes that cannot ask the process (docs/deploy.md).
inline constexpr const char* kHealthFileEnv = "BROOK_HEALTH_FILE";

// Sends `state` (newline-separated assignments, "READY=1\nSTATUS=...") to $NOTIFY_SOCKET as one
// datagram; false when the variable is unset or the send failed. Never blocks. The protocol is
// spoken directly: Debian ships no static libsystemd, and brook supports static node builds.
bool sd_notify(std::string_view state);

namespace detail {
// The same to the socket at `path` (a leading '@' names an abstract socket).
bool sd_notify_to(std::string_view path, std::string_view state);
}  // namespace detail

// How often systemd expects WATCHDOG=1: $WATCHDOG_USEC when set and $WATCHDOG_PID is unset or
// this process; nullopt otherwise.
std::optional<std::chrono::microseconds> sd_watchdog_interval();

// Keeps a supervisor informed that the process's loop still turns: pets the systemd watchdog
// and rewrites the health file, both at most every `period` (a heartbeat) and at least twice per
// watchdog interval. Register next_wakeup()/tick() with the process's reactor: a loop that
// stops turning stops both, which is what the watchdog and a liveness probe detect.
class Liveness {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Liveness(std::chrono::milliseconds period);

  // False when neither the watchdog nor a health file is asked for: nothing to schedule.
  bool active() const noexcept { return watchdog_ || !health_file_.empty(); }
  Clock::time_point next_wakeup() const noexcept { return next_; }
  // `state`: "starting", "ready" or "stopping", written to the health file.
  void tick(Clock::time_point now, std::string_view state);

 private:
  std::chrono::milliseconds period_;
  bool watchdog_ = false;
  std::filesystem::path health_file_;
  Clock::time_point next_;
};

// Writes "<state> <unix seconds>\n" to `file` atomically (a temporary file renamed over it), so
// a probe never reads half a line. Returns false on failure.
bool write_health_file(const std::filesystem::path& file, std::string_view state);

}  // namespace brook
