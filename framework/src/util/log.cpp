#include <unistd.h>

#include <atomic>
#include <brook/log.hpp>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace brook {

namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<bool> g_plain{[] {
  const char* f = std::getenv("BROOK_LOG_FORMAT");
  return f != nullptr && std::strcmp(f, "plain") == 0;
}()};
std::string g_identity;  // written once at start-up

constexpr std::string_view kLevelNames[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};
}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view s) noexcept {
  if (s == "trace") return LogLevel::kTrace;
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn" || s == "warning") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  if (s == "off") return LogLevel::kOff;
  return std::nullopt;
}

std::string_view to_string(LogLevel l) noexcept {
  return kLevelNames[static_cast<int>(l)];
}

void set_log_level(LogLevel level) noexcept {
  g_level.store(level, std::memory_order_relaxed);
}
LogLevel log_level() noexcept {
  return g_level.load(std::memory_order_relaxed);
}
void set_log_identity(std::string identity) {
  g_identity = std::move(identity);
}
void set_log_plain(bool plain) noexcept {
  g_plain.store(plain, std::memory_order_relaxed);
}

void log_line(LogLevel level, std::string_view message) noexcept {
  try {
    std::string line;
    line.reserve(message.size() + 64);
    if (!g_plain.load(std::memory_order_relaxed)) {
      timespec ts{};
      clock_gettime(CLOCK_REALTIME, &ts);
      tm utc{};
      gmtime_r(&ts.tv_sec, &utc);
      char stamp[40];
      const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
      line.append(stamp, n);
      char ms[24];
      std::snprintf(ms, sizeof ms, ".%03ldZ ", ts.tv_nsec / 1000000);
      line.append(ms);
    }
    line.append(to_string(level));
    line.append(level == LogLevel::kInfo || level == LogLevel::kWarn ? "  " : " ");
    if (!g_plain.load(std::memory_order_relaxed) && !g_identity.empty()) {
      line.append(g_identity);
      line.append(" | ");
    }
    line.append(message);
    line.push_back('\n');
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t w = ::write(STDERR_FILENO, p, left);
      if (w <= 0) break;
      p += w;
      left -= static_cast<std::size_t>(w);
    }
  } catch (...) {
    // Logging must never take a node down (allocation failure while formatting).
  }
}

bool LogRateLimiter::allow(std::uint64_t& suppressed) {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) {
    ++skipped_;
    return false;
  }
  next_ = now + period_;
  suppressed = skipped_;
  skipped_ = 0;
  return true;
}

}  // namespace brook
