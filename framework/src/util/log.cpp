#include <unistd.h>

#include <atomic>
#include <brook/log.hpp>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "util/json_text.hpp"
#include "util/log_context.hpp"

namespace brook {

namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{[] {
  const char* f = std::getenv("BROOK_LOG_FORMAT");
  return f == nullptr ? LogFormat::kText : parse_log_format(f).value_or(LogFormat::kText);
}()};
std::string g_identity;  // written once at start-up
thread_local const detail::LogMessage* t_message = nullptr;

constexpr std::string_view kLevelNames[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};
constexpr std::string_view kJsonLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

void append_field(std::string& line, std::string_view name, std::string_view value) {
  line.append(",\"");
  line.append(name);
  line.append("\":\"");
  detail::append_json_escaped(line, value);
  line.push_back('"');
}

void format_text(std::string& line, LogLevel level, std::string_view message, bool plain) {
  if (!plain) {
    detail::append_log_time(line);
    line.push_back(' ');
  }
  line.append(to_string(level));
  line.append(level == LogLevel::kInfo || level == LogLevel::kWarn ? "  " : " ");
  if (!plain && !g_identity.empty()) {
    line.append(g_identity);
    line.append(" | ");
  }
  line.append(message);
}

// {"time":…,"level":"info","instance":"basket.0","node":"basket","msg":…} and, inside a
// handler, "channel", "message_id" (producer:seq) and "trace_id" (32 hex digits).
void format_json(std::string& line, LogLevel level, std::string_view message) {
  line.append("{\"time\":\"");
  detail::append_log_time(line);
  line.append("\",\"level\":\"");
  line.append(kJsonLevels[static_cast<int>(level)]);
  line.push_back('"');
  if (!g_identity.empty()) {
    append_field(line, "instance", g_identity);
    const std::string_view id = g_identity;
    const auto dot = id.rfind('.');
    const bool numbered = dot != std::string_view::npos && dot + 1 < id.size() &&
                          id.find_first_not_of("0123456789", dot + 1) == std::string_view::npos;
    append_field(line, "node", numbered ? id.substr(0, dot) : id);
  }
  append_field(line, "msg", message);
  if (const detail::LogMessage* m = t_message) {
    append_field(line, "channel", m->channel);
    line.append(",\"message_id\":\"");
    detail::append_json_escaped(line, m->producer);
    line.push_back(':');
    line.append(std::to_string(m->seq));
    line.push_back('"');
    if (m->trace != nullptr) append_field(line, "trace_id", to_hex(*m->trace));
  }
  line.push_back('}');
}

}  // namespace

namespace detail {

void append_log_time(std::string& out) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[40];
  const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  out.append(stamp, n);
  char ms[24];
  std::snprintf(ms, sizeof ms, ".%03ldZ", ts.tv_nsec / 1000000);
  out.append(ms);
}

LogMessageScope::LogMessageScope(const LogMessage& m) noexcept : previous_(t_message) {
  t_message = &m;
}
LogMessageScope::~LogMessageScope() {
  t_message = previous_;
}

}  // namespace detail

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

std::optional<LogFormat> parse_log_format(std::string_view s) noexcept {
  if (s == "text") return LogFormat::kText;
  if (s == "plain") return LogFormat::kPlain;
  if (s == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::string_view to_string(LogFormat f) noexcept {
  switch (f) {
    case LogFormat::kText:
      return "text";
    case LogFormat::kPlain:
      return "plain";
    case LogFormat::kJson:
      return "json";
  }
  return "text";
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
void set_log_format(LogFormat format) noexcept {
  g_format.store(format, std::memory_order_relaxed);
}
LogFormat log_format() noexcept {
  return g_format.load(std::memory_order_relaxed);
}
void set_log_plain(bool plain) noexcept {
  set_log_format(plain ? LogFormat::kPlain : LogFormat::kText);
}

void log_line(LogLevel level, std::string_view message) noexcept {
  try {
    std::string line;
    line.reserve(message.size() + 96);
    const LogFormat format = g_format.load(std::memory_order_relaxed);
    if (format == LogFormat::kJson) {
      format_json(line, level, message);
    } else {
      format_text(line, level, message, format == LogFormat::kPlain);
    }
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
