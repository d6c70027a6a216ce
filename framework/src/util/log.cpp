#include <unistd.h>

#include <atomic>
#include <brook/log.hpp>
#include <cstdlib>
#include <cstring>
#include <ctime>

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

namespace {
// Length of the well-formed UTF-8 sequence at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned min = 0;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
    min = 0x80;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    min = 0x800;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  unsigned cp = b & (0xFF >> (n + 1));
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}
}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (const std::size_t n = utf8_length(s, i)) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out.append("\\ufffd");
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char u[8];
          std::snprintf(u, sizeof u, "\\u%04x", c);
          out.append(u);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
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
