#include <brook/envelope_codec.hpp>
#include <cstring>

#include "wire/msgpack_reader.hpp"

namespace brook {

std::string_view to_string(DecodeErrc e) noexcept {
  switch (e) {
    case DecodeErrc::kOk:
      return "ok";
    case DecodeErrc::kEmpty:
      return "empty frame";
    case DecodeErrc::kTooLarge:
      return "frame larger than max_message_size";
    case DecodeErrc::kTruncated:
      return "truncated";
    case DecodeErrc::kNotAnArray:
      return "not a msgpack array";
    case DecodeErrc::kUnsupportedVersion:
      return "unsupported wire version";
    case DecodeErrc::kWrongArity:
      return "wrong number of envelope fields";
    case DecodeErrc::kWrongType:
      return "wrong type";
    case DecodeErrc::kOutOfRange:
      return "value out of range";
    case DecodeErrc::kLimitExceeded:
      return "limit exceeded";
    case DecodeErrc::kTrailingBytes:
      return "trailing bytes after envelope";
    case DecodeErrc::kBadPayload:
      return "malformed payload";
    case DecodeErrc::kTypeMismatch:
      return "payload does not match the handler's type";
  }
  return "unknown";
}

std::string DecodeStatus::describe() const {
  std::string s(to_string(code));
  if (field != nullptr && *field != '\0') {
    s += " in field '";
    s += field;
    s += "'";
  }
  s += " at byte ";
  s += std::to_string(offset);
  return s;
}

namespace {

struct Decoder {
  detail::MsgpackReader r;
  DecodeStatus status;

  [[gnu::always_inline]] bool fail(DecodeErrc e, const char* field, std::size_t at) {
    status = {e, field, at};
    return false;
  }
  [[gnu::always_inline]] bool check(DecodeErrc e, const char* field) {
    if (e == DecodeErrc::kOk) return true;
    return fail(e, field, r.offset());
  }
  [[gnu::always_inline]] bool str(std::string_view& v, const char* field, std::size_t max) {
    const std::size_t at = r.offset();
    if (!check(r.read_str(v), field)) return false;
    if (v.size() > max) return fail(DecodeErrc::kLimitExceeded, field, at);
    return true;
  }
};

}  // namespace

DecodeStatus decode_envelope(std::span<const std::byte> frame, const Limits& limits,
                             EnvelopeView& out) noexcept {
  if (frame.empty()) return {DecodeErrc::kEmpty, "", 0};
  if (frame.size() > limits.max_message_size) return {DecodeErrc::kTooLarge, "", 0};

  Decoder d{detail::MsgpackReader(frame), {}};
  auto& r = d.r;
  std::uint32_t arity = 0;
  if (DecodeErrc e = r.read_array_header(arity); e != DecodeErrc::kOk) {
    return {e == DecodeErrc::kWrongType ? DecodeErrc::kNotAnArray : e, "", 0};
  }
  // The version comes first so that a future layout is reported as a version problem, not as
  // whatever field happens to mismatch.
  if (arity == 0) return {DecodeErrc::kWrongArity, "", 0};
  std::uint64_t version = 0;
  const std::size_t version_at = r.offset();
  if (!d.check(r.read_uint(version), "version")) return d.status;
  if (version != kWireVersion) return {DecodeErrc::kUnsupportedVersion, "version", version_at};
  if (arity != kEnvelopeFields) return {DecodeErrc::kWrongArity, "", 0};
  out.version = static_cast<std::uint32_t>(version);

  if (!d.str(out.id.producer, "producer", limits.max_name)) return d.status;
  if (out.id.producer.empty()) return {DecodeErrc::kOutOfRange, "producer", r.offset()};

  const std::size_t seq_at = r.offset();
  if (!d.check(r.read_uint(out.id.seq), "seq")) return d.status;
  if (out.id.seq == 0) return {DecodeErrc::kOutOfRange, "seq", seq_at};

  if (!d.str(out.channel, "channel", limits.max_name)) return d.status;
  if (!d.str(out.type, "type", limits.max_name)) return d.status;

  if (r.peek_nil()) {
    r.skip_nil();
    out.has_key = false;
    out.key = {};
  } else {
    if (!d.str(out.key, "key", limits.max_key)) return d.status;
    out.has_key = true;
  }

  if (!d.check(r.read_int(out.created_ns), "created_ns")) return d.status;

  std::uint64_t attempt = 0;
  const std::size_t attempt_at = r.offset();
  if (!d.check(r.read_uint(attempt), "attempt")) return d.status;
  if (attempt == 0 || attempt > UINT32_MAX) {
    return {DecodeErrc::kOutOfRange, "attempt", attempt_at};
  }
  out.attempt = static_cast<std::uint32_t>(attempt);

  std::span<const std::byte> trace;
  const std::size_t trace_at = r.offset();
  if (!d.check(r.read_bin(trace), "trace")) return d.status;
  if (trace.size() == kTraceIdSize) {
    out.parent_span = {};
    out.trace_flags = 0;
  } else if (trace.size() == kTraceContextSize) {
    std::memcpy(out.parent_span.data(), trace.data() + kTraceIdSize, kSpanIdSize);
    out.trace_flags = static_cast<std::uint8_t>(trace[kTraceContextSize - 1]);
  } else {
    return {DecodeErrc::kOutOfRange, "trace", trace_at};
  }
  std::memcpy(out.trace.data(), trace.data(), kTraceIdSize);

  std::uint32_t header_count = 0;
  const std::size_t headers_at = r.offset();
  if (!d.check(r.read_map_header(header_count), "headers")) return d.status;
  if (header_count > limits.max_headers) {
    return {DecodeErrc::kLimitExceeded, "headers", headers_at};
  }
  const std::size_t headers_body_at = r.offset();
  for (std::uint32_t i = 0; i < header_count; ++i) {
    std::string_view k, v;
    if (!d.str(k, "headers", limits.max_header_name)) return d.status;
    if (!d.str(v, "headers", limits.max_header_value)) return d.status;
  }
  out.headers_raw = r.slice(headers_body_at, r.offset());
  out.header_count = header_count;

  if (!d.check(r.read_bin(out.payload), "payload")) return d.status;
  if (!r.at_end()) return {DecodeErrc::kTrailingBytes, "", r.offset()};
  out.frame = frame;
  return {};
}

namespace detail {

void walk_headers(std::span<const std::byte> raw, std::uint32_t count,
                  void (*cb)(void*, std::string_view, std::string_view), void* ctx) {
  MsgpackReader r(raw);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string_view k, v;
    // The span was validated by decode_envelope; a failure here means a caller built the view
    // by hand, and stopping is the only safe answer.
    if (r.read_str(k) != DecodeErrc::kOk || r.read_str(v) != DecodeErrc::kOk) return;
    cb(ctx, k, v);
  }
}

}  // namespace detail

std::string_view EnvelopeView::header(std::string_view name) const {
  std::string_view found;
  bool done = false;
  for_each_header([&](std::string_view k, std::string_view v) {
    if (!done && k == name) {
      found = v;
      done = true;
    }
  });
  return found;
}

Envelope Envelope::from_view(const EnvelopeView& v) {
  Envelope e;
  e.producer = std::string(v.id.producer);
  e.seq = v.id.seq;
  e.channel = std::string(v.channel);
  e.type = std::string(v.type);
  e.has_key = v.has_key;
  e.key = std::string(v.key);
  e.created_ns = v.created_ns;
  e.attempt = v.attempt;
  e.trace = v.trace;
  e.parent_span = v.parent_span;
  e.trace_flags = v.trace_flags;
  v.for_each_header([&](std::string_view k, std::string_view val) {
    e.headers.emplace_back(std::string(k), std::string(val));
  });
  e.payload.assign(v.payload.begin(), v.payload.end());
  return e;
}

namespace {
std::string hex_of(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * bytes.size());
  for (std::byte b : bytes) {
    s.push_back(kDigits[static_cast<unsigned>(b) >> 4]);
    s.push_back(kDigits[static_cast<unsigned>(b) & 0xf]);
  }
  return s;
}
}  // namespace

std::string to_hex(const TraceId& t) {
  return hex_of(t);
}

std::string to_hex(const SpanId& s) {
  return hex_of(s);
}

}  // namespace brook
