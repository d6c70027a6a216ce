// The message envelope that wraps every payload on a brook channel (docs/wire.md).
//
// EnvelopeView is what a receiver sees: string_views and spans into the received frame, valid
// only while that frame lives (for the duration of a handler call). Envelope owns its fields and
// is for tools and tests that keep messages around.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace brook {

inline constexpr std::uint32_t kWireVersion = 1;
inline constexpr std::size_t kEnvelopeFields = 11;
inline constexpr std::size_t kTraceIdSize = 16;
inline constexpr std::size_t kSpanIdSize = 8;
// Field 9 (`trace`) is the trace id alone (16 bytes: not sampled, no parent) or the trace
// context: trace id, parent span id, trace flags (25 bytes), as in a W3C traceparent.
inline constexpr std::size_t kTraceContextSize = kTraceIdSize + kSpanIdSize + 1;
inline constexpr std::uint8_t kTraceSampled = 0x01;  // trace flags bit 0 (W3C "sampled")

using TraceId = std::array<std::byte, kTraceIdSize>;
using SpanId = std::array<std::byte, kSpanIdSize>;

// Identifies a message: the producing instance (opaque string, unique per process incarnation)
// and that producer's sequence number on the channel, starting at 1.
struct MessageId {
  std::string_view producer;
  std::uint64_t seq = 0;
};

using Header = std::pair<std::string_view, std::string_view>;

// Non-owning view of a decoded envelope. Cheap to copy; points into the frame it was decoded from.
struct EnvelopeView {
  std::uint32_t version = kWireVersion;
  MessageId id;
  std::string_view channel;
  std::string_view type;
  bool has_key = false;
  std::string_view key;
  std::int64_t created_ns = 0;
  std::uint32_t attempt = 1;
  TraceId trace{};
  SpanId parent_span{};          // the span that sent it; zero in the 16-byte form
  std::uint8_t trace_flags = 0;  // kTraceSampled; zero in the 16-byte form
  bool sampled() const noexcept { return (trace_flags & kTraceSampled) != 0; }
  // Raw msgpack map of string headers, validated at decode time; iterate with for_each_header().
  std::span<const std::byte> headers_raw;
  std::uint32_t header_count = 0;
  std::span<const std::byte> payload;  // msgpack bytes of the user's value
  // The whole frame as received, so tools (brook record) keep what was on the wire, fields this
  // version does not decode included.
  std::span<const std::byte> frame;

  // Calls fn(name, value) for each header, in wire order.
  template <class F>
  void for_each_header(F&& fn) const;
  // First header with this name, or an empty view if absent.
  std::string_view header(std::string_view name) const;
};

// Owning envelope, for tools and tests. `view()` is valid while this object is unchanged.
struct Envelope {
  std::string producer;
  std::uint64_t seq = 0;
  std::string channel;
  std::string type;
  bool has_key = false;
  std::string key;
  std::int64_t created_ns = 0;
  std::uint32_t attempt = 1;
  TraceId trace{};
  SpanId parent_span{};
  std::uint8_t trace_flags = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::byte> payload;

  static Envelope from_view(const EnvelopeView& v);
};

namespace detail {
// Walks a validated header map; defined in envelope_codec.cpp.
void walk_headers(std::span<const std::byte> raw, std::uint32_t count,
                  void (*cb)(void*, std::string_view, std::string_view), void* ctx);
}  // namespace detail

template <class F>
void EnvelopeView::for_each_header(F&& fn) const {
  detail::walk_headers(
      headers_raw, header_count,
      [](void* ctx, std::string_view k, std::string_view v) {
        (*static_cast<std::remove_reference_t<F>*>(ctx))(k, v);
      },
      &fn);
}

std::string to_hex(const TraceId& t);
std::string to_hex(const SpanId& s);

}  // namespace brook
