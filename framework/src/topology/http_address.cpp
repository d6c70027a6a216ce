#include "topology/http_address.hpp"

#include <algorithm>
#include <charconv>

namespace brook::detail {

namespace {

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

}  // namespace

std::optional<HttpAddress> parse_http_address(std::string_view text, std::string& why) {
  HttpAddress a;
  std::string_view port = text;
  if (text.empty()) {
    why = "empty";
    return std::nullopt;
  }
  if (text.starts_with("http://") || text.find('/') != std::string_view::npos) {
    why = "'" + std::string(text) + "' is a URL; expected an address and port";
    return std::nullopt;
  }
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      why = "'" + std::string(text) + "': expected [IPV6]:PORT";
      return std::nullopt;
    }
    a.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    if (a.host.empty() || !std::all_of(a.host.begin(), a.host.end(), [](char c) {
          return c == ':' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                 (c >= 'A' && c <= 'F');
        })) {
      why = "'" + a.host + "' is not an IPv6 address";
      return std::nullopt;
    }
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    a.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (a.host.find(':') != std::string::npos) {
      why = "'" + std::string(text) + "': write an IPv6 address in brackets, [::1]:9464";
      return std::nullopt;
    }
    if (a.host.empty() || a.host.size() > 253 ||
        !std::all_of(a.host.begin(), a.host.end(), host_char)) {
      why = "'" + a.host + "' is not a host name or address";
      return std::nullopt;
    }
  } else {
    a.host = "127.0.0.1";  // loopback unless asked otherwise: metrics are not for everyone
  }
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || value > 65535) {
    why = "port '" + std::string(port) + "' is not a number from 0 to 65535";
    return std::nullopt;
  }
  a.port = static_cast<std::uint16_t>(value);
  return a;
}

std::string format_http_address(const HttpAddress& a) {
  const bool v6 = a.host.find(':') != std::string::npos;
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

}  // namespace brook::detail
