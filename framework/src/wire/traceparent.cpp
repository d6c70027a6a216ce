#include <brook/trace_context.hpp>

namespace brook {

namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // W3C: uppercase is invalid
}

template <std::size_t N>
bool all_zero(const std::array<std::byte, N>& a) noexcept {
  return a == std::array<std::byte, N>{};
}

}  // namespace

bool parse_hex(std::string_view hex, std::byte* out, std::size_t size) noexcept {
  if (hex.size() != 2 * size) return false;
  for (std::size_t i = 0; i < size; ++i) {
    const int hi = hex_digit(hex[2 * i]);
    const int lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::byte>(hi * 16 + lo);
  }
  return true;
}

std::string format_traceparent(const TraceContext& c) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "00-" + to_hex(c.trace) + "-" + to_hex(c.parent) + "-";
  s.push_back(kDigits[c.flags >> 4]);
  s.push_back(kDigits[c.flags & 0xf]);
  return s;
}

std::optional<TraceContext> parse_traceparent(std::string_view text) noexcept {
  // version(2) - trace(32) - parent(16) - flags(2)
  if (text.size() < 55 || text[2] != '-' || text[35] != '-' || text[52] != '-') return {};
  std::byte version{};
  if (!parse_hex(text.substr(0, 2), &version, 1) || version == std::byte{0xff}) return {};
  if (version == std::byte{0} ? text.size() != 55 : (text.size() > 55 && text[55] != '-')) {
    return {};
  }
  TraceContext c;
  std::byte flags{};
  if (!parse_hex(text.substr(3, 32), c.trace.data(), kTraceIdSize) ||
      !parse_hex(text.substr(36, 16), c.parent.data(), kSpanIdSize) ||
      !parse_hex(text.substr(53, 2), &flags, 1)) {
    return {};
  }
  if (all_zero(c.trace) || all_zero(c.parent)) return {};
  c.flags = static_cast<std::uint8_t>(flags);
  return c;
}

}  // namespace brook
