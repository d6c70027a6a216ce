// Directory endpoints as brook accepts them, for the topology and the tools' --directory.
#pragma once

#include <string_view>

namespace brook::detail {

inline constexpr std::string_view kEndpointHint =
    "use tcp://host:port (port 1-65535) or ipc://path";

// tcp://host:port with a port of 1-65535, or ipc://path.
bool valid_endpoint(std::string_view ep);

}  // namespace brook::detail
