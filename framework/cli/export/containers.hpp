// What the Kubernetes and compose generators share: the programs' names inside the image, the
// command lines, and the health checks read from the health file (BROOK_HEALTH_FILE).
#pragma once

#include <string>
#include <vector>

#include "export/export.hpp"
#include "launch/node_command.hpp"

namespace brook::exporting {

// Where containers see the topology file and keep their state (the working directory).
inline constexpr const char* kTopologyPath = "/etc/brook/topology.yaml";
inline constexpr const char* kStateDir = "/var/lib/brook";
inline constexpr const char* kHealthPath = "/tmp/brook-health";

// The program a container runs for `node`: the file name of its exec (the image has every
// node program on its PATH).
std::string image_program(const NodeSpec& node);

// The node's command line without `--instance N` (containers compute it), its own args last.
std::vector<std::string> args_without_instance(const NodeSpec& node,
                                               const launch::NodeCommandOptions& o);

// Shell tests of the health file: the process wrote it within `fresh_s` seconds, and (ready)
// said it is ready.
std::string health_fresh_check(int fresh_s);
std::string health_ready_check(int fresh_s);
// How long a silent loop is tolerated: at least 30 s, at least 10 heartbeats (as WatchdogSec).
int liveness_seconds(const Topology& t);

// "port=channel,..." of a node's inputs or outputs.
std::string port_list(const std::vector<PortSpec>& ports);

}  // namespace brook::exporting
