// Directory endpoints as brook accepts them, for the topology and the tools' --directory.
#pragma once

#include <string_view>

namespace brook::detail {

inline constexpr std::string_view kEndpointHint =
    "use tcp://host:port (port 1-65535) or ipc://path";

// tcp://host:port with a port of 1-65535, or ipc://path.
bool valid_endpoint(std::string_view ep);

// The host of a tcp://host:port endpoint ("[::1]" for IPv6 as written); empty for ipc://.
std::string_view endpoint_host(std::string_view ep) noexcept;

}  // namespace brook::detail
