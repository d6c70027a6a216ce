// The JSON the directory's HTTP listener serves (docs/monitoring.md): /api/topology, the graph
// with its live rates that the dashboard draws, and /health. Plain logic over a MonitorSnapshot.
#pragma once

#include <string>

#include "monitor_snapshot.hpp"

namespace brook {

std::string render_topology_json(const MonitorSnapshot& s);
std::string render_health_json(const MonitorSnapshot& s);

}  // namespace brook
