// `directory.http` and `brook-directory --http`: the address the directory's HTTP listener binds
// (docs/monitoring.md). Plain parsing, shared by the topology decoder and the directory's flag.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace brook::detail {

struct HttpAddress {
  std::string host;        // an IPv4 address, a host name, or an IPv6 address without brackets
  std::uint16_t port = 0;  // 0: an ephemeral port
};

// Accepts HOST:PORT, [IPV6]:PORT and a bare PORT (loopback: 127.0.0.1). On failure returns
// nullopt and sets `why` to what is wrong with `text`.
std::optional<HttpAddress> parse_http_address(std::string_view text, std::string& why);

// "127.0.0.1:9464", "[::1]:9464": the form parse_http_address reads back.
std::string format_http_address(const HttpAddress& a);

inline constexpr std::string_view kHttpAddressHint =
    "write ADDRESS:PORT, e.g. 127.0.0.1:9464 (port 0 picks a free one); 0.0.0.0:9464 serves every "
    "interface";

}  // namespace brook::detail
