// Spans of sampled messages (docs/monitoring.md, "Tracing"): what one handling of a message (or
// the emit that starts a trace) did, and its two renderings: a JSON line for the span files
// `brook trace` reads, and OTLP/HTTP JSON for a collector. Plain logic, unit-tested.
#pragma once

#include <brook/envelope.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace brook::detail {

enum class SpanKind {
  kHandle,  // a handler call for one received message
  kEmit,    // a message emitted outside a handler, which starts its trace
};
enum class SpanOutcome { kOk, kError, kDeclined, kDeadLettered, kRetried };

std::string_view to_string(SpanKind k) noexcept;
std::string_view to_string(SpanOutcome o) noexcept;

struct SpanRecord {
  SpanKind kind = SpanKind::kHandle;
  TraceId trace{};
  SpanId span{};
  SpanId parent{};  // zero: the trace's root
  std::string channel;
  std::string producer;  // the message's id: producer and seq
  std::uint64_t seq = 0;
  std::uint32_t attempt = 1;
  std::int64_t start_ns = 0;  // wall clock, Unix epoch
  std::int64_t duration_ns = 0;
  SpanOutcome outcome = SpanOutcome::kOk;
  std::string error;  // what the handler threw, at most 256 bytes
};

// Who recorded the spans: the same for every span of an instance.
struct SpanResource {
  std::string topology;
  std::string node;
  std::uint32_t instance = 0;
  std::string producer_id;  // node.instance@incarnation
};

// One JSON object and '\n':
// {"trace":"<32 hex>","span":"<16 hex>","parent":"<16 hex>" or "","kind":"handle"|"emit",
//  "topology":..,"node":..,"instance":N,"channel":..,"message":"<producer>:<seq>","attempt":N,
//  "start_ns":N,"duration_ns":N,"outcome":"ok"|"error"|"declined"|"dead-lettered"|"retried"
//  [,"error":".."]}
void append_span_json(std::string& out, const SpanRecord& s, const SpanResource& r);

// An OTLP ExportTraceServiceRequest in its JSON form (resourceSpans / scopeSpans / spans, ids as
// lowercase hex, times as decimal strings of Unix nanoseconds).
std::string otlp_json(std::span<const SpanRecord> spans, const SpanResource& r);

// `s` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);

}  // namespace brook::detail
