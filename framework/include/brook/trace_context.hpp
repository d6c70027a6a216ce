// W3C trace context (https://www.w3.org/TR/trace-context/) as brook carries it: the envelope's
// trace id, parent span id and flags (docs/wire.md), and their `traceparent` text form
// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>" that users see and type.
#pragma once

#include <brook/envelope.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace brook {

struct TraceContext {
  TraceId trace{};
  SpanId parent{};
  std::uint8_t flags = 0;

  bool sampled() const noexcept { return (flags & kTraceSampled) != 0; }
};

// "00-<trace>-<parent>-<flags>", lowercase.
std::string format_traceparent(const TraceContext& c);
// Version 00 exactly (55 characters); a higher version is read by its first four fields, as
// the W3C recommendation says. nullopt for anything else, an all-zero trace or parent id, or
// version ff.
std::optional<TraceContext> parse_traceparent(std::string_view text) noexcept;
// 32 (trace id) or 16 (span id) lowercase hex digits back to bytes; false if malformed.
bool parse_hex(std::string_view hex, std::byte* out, std::size_t size) noexcept;

}  // namespace brook
