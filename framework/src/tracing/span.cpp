#include "tracing/span.hpp"

#include <cstdio>

#include "util/json_text.hpp"

namespace brook::detail {

std::string_view to_string(SpanKind k) noexcept {
  return k == SpanKind::kEmit ? "emit" : "handle";
}

std::string_view to_string(SpanOutcome o) noexcept {
  switch (o) {
    case SpanOutcome::kOk:
      return "ok";
    case SpanOutcome::kError:
      return "error";
    case SpanOutcome::kDeclined:
      return "declined";
    case SpanOutcome::kDeadLettered:
      return "dead-lettered";
    case SpanOutcome::kRetried:
      return "retried";
  }
  return "error";
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
}

namespace {

void field(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
  append_json_string(out, value);
}

template <class Int>
void number(std::string& out, std::string_view name, Int value) {
  out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
  out += std::to_string(value);
}

std::string message_id(const SpanRecord& s) {
  return s.producer + ":" + std::to_string(s.seq);
}

void attribute(std::string& out, bool first, std::string_view key, std::string_view value) {
  if (!first) out.push_back(',');
  out += "{\"key\":";
  append_json_string(out, key);
  out += ",\"value\":{\"stringValue\":";
  append_json_string(out, value);
  out += "}}";
}

void int_attribute(std::string& out, std::string_view key, std::int64_t value) {
  out += ",{\"key\":";
  append_json_string(out, key);
  out += ",\"value\":{\"intValue\":\"" + std::to_string(value) + "\"}}";
}

}  // namespace

void append_span_json(std::string& out, const SpanRecord& s, const SpanResource& r) {
  out += "{\"trace\":\"" + to_hex(s.trace) + "\"";
  field(out, "span", to_hex(s.span));
  field(out, "parent", s.parent == SpanId{} ? std::string() : to_hex(s.parent));
  field(out, "kind", to_string(s.kind));
  field(out, "topology", r.topology);
  field(out, "node", r.node);
  number(out, "instance", r.instance);
  field(out, "channel", s.channel);
  field(out, "message", message_id(s));
  number(out, "attempt", s.attempt);
  number(out, "start_ns", s.start_ns);
  number(out, "duration_ns", s.duration_ns);
  field(out, "outcome", to_string(s.outcome));
  if (!s.error.empty()) field(out, "error", s.error);
  out += "}\n";
}

std::string otlp_json(std::span<const SpanRecord> spans, const SpanResource& r) {
  std::string out = "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
  attribute(out, true, "service.name", r.node);
  attribute(out, false, "service.namespace", r.topology);
  attribute(out, false, "service.instance.id", r.producer_id);
  int_attribute(out, "brook.instance", r.instance);
  out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"brook\"},\"spans\":[";
  bool first = true;
  for (const SpanRecord& s : spans) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"traceId\":\"" + to_hex(s.trace) + "\",\"spanId\":\"" + to_hex(s.span) + "\"";
    if (s.parent != SpanId{}) out += ",\"parentSpanId\":\"" + to_hex(s.parent) + "\"";
    out += ",\"name\":";
    append_json_string(out,
                       std::string(s.kind == SpanKind::kEmit ? "send " : "process ") + s.channel);
    // SPAN_KIND_PRODUCER = 4, SPAN_KIND_CONSUMER = 5
    out += s.kind == SpanKind::kEmit ? ",\"kind\":4" : ",\"kind\":5";
    out += ",\"startTimeUnixNano\":\"" + std::to_string(s.start_ns) + "\"";
    out += ",\"endTimeUnixNano\":\"" + std::to_string(s.start_ns + s.duration_ns) + "\"";
    out += ",\"attributes\":[";
    attribute(out, true, "messaging.system", "brook");
    attribute(out, false, "messaging.destination.name", s.channel);
    attribute(out, false, "messaging.message.id", message_id(s));
    attribute(out, false, "brook.outcome", to_string(s.outcome));
    int_attribute(out, "brook.attempt", s.attempt);
    out += "]";
    // STATUS_CODE_OK = 1, STATUS_CODE_ERROR = 2; declined and retried are not failures of the
    // message (it is handled later), so only error and dead-lettered are errors.
    const bool failed = s.outcome == SpanOutcome::kError || s.outcome == SpanOutcome::kDeadLettered;
    out += ",\"status\":{\"code\":" + std::string(failed ? "2" : "1");
    if (failed && !s.error.empty()) {
      out += ",\"message\":";
      append_json_string(out, s.error);
    }
    out += "}}";
  }
  out += "]}]}]}";
  return out;
}

}  // namespace brook::detail
