// Line-oriented logging to stderr. Each line is written with a single write(2), so lines from
// several threads or processes sharing a pipe do not interleave. Safe to call from any thread.
// Lines are text ("2026-12-07T01:02:03.456Z INFO  basket.0 | message"), plain (no time and
// identity, for a launcher that adds its own prefix) or JSON (one object per line, for log
// collectors; a line logged inside a handler also names the message: docs/monitoring.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace brook {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };
enum class LogFormat { kText, kPlain, kJson };

std::optional<LogLevel> parse_log_level(std::string_view s) noexcept;
std::string_view to_string(LogLevel l) noexcept;
// "text", "plain" or "json".
std::optional<LogFormat> parse_log_format(std::string_view s) noexcept;
std::string_view to_string(LogFormat f) noexcept;

void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
inline bool log_enabled(LogLevel level) noexcept {
  return level >= log_level();
}

// Name printed on each line ("basket.0"). Set once at start, before other threads log.
void set_log_identity(std::string identity);
// The format of every following line. The default comes from BROOK_LOG_FORMAT in the
// environment (text, plain or json), else text.
void set_log_format(LogFormat format) noexcept;
LogFormat log_format() noexcept;
// set_log_format(kPlain) or back to kText.
void set_log_plain(bool plain) noexcept;

void log_line(LogLevel level, std::string_view message) noexcept;

namespace detail {
class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine() { log_line(level_, out_.str()); }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  std::ostringstream& stream() { return out_; }

 private:
  LogLevel level_;
  std::ostringstream out_;
};
// Turns `stream << ...` into void, the type of the other branch of BROOK_LOG's `?:`.
struct LogVoidify {
  void operator&(std::ostream&) const noexcept {}
};
}  // namespace detail

// Lets a noisy event (a peer sending garbage) be logged at most once per period, while the
// counters still see every occurrence. Not thread-safe; keep one per event loop.
class LogRateLimiter {
 public:
  explicit LogRateLimiter(std::chrono::milliseconds period = std::chrono::seconds(1))
      : period_(period) {}
  // True when this occurrence should be logged; `suppressed` then holds how many were skipped.
  bool allow(std::uint64_t& suppressed);

 private:
  std::chrono::milliseconds period_;
  std::chrono::steady_clock::time_point next_{};
  std::uint64_t skipped_ = 0;
};

}  // namespace brook

// BROOK_LOG(kInfo) << "text " << value;  — the stream is only built when the level is enabled.
// An expression, not an if/else, so `if (x) BROOK_LOG(kWarn) << ...;` needs no braces.
#define BROOK_LOG(level)                          \
  !::brook::log_enabled(::brook::LogLevel::level) \
      ? (void)0                                   \
      : ::brook::detail::LogVoidify() &           \
            ::brook::detail::LogLine(::brook::LogLevel::level).stream()
