// The message a thread is handling, for the JSON log lines its handler writes. The runtime sets
// it around each handler call; costs two thread-local pointer stores per call.
#pragma once

#include <brook/envelope.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace brook::detail {

struct LogMessage {
  std::string_view channel;
  std::string_view producer;
  std::uint64_t seq = 0;
  const TraceId* trace = nullptr;
};

// While alive, lines logged on this thread carry `m` (which must outlive the scope).
class LogMessageScope {
 public:
  explicit LogMessageScope(const LogMessage& m) noexcept;
  ~LogMessageScope();
  LogMessageScope(const LogMessageScope&) = delete;
  LogMessageScope& operator=(const LogMessageScope&) = delete;

 private:
  const LogMessage* previous_;
};

// Appends the current UTC time as log lines show it: "2026-12-07T01:02:03.456Z".
void append_log_time(std::string& out);

}  // namespace brook::detail
