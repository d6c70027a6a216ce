#include "util/sd_notify.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace brook {

namespace detail {

bool sd_notify_to(std::string_view path, std::string_view state) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
  if (path.front() != '/' && path.front() != '@') return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path.front() == '@') addr.sun_path[0] = '\0';  // abstract namespace: no trailing NUL
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                          (path.front() == '@' ? 0 : 1));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  const ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&addr), len);
  ::close(fd);
  return n == static_cast<ssize_t>(state.size());
}

}  // namespace detail

bool sd_notify(std::string_view state) {
  const char* path = std::getenv(kNotifySocketEnv);
  if (path == nullptr || *path == '\0') return false;
  return detail::sd_notify_to(path, state);
}

std::optional<std::chrono::microseconds> sd_watchdog_interval() {
  const char* usec = std::getenv(kWatchdogUsecEnv);
  if (usec == nullptr || *usec == '\0') return std::nullopt;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(usec, &end, 10);
  if (end == usec || *end != '\0' || v == 0) return std::nullopt;
  // systemd sets WATCHDOG_PID when the variables may reach other processes (a shell wrapper):
  // only that process pets the watchdog.
  if (const char* pid = std::getenv(kWatchdogPidEnv); pid != nullptr && *pid != '\0') {
    if (std::strtol(pid, nullptr, 10) != static_cast<long>(::getpid())) return std::nullopt;
  }
  return std::chrono::microseconds(static_cast<std::int64_t>(v));
}

bool write_health_file(const std::filesystem::path& file, std::string_view state) {
  const std::string line = std::string(state) + " " + std::to_string(std::time(nullptr)) + "\n";
  const std::string tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  return written && ::rename(tmp.c_str(), file.c_str()) == 0;
}

Liveness::Liveness(std::chrono::milliseconds period) : period_(period) {
  if (const auto wd = sd_watchdog_interval()) {
    watchdog_ = true;
    // systemd's advice: notify at half the interval, so one late turn does not kill the service.
    period_ = std::min(period_, std::chrono::duration_cast<std::chrono::milliseconds>(*wd / 2));
  }
  if (const char* f = std::getenv(kHealthFileEnv); f != nullptr && *f != '\0') health_file_ = f;
  period_ = std::max(period_, std::chrono::milliseconds(1));
  next_ = active() ? Clock::now() : Clock::time_point::max();
}

void Liveness::tick(Clock::time_point now, std::string_view state) {
  if (now < next_) return;
  next_ = now + period_;
  if (watchdog_) sd_notify("WATCHDOG=1");
  if (!health_file_.empty()) write_health_file(health_file_, state);
}

}  // namespace brook
