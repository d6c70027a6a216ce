// The headers a reply carries on a request channel (docs/wire.md, "Request/reply").
#pragma once

#include <brook/envelope.hpp>
#include <charconv>
#include <cstdint>
#include <string_view>

namespace brook::detail {

// The request's seq in decimal: which request of the asking producer this answers.
inline constexpr std::string_view kReplyToHeader = "reply-to";
// Present (non-empty) when the request failed: why; the reply's payload is then nil.
inline constexpr std::string_view kReplyErrorHeader = "reply-error";

// The seq a reply answers; false when its reply-to header is missing or not a number.
inline bool parse_reply_to(const EnvelopeView& reply, std::uint64_t& seq) {
  const std::string_view v = reply.header(kReplyToHeader);
  if (v.empty()) return false;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seq);
  return ec == std::errc() && end == v.data() + v.size() && seq != 0;
}

}  // namespace brook::detail
